// AF_PACKET on Deno: af_packet.ts over Deno.dlopen (sys_deno.ts). Deno-specific.
import {
  type AfPacketOptions,
  ifIndex as ifIndexWith,
  openAfPacket as openWith,
  setFanoutProgram as setProgramWith,
} from "./af_packet.ts";
import type { FrameArea, FramePort } from "./frame_io.ts";
import { denoSys } from "./sys_deno.ts";

export { FANOUT_CBPF, FANOUT_CPU, FANOUT_HASH, FANOUT_LB } from "./af_packet.ts";
export type { AfPacketOptions } from "./af_packet.ts";

/** Opens a packet socket on `ifname` whose batches live in `area`. */
export function openAfPacket(
  ifname: string,
  area: FrameArea,
  opts: AfPacketOptions = {},
): FramePort & { offloadsTurnedOff: string[] } {
  return openWith(denoSys(), ifname, area, opts);
}

/** The interface index of `ifname` in the current network namespace. */
export function ifIndex(ifname: string): number {
  return ifIndexWith(denoSys(), ifname);
}

/** Sets the fanout group's steering program (PACKET_FANOUT_DATA) through socket `fd`. */
export function setFanoutProgram(fd: number, program: Uint8Array): void {
  setProgramWith(denoSys(), fd, program);
}
