// Idle wait for the director loop: poll(2) on every port's descriptor, run on a
// helper thread (`pollAsync`) so the event loop keeps serving timers and
// SIGTERM while nothing arrives. Runtime-agnostic over Sys. Only called after a
// receive round found nothing, so its ~20 µs cost (baselines.md §3d) is paid when idle.
import type { FramePort } from "./frame_io.ts";
import type { Sys } from "./sys.ts";

const POLLIN = 1;

/** Resolves when a port is readable or after `timeoutMs`. */
export async function waitReadable(
  sys: Sys,
  ports: readonly FramePort[],
  timeoutMs: number,
): Promise<void> {
  const fds = ports.filter((p) => p.fd >= 0);
  if (fds.length === 0) {
    await new Promise((r) => setTimeout(r, timeoutMs));
    return;
  }
  // Fresh per call: the helper thread owns the buffer until the promise settles.
  const pfd = new Uint8Array(8 * fds.length);
  const dv = new DataView(pfd.buffer);
  fds.forEach((p, i) => {
    dv.setInt32(i * 8, p.fd, true);
    dv.setInt16(i * 8 + 4, POLLIN, true);
  });
  await sys.pollAsync(pfd, fds.length, timeoutMs);
}
