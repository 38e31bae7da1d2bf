// Small-UDP packet rate through the director (baselines.md §2 method): the
// generator (gen.ts) pinned to CPU0 in `cl`, everything the director does on
// CPU1 (forwarder, NAPI kthread, ksoftirqd/1), delivered frames counted at the
// bridge ports toward the real servers over the window [2 s, 7 s] of an 8 s
// run. Two metrics: overload (generator flat out) → delivered pps; fixed rate
// → director CPU per packet. Deno-specific, root only.
import { CLK_TCK, foreignLoad, foreignTicks, ksoftirqd, ticksOf } from "./cpu.ts";
import type { Forwarder } from "./forwarders.ts";
import { type BenchNet, CLIENT, MAC, SINK_PORT, VIP } from "./topo.ts";

const GEN = new URL("./gen.ts", import.meta.url).pathname;
export const RUN_S = 8;
export const WINDOW: [number, number] = [2, 7];

export interface PpsResult {
  config: string;
  /** Offered rate (0 = overload). */
  rate: number;
  pps: number;
  /** Director CPU over the window, in CPUs (1.0 = one core busy). */
  cpu: number;
  /** Director CPU per delivered packet, ns. */
  nsPerPacket: number;
  /** The forwarder process's share of `cpu` (the rest: NAPI kthread, ksoftirqd). */
  cpuForwarder: number;
  foreign: number;
  genSent: number;
  notes: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the generator in `cl` (pinned to CPU0, nice 0) and returns its handle. */
export function startGen(
  b: BenchNet,
  o: {
    seconds: number;
    rate?: number;
    port?: number;
    dst?: string;
    count?: number;
    batch?: number;
  },
) {
  return b.net.spawn("cl", [
    "taskset",
    "-c",
    "0",
    Deno.execPath(),
    "run",
    "-A",
    GEN,
    "--if",
    "eth0",
    "--src-mac",
    MAC.cl,
    "--dst-mac",
    MAC.lbFront,
    "--src",
    CLIENT,
    "--dst",
    o.dst ?? VIP,
    "--dport",
    String(o.port ?? SINK_PORT),
    "--duration",
    String(o.seconds),
    "--rate",
    String(o.rate ?? 0),
    ...(o.count ? ["--count", String(o.count)] : []),
    ...(o.batch ? ["--batch", String(o.batch)] : []),
  ]);
}

/** One measured run of `fwd` at `rate` (0 = overload). */
export async function ppsRun(
  b: BenchNet,
  fwd: Forwarder,
  rate: number,
  napiPid: number | null,
): Promise<PpsResult> {
  const running = await fwd.start(b);
  const notes: string[] = [];
  try {
    const soft = ksoftirqd(1);
    const kpids = [napiPid, soft].filter((p): p is number => p !== null);
    const count = running.delivered ?? (() => b.delivered());
    await sleep(300);
    const gen = startGen(b, { seconds: RUN_S, rate });
    const genStart = performance.now();
    await sleep(WINDOW[0] * 1000);
    const sample = async () => {
      const t0 = performance.now();
      const n = await count();
      const t = (t0 + performance.now()) / 2;
      return {
        t,
        n,
        ticks: ticksOf([...running.pids, ...kpids]),
        fwd: ticksOf(running.pids),
        foreign: foreignTicks(),
      };
    };
    const a = await sample();
    await sleep(genStart + WINDOW[1] * 1000 - performance.now());
    const z = await sample();
    const status = await gen.child.status;
    await gen.out.closed();
    const genOut = JSON.parse(gen.out.lines.find((l) => l.startsWith("{")) ?? "{}");
    if (!status.success) notes.push(`generator exit ${status.code}: ${gen.err.lines.join(" ")}`);
    const secs = (z.t - a.t) / 1000;
    const pps = (z.n - a.n) / secs;
    const cpu = (z.ticks - a.ticks) / CLK_TCK / secs;
    return {
      config: fwd.name,
      rate,
      pps,
      cpu,
      nsPerPacket: pps > 0 ? (cpu / pps) * 1e9 : 0,
      cpuForwarder: (z.fwd - a.fwd) / CLK_TCK / secs,
      foreign: foreignLoad(a.foreign, z.foreign, secs),
      genSent: genOut.sent ?? 0,
      notes,
    };
  } finally {
    await running.stop();
  }
}
