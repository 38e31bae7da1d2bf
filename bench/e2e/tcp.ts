// TCP and latency through the director (baselines.md §3e method): wrk with
// `Connection: close` (new connections per second) and keep-alive (requests
// per second), iperf3 (one real server behind the VIP, since its control and
// data connections must meet), and a UDP round-trip probe under a background
// load. Client, director and real servers share the machine's two cores;
// nothing is pinned. Deno-specific, root only; every tool runs with a duration
// and a timeout.
import { foreignLoad, foreignTicks } from "./cpu.ts";
import type { Forwarder } from "./forwarders.ts";
import { startGen } from "./pps.ts";
import { type BenchNet, ECHO_PORT, IPERF_PORT, RS } from "./topo.ts";

export const TCP_S = 6;

export interface TcpResult {
  config: string;
  connPerS: number;
  reqPerS: number;
  gbits: number;
  /** wrk latency percentiles of the close test, µs. */
  closeP50: number;
  closeP99: number;
  errors: string;
  foreign: number;
  notes: string[];
}

export interface LatResult {
  config: string;
  load: number;
  p50: number;
  p99: number;
  lost: number;
  probes: number;
  foreign: number;
  notes: string[];
}

function wrkRate(out: string): number {
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  return m ? Number(m[1]) : 0;
}

/** A wrk latency figure ("1.23ms", "850.00us", "1.02s") in µs. */
function wrkUs(out: string, pct: string): number {
  const m = new RegExp(`\\s${pct}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === "us" ? 1 : m[2] === "ms" ? 1000 : 1e6);
}

function wrkErrors(out: string): string {
  const m = /Socket errors:[^\n]*/.exec(out);
  const non2xx = /Non-2xx[^\n]*/.exec(out);
  return [m?.[0], non2xx?.[0]].filter(Boolean).join("; ");
}

export async function tcpRun(b: BenchNet, fwd: Forwarder): Promise<TcpResult> {
  const running = await fwd.start(b);
  const notes: string[] = [];
  const f0 = foreignTicks();
  const t0 = performance.now();
  try {
    const url = `http://${running.target}/`;
    const wrk = (extra: string[]) =>
      b.net.exec("cl", ["wrk", "-t2", "-c64", `-d${TCP_S}s`, "--latency", ...extra, url], {
        timeoutMs: (TCP_S + 20) * 1000,
        check: false,
      });
    const close = await wrk(["-H", "Connection: close"]);
    await new Promise((r) => setTimeout(r, 500));
    const keep = await wrk([]);
    const ip = await b.net.exec(
      "cl",
      ["iperf3", "-c", running.target, "-p", String(IPERF_PORT), "-t", String(TCP_S), "-J"],
      { timeoutMs: (TCP_S + 20) * 1000, check: false },
    );
    let gbits = 0;
    try {
      gbits = JSON.parse(ip.stdout).end.sum_received.bits_per_second / 1e9;
    } catch {
      notes.push(`iperf3 failed: ${ip.stderr.trim() || ip.stdout.slice(0, 200)}`);
    }
    const errors = [wrkErrors(close.stdout), wrkErrors(keep.stdout)].filter(Boolean).join(" | ");
    if (fwd.name.startsWith("wvs") && running.log) {
      const stats = running.log().filter((l) => l.startsWith("wvs director stats"));
      if (stats.length) notes.push(stats.at(-1)!.slice(0, 400));
    }
    return {
      config: fwd.name,
      connPerS: wrkRate(close.stdout),
      reqPerS: wrkRate(keep.stdout),
      gbits,
      closeP50: wrkUs(close.stdout, "50"),
      closeP99: wrkUs(close.stdout, "99"),
      errors,
      foreign: foreignLoad(f0, foreignTicks(), (performance.now() - t0) / 1000),
      notes,
    };
  } finally {
    await running.stop();
  }
}

const PROBE = `
import socket, sys, time
host, port, n, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.05)
s.connect((host, port))
rtts, lost = [], 0
for i in range(n):
    msg = b"%d" % i
    t = time.perf_counter_ns()
    s.send(msg)
    try:
        while s.recv(64) != msg: pass
        rtts.append((time.perf_counter_ns() - t) / 1000)
    except socket.timeout:
        lost += 1
    time.sleep(gap)
rtts.sort()
q = lambda p: rtts[min(len(rtts) - 1, int(p * len(rtts)))] if rtts else -1
print("%f %f %d %d" % (q(0.5), q(0.99), lost, len(rtts)), flush=True)
`;

export const LAT_PROBES = 3000;
export const LAT_GEN_BATCH = 4;

/** UDP round trips to the echo service while the generator offers `load` pps to the sink port. */
export async function latencyRun(b: BenchNet, fwd: Forwarder, load: number): Promise<LatResult> {
  const running = await fwd.start(b);
  const notes: string[] = [];
  try {
    // Warm the path (neighbours, first packets) before the clock starts.
    await b.net.exec("cl", [
      "python3",
      "-c",
      PROBE,
      running.target,
      String(ECHO_PORT),
      "50",
      "0.001",
    ], {
      timeoutMs: 20_000,
    });
    const seconds = 8;
    const gen = startGen(b, {
      seconds,
      rate: load,
      dst: running.target === RS[0] ? RS[0] : undefined,
    });
    await new Promise((r) => setTimeout(r, 1000));
    const f0 = foreignTicks();
    const t0 = performance.now();
    const r = await b.net.exec(
      "cl",
      ["python3", "-c", PROBE, running.target, String(ECHO_PORT), String(LAT_PROBES), "0.001"],
      { timeoutMs: 60_000 },
    );
    const foreign = foreignLoad(f0, foreignTicks(), (performance.now() - t0) / 1000);
    const busy = (performance.now() - t0) / 1000;
    if (busy > seconds - 1) notes.push(`probe outlasted the load (${busy.toFixed(1)} s)`);
    await gen.child.status;
    const [p50, p99, lost, probes] = r.stdout.trim().split(" ").map(Number);
    return { config: fwd.name, load, p50, p99, lost, probes, foreign, notes };
  } finally {
    await running.stop();
    // With WVS_BENCH_V8=--trace-gc (forwarders.ts): the director's collections, counted.
    const gc = running.log?.().filter((l) => /Scavenge|Mark-Compact|Mark-sweep/.test(l)) ?? [];
    if (gc.length) notes.push(`gc ${gc.length}: ${gc.slice(-3).join(" | ")}`);
    // The worker's own round and tick durations (µs), from its final stats line.
    const line = running.log?.().find((l) => l.startsWith("wvs director stats: "));
    if (line) {
      const loop = JSON.parse(line.slice("wvs director stats: ".length)).loop;
      if (loop) notes.push(`loop ${JSON.stringify(loop)}`);
    }
  }
}
