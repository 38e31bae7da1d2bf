// `deno task start`: with no arguments, the embedded demo — a director on a
// simulated network inside this process. Clients open TCP connections to a
// VIP, the WASM engine schedules and rewrites every frame, simulated real
// servers answer, and a live table shows connections and rates per real
// server, as `ipvsadm -L -n` and `-L -n --rate` would, until Ctrl-C or --duration.
//
//   deno task start [--duration 10] [--engine wasm|ts] [--cps 2000]
//                   [--sched rr|wrr|wlc] [--weights 3,2,1]
import { taskArgs } from "./task_args.ts";
import { parseArgs } from "node:util";
import type { Engine } from "./engine/engine.ts";
import { createWasmEngine } from "./engine/wasm/wasm_engine.ts";
import { createReferenceEngine } from "./engine/reference/reference_engine.ts";
import { C_CONNS, C_DROP, C_RX, C_TX, SCHED_RR, SCHED_WLC, SCHED_WRR } from "./engine/abi.gen.ts";
import { configureSim, Simulation, VIP, VPORT } from "./sim/sim.ts";
import { Estimator } from "./ctl/est.ts";
import {
  destName,
  LIST_HEADER,
  listDestRow,
  RATE_HEADER,
  rateDestRow,
  rateServiceRow,
  serviceName,
} from "./ctl/format.ts";

const SCHEDS: Record<string, number> = { rr: SCHED_RR, wrr: SCHED_WRR, wlc: SCHED_WLC };

const { values } = parseArgs({
  args: taskArgs(Deno.args),
  options: {
    duration: { type: "string" },
    engine: { type: "string", default: "wasm" },
    cps: { type: "string", default: "2000" },
    sched: { type: "string", default: "wrr" },
    weights: { type: "string", default: "3,2,1" },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  console.log(
    "usage: deno task start [--duration S] [--engine wasm|ts] [--cps N] [--sched rr|wrr|wlc] [--weights 3,2,1]",
  );
  Deno.exit(0);
}
const sched = SCHEDS[values.sched!];
const weights = values.weights!.split(",").map(Number);
const cps = Number(values.cps);
if (sched === undefined || weights.some((w) => !(w >= 0 && w <= 65535)) || !(cps > 0)) {
  console.error("wvs: bad option: --sched must be rr, wrr or wlc; --weights 0..65535; --cps > 0");
  Deno.exit(1);
}

const config = {
  maxConns: 1 << 18,
  maxConns6: 1 << 10,
  maxServices: 16,
  maxDests: 64,
  batch: 256,
  seed: 0x5eed,
};
const engine: Engine = values.engine === "ts"
  ? createReferenceEngine(config)
  : await createWasmEngine(config);
const { svc, dests } = configureSim(engine, { cps, sched, weights, responseBytes: 1000 });
const sim = new Simulation(engine, { cps, sched, weights, responseBytes: 1000 });
const svcEst = new Estimator();
const destEst = dests.map(() => new Estimator());

const t0 = performance.now();
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const sample = () => {
  svcEst.sample(engine.svcStats(svc));
  dests.forEach((d, i) => destEst[i].sample(engine.destStats(d)));
};
sample();

function table(): string {
  const rs = (i: number) => Uint8Array.of(198, 18, 1, 1 + i);
  const lines = [
    `WVS demo: ${engine.kind} engine on a simulated network, ${
      ((performance.now() - t0) / 1000).toFixed(0)
    } s, ` +
    `${sim.completed} connections completed, ${engine.counters()[C_CONNS]} in the table`,
    LIST_HEADER,
    `${serviceName(6, VIP, VPORT, 0)} ${values.sched}`,
    ...dests.map((d, i) => {
      const k = engine.destCounts(d);
      return listDestRow(destName(rs(i), 8080), 0, weights[i], k.activeConns, k.inactConns);
    }),
    "",
    RATE_HEADER,
  ];
  const r = (x: ReturnType<Estimator["rates"]>) => [x.cps, x.inPps, x.outPps, x.inBps, x.outBps];
  lines.push(rateServiceRow(serviceName(6, VIP, VPORT, 0), r(svcEst.rates())));
  dests.forEach((_, i) => lines.push(rateDestRow(destName(rs(i), 8080), r(destEst[i].rates()))));
  return lines.join("\n");
}

const tty = Deno.stdout.isTerminal();
let stop = false;
Deno.addSignalListener("SIGINT", () => stop = true);
const deadline = values.duration ? t0 + Number(values.duration) * 1000 : Infinity;
let lastPrint = t0, lastEst = t0, lastExpire = t0;
while (!stop && performance.now() < deadline) {
  await new Promise((r) => setTimeout(r, 20));
  const now = performance.now();
  sim.tick(nowUs());
  if (now - lastExpire >= 1000) engine.expire(nowUs()), lastExpire = now;
  if (now - lastEst >= 2000) sample(), lastEst = now;
  if (now - lastPrint >= 1000) {
    lastPrint = now;
    if (tty) console.log("\x1b[2J\x1b[H" + table());
    else console.log(table() + "\n");
  }
}
const c = engine.counters();
console.log(
  `\nDone: ${c[C_RX]} frames in, ${c[C_TX]} out, ${
    c[C_DROP]
  } dropped; responses per real server: ` +
    sim.responsesByServer.map((n, i) => `198.18.1.${i + 1}=${n}`).join(" "),
);
Deno.exit(0);
