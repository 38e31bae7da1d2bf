// Engine benchmarks (STYLE G21): each group runs one frame corpus through the
// pure-TS engine (baseline) and the WASM engine, side by side in one run.
// One iteration = the whole corpus, in batches, including the copy of each
// frame into its RX slot (what a NIC or AF_PACKET would have done) — the
// "frame copy only" group measures that floor on its own.
// `deno task bench`; figures go to bench/RESULTS.md with date and commit.
import type { Engine, EngineConfig } from "../host/engine/engine.ts";
import { FrameIo } from "../host/engine/frames.ts";
import { ENGINES, setupLab, VIP } from "../tests/fixtures/lab.ts";
import { tcpFlows } from "./corpus.ts";

const NOW = 1_700_000_000_000_000;
const BATCH = 256;

function pick(flows: Uint8Array[], n: number, seed: number): Uint8Array[] {
  let a = seed >>> 0;
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out.push(flows[a % flows.length]);
  }
  return out;
}

function runCorpus(io: FrameIo, frames: Uint8Array[], now: number): number {
  let tx = 0;
  for (let i = 0; i < frames.length; i += BATCH) {
    const n = Math.min(BATCH, frames.length - i);
    for (let k = 0; k < n; k++) io.put(k, frames[i + k]);
    tx += io.engine.processBatch(n, now);
  }
  return tx;
}

interface Prepared {
  io: FrameIo;
  engine: Engine;
}

async function prepare(kind: number, config: EngineConfig, warm: Uint8Array[][]): Promise<Prepared> {
  const engine = await ENGINES[kind].create(config);
  setupLab(engine);
  const io = new FrameIo(engine);
  for (const w of warm) runCorpus(io, w, NOW);
  return { io, engine };
}

const cfg = (maxConns: number): EngineConfig => ({
  maxConns,
  maxConns6: 1024,
  maxServices: 64,
  maxDests: 256,
  batch: BATCH,
  seed: 0x5eed,
});

// ---- Established NAT traffic ------------------------------------------------
for (const flows of [1_000, 1_000_000]) {
  const syns = tcpFlows(VIP.nat4, 80, flows, "S");
  const acks = tcpFlows(VIP.nat4, 80, flows, "A");
  const data = pick(tcpFlows(VIP.nat4, 80, flows, "PA", 18), 100_000, 7);
  const config = cfg(flows <= 1000 ? 4096 : 1 << 20);
  const engines = await Promise.all(ENGINES.map((_, k) => prepare(k, config, [syns, acks])));
  const group = `NAT established, ${flows.toLocaleString("en")} conns (1e5 frames)`;
  ENGINES.forEach((m, k) => {
    Deno.bench({
      name: `${m.name} engine`,
      group,
      baseline: m.name === "ts",
      fn: () => {
        runCorpus(engines[k].io, data, NOW);
      },
    });
  });
}

// ---- New connections: SYNs, expired between iterations ----------------------
{
  const syns = tcpFlows(VIP.nat4, 80, 100_000, "S");
  const engines = await Promise.all(ENGINES.map((_, k) => prepare(k, cfg(1 << 18), [])));
  let t = NOW;
  ENGINES.forEach((m, k) => {
    Deno.bench({
      name: `${m.name} engine`,
      group: "new connections, NAT SYN (1e5 frames)",
      baseline: m.name === "ts",
      fn: (b) => {
        t += 1_000_000_000; // everything from the last iteration has expired
        engines[k].engine.expire(t);
        b.start();
        runCorpus(engines[k].io, syns, t);
        b.end();
      },
    });
  });
}

// ---- DR and TUN, established ------------------------------------------------
for (const [label, vip] of [["DR", VIP.dr4], ["TUN", VIP.tun4]] as const) {
  const syns = tcpFlows(vip, 80, 1000, "S");
  const acks = tcpFlows(vip, 80, 1000, "A");
  const data = pick(tcpFlows(vip, 80, 1000, "PA", 18), 100_000, 9);
  const engines = await Promise.all(ENGINES.map((_, k) => prepare(k, cfg(4096), [syns, acks])));
  ENGINES.forEach((m, k) => {
    Deno.bench({
      name: `${m.name} engine`,
      group: `${label} established, 1,000 conns (1e5 frames)`,
      baseline: m.name === "ts",
      fn: () => {
        runCorpus(engines[k].io, data, NOW);
      },
    });
  });
}

// ---- The I/O floor: copying frames into slots, no engine work ----------------
{
  const data = pick(tcpFlows(VIP.nat4, 80, 1000, "PA", 18), 100_000, 7);
  const { io } = await prepare(0, cfg(4096), []);
  Deno.bench({
    name: "frame copy only",
    group: "I/O floor (1e5 frames)",
    baseline: true,
    fn: () => {
      for (let i = 0; i < data.length; i += BATCH) {
        const n = Math.min(BATCH, data.length - i);
        for (let k = 0; k < n; k++) io.put(k, data[i + k]);
      }
    },
  });
}
