// AF_XDP on Deno: af_xdp.ts over Deno.dlopen (sys_deno.ts). Deno-specific.
import { type AfXdpOptions, openAfXdp as openWith, type XskSlots } from "./af_xdp.ts";
import type { FrameArea } from "./frame_io.ts";
import { denoSys } from "./sys_deno.ts";

export { xdpPlan } from "./af_xdp.ts";
export type { AfXdpOptions, XdpMode, XskSlots, XskStats } from "./af_xdp.ts";

/** Opens an XDP socket on `ifname` (queue 0) over host slots `slots` of `area`. */
export function openAfXdp(
  ifname: string,
  area: FrameArea,
  slots: XskSlots,
  opts: AfXdpOptions = {},
): ReturnType<typeof openWith> {
  return openWith(denoSys(), ifname, area, slots, opts);
}
