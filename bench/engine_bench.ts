// Engine benchmarks (STYLE G21): each group runs one frame corpus through the
// pure-TS engine (baseline) and the WASM engine, side by side in one run, plus
// the cost of copying the corpus into the RX slots alone ("frame copy only"),
// so that engine-only rates are frames / (t − t_copy). One iteration = the
// whole corpus (1e5 frames) in batches of 256. `deno task bench`; figures go
// to bench/RESULTS.md with date and commit (bench/report.ts computes them).
import type { EngineConfig } from "../host/engine/engine.ts";
import { ENGINES, setupLab, VIP } from "../tests/fixtures/lab.ts";
import { tcpFlows } from "./corpus.ts";
import { BenchIo, Packed } from "./packed.ts";

const NOW = 1_700_000_000_000_000;
const BATCH = 256;
const N = 100_000;

function pick(flows: Uint8Array[], n: number, seed: number): Uint8Array[] {
  let a = seed >>> 0;
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out.push(flows[a % flows.length]);
  }
  return out;
}

const cfg = (maxConns: number): EngineConfig => ({
  maxConns,
  maxConns6: 1024,
  maxServices: 64,
  maxDests: 256,
  batch: BATCH,
  seed: 0x5eed,
});

async function prepare(kind: number, config: EngineConfig, warm: Packed[]): Promise<BenchIo> {
  const engine = await ENGINES[kind].create(config);
  setupLab(engine);
  const io = new BenchIo(engine);
  for (const w of warm) io.run(w, NOW);
  return io;
}

function group(
  name: string,
  ios: BenchIo[],
  data: Packed,
  now = () => NOW,
  before?: (io: BenchIo, t: number) => void,
) {
  ENGINES.forEach((m, k) => {
    Deno.bench({
      name: `${m.name} engine`,
      group: name,
      baseline: m.name === "ts",
      fn: (b) => {
        const t = now();
        before?.(ios[k], t);
        b.start();
        ios[k].run(data, t);
        b.end();
      },
    });
  });
  Deno.bench({ name: "frame copy only", group: name, fn: () => ios[0].copyOnly(data) });
}

/**
 * Expiry with 1e6 connections live in a 2^20-slot table, none due: the whole-table sweep the
 * director ran once a second, against the windows it runs since issue 5, a lap a second:
 * ceil(2^20 × P / 1000) slots every P ms (P = 10: a Worker's tick; 2: director.ts's period).
 */
function expireGroup(ios: BenchIo[], maxConns: number) {
  const group = `expire, 1,000,000 conns in ${maxConns.toLocaleString("en")} slots`;
  ENGINES.forEach((m, k) => {
    const e = ios[k].engine;
    Deno.bench({
      name: `expire ${m.name}, whole table`,
      group,
      baseline: m.name === "ts",
      fn: () => void e.expire(NOW),
    });
    for (const budget of [10, 2].map((ms) => Math.ceil(maxConns * ms / 1000))) {
      Deno.bench({
        name: `expire ${m.name}, ${budget} slots`,
        group,
        fn: () => void e.expire(NOW, budget),
      });
    }
  });
}

// Established NAT traffic: 1e3 flows (cache-resident) and 1e6 (memory-bound).
for (const flows of [1_000, 1_000_000]) {
  const syns = new Packed(tcpFlows(VIP.nat4, 80, flows, "S"));
  const acks = new Packed(tcpFlows(VIP.nat4, 80, flows, "A"));
  const data = new Packed(pick(tcpFlows(VIP.nat4, 80, flows, "PA", 18), N, 7));
  const config = cfg(flows <= 1000 ? 4096 : 1 << 20);
  const ios = await Promise.all(ENGINES.map((_, k) => prepare(k, config, [syns, acks])));
  group(`NAT established, ${flows.toLocaleString("en")} conns`, ios, data);
  if (flows === 1_000_000) expireGroup(ios, config.maxConns);
}

// New connections: 1e5 SYNs of distinct flows; the table is emptied between iterations.
{
  const syns = new Packed(tcpFlows(VIP.nat4, 80, N, "S"));
  const ios = await Promise.all(ENGINES.map((_, k) => prepare(k, cfg(1 << 18), [])));
  let t = NOW;
  group(
    "new connections, NAT SYN",
    ios,
    syns,
    () => (t += 1e9),
    (io, now) => io.engine.expire(now),
  );
}

// DR and TUN, established, 1e3 flows.
for (const [label, vip] of [["DR", VIP.dr4], ["TUN", VIP.tun4]] as const) {
  const syns = new Packed(tcpFlows(vip, 80, 1000, "S"));
  const acks = new Packed(tcpFlows(vip, 80, 1000, "A"));
  const data = new Packed(pick(tcpFlows(vip, 80, 1000, "PA", 18), N, 9));
  const ios = await Promise.all(ENGINES.map((_, k) => prepare(k, cfg(4096), [syns, acks])));
  group(`${label} established, 1,000 conns`, ios, data);
}
