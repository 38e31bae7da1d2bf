// TAP on Node: tap.ts over koffi (sys_node.ts). Node-specific.
import type { FrameArea, FramePort } from "./frame_io.ts";
import { nodeSys } from "./sys_node.ts";
import { openTap as openWith } from "./tap.ts";

/** Creates (or attaches to) TAP device `ifname` in the current network namespace. */
export function openTap(ifname: string, area: FrameArea): FramePort {
  return openWith(nodeSys(), ifname, area);
}
