// Worker scaling without the generator in the way: on a 2-CPU machine the
// generator needs a CPU of its own, so "two workers vs one" cannot be read from
// the overload test. Here the director starts with its workers holding off
// (`--hold-ms`: ready, sockets open, nothing read), the generator fills their
// socket queues (large SO_RCVBUF) and exits, and then the workers drain the
// backlog with both CPUs to themselves. Drain rate = frames delivered to the
// real servers / time from the first to the last delivery. NAPI has finished
// by then, so the rate is the workers' own work: receive call, engine,
// transmit and the downstream veth/bridge path they run in their syscalls.
// Deno-specific, root only.
import { CLK_TCK, foreignLoad, foreignTicks, ticksOf } from "./cpu.ts";
import type { Forwarder } from "./forwarders.ts";
import { startGen } from "./pps.ts";
import type { BenchNet } from "./topo.ts";

export const HOLD_MS = 5000;

export interface DrainResult {
  config: string;
  /** Frames the generator sent and the real servers received. */
  sent: number;
  delivered: number;
  pps: number;
  /** Forwarder CPUs while draining. */
  cpu: number;
  foreign: number;
  notes: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function drainRun(b: BenchNet, fwd: Forwarder, frames: number): Promise<DrainResult> {
  const running = await fwd.start(b);
  const tReady = performance.now();
  const notes: string[] = [];
  try {
    const f0 = foreignTicks();
    const start = await b.delivered();
    const gen = startGen(b, { seconds: 3, count: frames });
    await gen.child.status;
    await gen.out.closed();
    const sent = JSON.parse(gen.out.lines.find((l) => l.startsWith("{")) ?? "{}").sent ?? 0;
    const genDone = performance.now();
    if (genDone - tReady > HOLD_MS - 500) notes.push("INVALID: the generator outlasted the hold");
    let last = await b.delivered();
    let ticksFirst = 0, ticksLast = 0;
    if (last !== start) notes.push(`${last - start} frames left before the hold ended`);
    let first = NaN, lastChange = NaN, stable = 0;
    const deadline = tReady + HOLD_MS + 60_000;
    while (performance.now() < deadline) {
      await sleep(20);
      const t0 = performance.now();
      const n = await b.delivered();
      const t = (t0 + performance.now()) / 2;
      if (n !== last) {
        const ticks = ticksOf(running.pids);
        if (Number.isNaN(first)) {
          first = t;
          ticksFirst = ticks;
        }
        ticksLast = ticks;
        lastChange = t;
        last = n;
        stable = 0;
      } else if (!Number.isNaN(first) && ++stable * 20 > 600) break;
    }
    const secs = (lastChange - first) / 1000;
    const delivered = last - start;
    const cpu = secs > 0 ? (ticksLast - ticksFirst) / CLK_TCK / secs : 0;
    return {
      config: fwd.name,
      sent,
      delivered,
      pps: secs > 0 ? delivered / secs : 0,
      cpu,
      foreign: foreignLoad(f0, foreignTicks(), (performance.now() - tReady) / 1000),
      notes,
    };
  } finally {
    await running.stop();
  }
}
