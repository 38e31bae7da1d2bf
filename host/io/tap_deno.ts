// TAP on Deno: tap.ts over Deno.dlopen (sys_deno.ts). Deno-specific.
import type { FrameArea, FramePort } from "./frame_io.ts";
import { denoSys } from "./sys_deno.ts";
import { openTap as openWith } from "./tap.ts";

/**
 * Creates (or attaches to) TAP device `ifname` in the current network
 * namespace. The device goes away with the descriptor unless made persistent.
 */
export function openTap(ifname: string, area: FrameArea): FramePort {
  return openWith(denoSys(), ifname, area);
}
