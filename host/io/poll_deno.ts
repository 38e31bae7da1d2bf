// The director's idle wait on Deno: poll.ts over sys_deno.ts. Deno-specific.
import type { FramePort } from "./frame_io.ts";
import { waitReadable as waitWith } from "./poll.ts";
import { denoSys } from "./sys_deno.ts";

/** Resolves when a port is readable or after `timeoutMs`. */
export function waitReadable(ports: readonly FramePort[], timeoutMs: number): Promise<void> {
  return waitWith(denoSys(), ports, timeoutMs);
}
