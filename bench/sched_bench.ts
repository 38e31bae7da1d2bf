// Scheduler benchmarks: scheduling decisions per second for every scheduler with 10, 100
// and 1000 real servers, in both engines (Engine.schedProbe runs the scheduler `n` times on
// synthetic new-connection keys inside the engine, so the figure is the decision alone,
// not the packet path). Every service is first loaded through the real pipeline with two
// SYNs per real server, so the counting schedulers (nq, ovf, lblc...) see busy servers and
// walk their lists as they would in production. Weights 1..10; sh, mh, lblc(r) and dh keys
// vary per decision.
//   deno bench -A bench/sched_bench.ts         Deno.bench groups (reference = baseline)
//   deno run -A bench/sched_bench.ts [ms]      a Markdown table for bench/RESULTS.md
//   deno run -A bench/sched_bench.ts [ms] --walk   the same without scheduler indexes
import type { Engine } from "../host/engine/engine.ts";
import * as abi from "../host/engine/abi.gen.ts";
import { FrameIo } from "../host/engine/frames.ts";
import { withSchedTables } from "../host/ctl/tables.ts";
import { ENGINES } from "../tests/fixtures/lab.ts";
import { ipBytes } from "../tests/fixtures/packet_builder.ts";
import { clientFrame, rsAddr, setupNet, T0 } from "../tests/fixtures/sched_lab.ts";

export const SCHEDS: [string, number][] = [
  ["rr", abi.SCHED_RR],
  ["wrr", abi.SCHED_WRR],
  ["lc", abi.SCHED_LC],
  ["wlc", abi.SCHED_WLC],
  ["sed", abi.SCHED_SED],
  ["nq", abi.SCHED_NQ],
  ["fo", abi.SCHED_FO],
  ["ovf", abi.SCHED_OVF],
  ["lblc", abi.SCHED_LBLC],
  ["lblcr", abi.SCHED_LBLCR],
  ["dh", abi.SCHED_DH],
  ["sh", abi.SCHED_SH],
  ["mh", abi.SCHED_MH],
  ["twos", abi.SCHED_TWOS],
];
export const SIZES = [10, 100, 1000];

/** An engine with one service per (scheduler, size), loaded; service index by key. */
export async function prepare(
  kind: number,
  schedIndexMin?: number,
): Promise<{ e: Engine; svc: Map<string, number> }> {
  const e = withSchedTables(
    await ENGINES[kind].create({
      maxConns: 1 << 16,
      maxConns6: 16,
      maxServices: 64,
      maxDests: 16384,
      batch: 256,
      seed: 7,
      schedTables: 64,
      schedIndexMin,
    }),
  );
  setupNet(e, 1000);
  const io = new FrameIo(e);
  const svc = new Map<string, number>();
  let vip = 0;
  for (const [name, sched] of SCHEDS) {
    for (const n of SIZES) {
      vip++;
      const addr = `198.18.${200 + (vip >> 8)}.${vip & 0xff}`;
      const s = e.addService({
        af: 2,
        protocol: 6,
        addr: ipBytes(addr),
        port: 80,
        fwmark: 0,
        sched,
        flags: 0,
        timeout: 0,
        netmask: 0xffffffff,
      });
      if (s < 0) throw new Error(`Cannot add ${name}/${n}: ${s}`);
      for (let i = n - 1; i >= 0; i--) {
        const r = e.addDest(s, {
          af: 2,
          addr: ipBytes(rsAddr(2, i)),
          port: 80,
          fwd: abi.IP_VS_CONN_F_DROUTE,
          weight: 1 + ((i * 7) % 10),
          uThreshold: 0,
          lThreshold: 0,
          tunType: 0,
          tunPort: 0,
          tunFlags: 0,
        });
        if (r < 0) throw new Error(`Cannot add a dest to ${name}/${n}: ${r}`);
      }
      // Two SYNs per real server through the pipeline: active connections everywhere.
      for (let k = 0; k < 2 * n; k += io.batch) {
        const m = Math.min(io.batch, 2 * n - k);
        for (let j = 0; j < m; j++) {
          const c = k + j;
          io.put(
            j,
            clientFrame({ caddr: `198.18.${c >> 8}.${c & 0xff}`, cport: 1024 + vip, vaddr: addr }),
          );
        }
        e.processBatch(m, T0);
      }
      svc.set(`${name}/${n}`, s);
    }
  }
  return { e, svc };
}

/**
 * New connections per second through the whole packet path (SYN in, frame out) for one
 * service of `n` real servers: what an index saves in decisions it pays in leaf updates
 * on every connection event, and this shows the net. Best of 3 runs of `total` SYNs.
 */
export async function pipelineRate(
  kind: number,
  sched: number,
  n: number,
  indexMin: number,
  total = 200_000,
): Promise<number> {
  const e = withSchedTables(
    await ENGINES[kind].create({
      maxConns: total + 1024,
      maxConns6: 16,
      maxServices: 4,
      maxDests: 2048,
      batch: 256,
      seed: 7,
      schedIndexMin: indexMin,
    }),
  );
  setupNet(e, n);
  const addr = "198.18.200.1";
  const s = e.addService({
    af: 2,
    protocol: 6,
    addr: ipBytes(addr),
    port: 80,
    fwmark: 0,
    sched,
    flags: 0,
    timeout: 0,
    netmask: 0xffffffff,
  });
  for (let i = n - 1; i >= 0; i--) {
    e.addDest(s, {
      af: 2,
      addr: ipBytes(rsAddr(2, i)),
      port: 80,
      fwd: abi.IP_VS_CONN_F_DROUTE,
      weight: 1 + ((i * 7) % 10),
      uThreshold: 0,
      lThreshold: 0,
      tunType: 0,
      tunPort: 0,
      tunFlags: 0,
    });
  }
  const io = new FrameIo(e);
  const u8 = new Uint8Array(e.memory);
  const tmpl = clientFrame({ caddr: "198.18.0.1", cport: 1, vaddr: addr });
  let best = 0;
  let k = 0;
  for (let run = 0; run < 3; run++) {
    const runs = total / 3;
    const t0 = performance.now();
    for (let sent = 0; sent < runs; sent += io.batch) {
      for (let i = 0; i < io.batch; i++, k++) {
        io.put(i, tmpl);
        const f = io.frameOffset(i);
        // A distinct client port per SYN (the TCP checksum is not verified).
        const port = 1024 + (k % 60000);
        u8[f + 34] = port >> 8;
        u8[f + 35] = port & 0xff;
        u8[f + 29] = 1 + (Math.floor(k / 60000) % 250);
        ip4Checksum(u8, f + 14);
      }
      const tx = e.processBatch(io.batch, T0);
      if (tx !== io.batch) {
        throw new Error(`Cannot bench: ${io.batch - tx} SYNs were not forwarded`);
      }
    }
    best = Math.max(best, runs / ((performance.now() - t0) / 1000));
  }
  return best;
}

/** IPv4 header checksum over the 20 bytes at `ip`. */
function ip4Checksum(u8: Uint8Array, ip: number): void {
  u8[ip + 10] = 0;
  u8[ip + 11] = 0;
  let x = 0;
  for (let i = 0; i < 20; i += 2) x += (u8[ip + i] << 8) | u8[ip + i + 1];
  while (x > 0xffff) x = (x & 0xffff) + (x >>> 16);
  u8[ip + 10] = (~x >> 8) & 0xff;
  u8[ip + 11] = ~x & 0xff;
}

/** Decisions per call, scaled so a call takes ~100 µs-1 ms. */
function perCall(n: number): number {
  return n >= 1000 ? 500 : n >= 100 ? 2000 : 10000;
}

/** Best-of-5 decisions per second, each run at least `ms` long. */
function measure(e: Engine, svc: number, n: number, ms: number): number {
  const k = perCall(n);
  let best = 0;
  let seed = 1;
  for (let run = 0; run < 5; run++) {
    let calls = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < ms) {
      e.schedProbe(svc, k, seed++);
      calls++;
      t = performance.now();
    }
    best = Math.max(best, (calls * k) / ((t - t0) / 1000));
  }
  return best;
}

function fmt(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`;
}

if (import.meta.main) {
  const ms = Number(Deno.args[0] ?? 200);
  // --walk: no scheduler index (every decision walks the list).
  const walk = Deno.args.includes("--walk");
  const engines = await Promise.all(ENGINES.map((_, k) => prepare(k, walk ? 1e9 : undefined)));
  console.log(
    `| scheduler | ${SIZES.flatMap((n) => ENGINES.map((m) => `${m.name} ${n}`)).join(" | ")} |`,
  );
  console.log(`|---|${SIZES.flatMap(() => ENGINES.map(() => "---:")).join("|")}|`);
  for (const [name] of SCHEDS) {
    const cells: string[] = [];
    for (const n of SIZES) {
      engines.forEach(({ e, svc }) => cells.push(fmt(measure(e, svc.get(`${name}/${n}`)!, n, ms))));
    }
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
  if (walk) Deno.exit(0);
  console.log("\nNew connections per second, whole packet path (wlc, twos; index on / off):\n");
  console.log(
    `| scheduler, real servers | ${
      ENGINES.flatMap((m) => [`${m.name} indexed`, `${m.name} list walk`]).join(" | ")
    } |`,
  );
  console.log(`|---|${ENGINES.flatMap(() => ["---:", "---:"]).join("|")}|`);
  for (const [name, sched] of [["wlc", abi.SCHED_WLC], ["twos", abi.SCHED_TWOS]] as const) {
    for (const n of SIZES) {
      const cells: string[] = [];
      for (let k = 0; k < ENGINES.length; k++) {
        cells.push(
          fmt(await pipelineRate(k, sched, n, 1)),
          fmt(await pipelineRate(k, sched, n, 1e9)),
        );
      }
      console.log(`| ${name}, ${n} | ${cells.join(" | ")} |`);
    }
  }
} else {
  const engines = await Promise.all(ENGINES.map((_, k) => prepare(k)));
  for (const [name] of SCHEDS) {
    for (const n of SIZES) {
      ENGINES.forEach((m, k) => {
        const { e, svc } = engines[k];
        const s = svc.get(`${name}/${n}`)!;
        const per = perCall(n);
        Deno.bench({
          name: `${m.name} engine, ${per} decisions`,
          group: `${name} with ${n} real servers`,
          baseline: m.name === "ts",
          fn: () => {
            e.schedProbe(s, per, 1);
          },
        });
      });
    }
  }
}
