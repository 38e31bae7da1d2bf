// AF_PACKET on Node: af_packet.ts over koffi (sys_node.ts). Node-specific.
import { type AfPacketOptions, openAfPacket as openWith } from "./af_packet.ts";
import type { FrameArea, FramePort } from "./frame_io.ts";
import { nodeSys } from "./sys_node.ts";

export { FANOUT_CBPF, FANOUT_CPU, FANOUT_HASH, FANOUT_LB } from "./af_packet.ts";

/** Opens a packet socket on `ifname` whose batches live in `area`. */
export function openAfPacket(
  ifname: string,
  area: FrameArea,
  opts: AfPacketOptions = {},
): FramePort & { offloadsTurnedOff: string[] } {
  return openWith(nodeSys(), ifname, area, opts);
}
