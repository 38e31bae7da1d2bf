// A director worker (Deno Web Worker): its own engine (connection shard), its
// own AF_PACKET sockets joined to the interfaces' fanout groups, a Director
// over them, and a synchronous loop that blocks in poll(2) when idle. Started
// and driven by workers.ts (protocol in worker_protocol.ts). Deno-specific.
// Only worker 0 is primary (solicits neighbours, announces addresses); the
// steering program sends ARP and neighbour discovery to it.
/// <reference lib="deno.worker" />
import { readEngine, replayCalls } from "./control_workers.ts";
import { IP_VS_CONN_F_FWD_MASK, IP_VS_CONN_F_MASQ } from "../engine/abi.gen.ts";
import { FANOUT_CBPF, FANOUT_HASH, setFanoutProgram } from "../io/af_packet_deno.ts";
import { clientHashProgram } from "../io/fanout_bpf.ts";
import { denoSys } from "../io/sys_deno.ts";
import type { ServicePlan } from "./config.ts";
import { Director, type DirectorPort } from "./director.ts";
import { makeEngine, openPorts, tuneEngine } from "./ports.ts";
import {
  CTL_MAIL,
  CTL_STOP,
  type FromWorker,
  type ToWorker,
  type WorkerIo,
} from "./worker_protocol.ts";

/**
 * Timers (expiry, neighbours) and the mailbox are looked at this often under load, ms.
 * Short, because each tick expires a window sized to the time since the last one: 2 ms
 * keeps a window of a 1M-slot table near 12 µs (bench/RESULTS.md, "Incremental expiry").
 */
const TICK_MS = 2;
const POLLIN = 1;

let director: Director | undefined;
let ports: DirectorPort[] = [];
let ctl: Int32Array;
let index = 0;
let handled = 0;
let fanout = false;

function post(m: FromWorker): void {
  self.postMessage(m);
}

function natDests(services: readonly ServicePlan[]): Uint8Array[] {
  return services.flatMap((s) =>
    s.dests.filter((d) => (d.fwd & IP_VS_CONN_F_FWD_MASK) === IP_VS_CONN_F_MASQ).map((d) => d.addr)
  );
}

/** The steering program knows the NAT real servers: the group's program changes with them. */
function updateFanout(services: readonly ServicePlan[]): void {
  const prog = clientHashProgram(natDests(services));
  for (const p of ports) if (p.io.kind === "af_packet") setFanoutProgram(p.io.fd, prog);
}

/** Messages that arrived while the engine was being set up, handled once it is. */
let early: ToWorker[] | null = [];

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === "init") {
    try {
      const io = await start(m);
      const queued = early ?? [];
      early = null;
      queued.forEach(handle);
      // The loop runs synchronously between its rare awaits: start it on a fresh task, after this one.
      setTimeout(() => {
        loop(director!, io).catch((err) => post({ type: "error", index, message: String(err) }));
      }, 0);
    } catch (err) {
      post({ type: "error", index, message: (err as Error).message });
    }
  } else if (early) early.push(m);
  else handle(m);
};

function handle(m: ToWorker): void {
  try {
    const d = director!;
    if (m.type === "init") return;
    if (m.type === "neigh") d.learnExternal(m.addr, m.mac, m.port);
    else if (m.type === "stats") post({ type: "stats", id: m.id, index, snapshot: d.snapshot() });
    else if (m.type === "control") {
      // The control plane's calls, replayed (control_workers.ts), then its services adopted.
      try {
        const results = replayCalls(d.engine, m.calls);
        d.adopt(m.services);
        if (fanout && index === 0) updateFanout(m.services.map((s) => s.plan));
        post({ type: "controlled", id: m.id, index, results });
      } catch (err) {
        post({ type: "controlled", id: m.id, index, results: [], error: (err as Error).message });
      }
    } else if (m.type === "readings") {
      const readings = readEngine(d.engine, m.svcs, m.dests, m.conns, ports.map((p) => p.io));
      post({ type: "readings", id: m.id, index, readings });
    } else if (m.type === "reload") {
      try {
        const changes = d.reconfigure(m.services);
        if (fanout && index === 0) updateFanout(m.services);
        post({ type: "reloaded", index, changes });
      } catch (err) {
        post({ type: "reloaded", index, changes: [], error: (err as Error).message });
      }
    }
  } catch (err) {
    post({ type: "error", index, message: (err as Error).message });
  }
  handled++;
}

async function start(m: Extract<ToWorker, { type: "init" }>): Promise<WorkerIo> {
  index = m.index;
  ctl = new Int32Array(m.ctl);
  const plan = m.plan;
  const log = (line: string) => post({ type: "log", line });
  const engine = await makeEngine(plan.engine, plan.engineConfig);
  tuneEngine(engine, plan);
  fanout = m.fanoutGroup > 0;
  const hash = m.io.fanout === "hash";
  const sysfs = (ifname: string, file: string) =>
    Deno.readTextFileSync(`/sys/class/net/${ifname}/${file}`).trim();
  ports = openPorts(denoSys(), sysfs, plan, engine, index === 0 ? log : () => {}, {
    fanout: fanout
      ? {
        group: m.fanoutGroup,
        mode: hash ? FANOUT_HASH : FANOUT_CBPF,
        program: hash ? undefined : clientHashProgram(natDests(plan.services)),
      }
      : undefined,
  });
  director = new Director({
    engine,
    ports,
    services: plan.services,
    floating: plan.ports.map((p) => p.floating),
    gateways: plan.gateways,
    primary: index === 0,
    roundLimit: plan.round,
    spinUs: m.io.spinUs,
    // Worker 0's log is the director's log; the others' lines would repeat it.
    log: (line) => {
      if (index === 0 && !line.startsWith("wvs director ready")) log(line);
    },
    onLearn: (addr, mac, port) => post({ type: "neigh", index, addr, mac, port }),
  });
  director.setup();
  post({ type: "opened", index, health: director.healthLine() });
  return m.io;
}

/** Durations in a log2 histogram of microseconds: where the loop spends its time, for stats. */
class Histogram {
  #bins = new Float64Array(32);
  #max = 0;
  #n = 0;

  add(ms: number): void {
    const us = ms * 1000;
    this.#bins[Math.min(31, us < 1 ? 0 : Math.floor(Math.log2(us)) + 1)]++;
    if (us > this.#max) this.#max = us;
    this.#n++;
  }

  /** Upper bounds of the p50 and p99 bins, and the maximum, µs. */
  summary(): { n: number; p50: number; p99: number; max: number } {
    const at = (q: number) => {
      let seen = 0;
      for (let i = 0; i < 32; i++) {
        seen += this.#bins[i];
        if (seen >= q * this.#n) return 2 ** i;
      }
      return Infinity;
    };
    return { n: this.#n, p50: at(0.5), p99: at(0.99), max: Math.round(this.#max) };
  }
}

const rounds = new Histogram();
const ticks = new Histogram();

async function loop(d: Director, io: WorkerIo): Promise<void> {
  const sys = denoSys();
  const fds = ports.filter((p) => p.io.fd >= 0);
  const pfd = new Uint8Array(8 * fds.length);
  const pdv = new DataView(pfd.buffer);
  fds.forEach((p, i) => {
    pdv.setInt32(i * 8, p.io.fd, true);
    pdv.setInt16(i * 8 + 4, POLLIN, true);
  });
  const idleMs = io.idleMs ?? 20;
  let nextTick = 0;
  let readyPosted = false;
  let holdUntil = Infinity;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    if (readyPosted && performance.now() < holdUntil) {
      Atomics.wait(nap, 0, 0, 1);
      if (Atomics.load(ctl, CTL_STOP) !== 0) break;
      continue;
    }
    const t0 = performance.now();
    const got = d.pollOnce();
    const now = performance.now();
    if (got > 0) rounds.add(now - t0);
    // Spinning (Director.spinning): empty passes yield the CPU instead of sleeping, so the
    // next frame finds the loop awake (a VM's wake-up is tens of µs).
    const spinning = d.spinning(got, now);
    if (spinning) {
      sys.schedYield();
      if (now < nextTick && Atomics.load(ctl, CTL_MAIL + index) === handled) continue;
    }
    if (now >= nextTick || got === 0) {
      if (now >= nextTick) {
        d.tick();
        nextTick = performance.now() + TICK_MS;
        ticks.add(nextTick - TICK_MS - now);
      }
      if (!readyPosted && d.ready) {
        readyPosted = true;
        holdUntil = performance.now() + (io.holdMs ?? 0);
        post({ type: "ready", index });
      }
      if (Atomics.load(ctl, CTL_STOP) !== 0) break;
      if (Atomics.load(ctl, CTL_MAIL + index) !== handled) await drainMail();
      if (got === 0 && !io.busy && !spinning) sys.poll(pfd, fds.length, idleMs);
    }
  }
  ports.forEach((p) => p.io.close());
  post({
    type: "stopped",
    index,
    snapshot: { ...d.snapshot(), loop: { roundUs: rounds.summary(), tickUs: ticks.summary() } },
  });
  self.close();
}

/** Lets the event loop deliver the messages the main thread has posted. */
async function drainMail(): Promise<void> {
  const until = performance.now() + 50;
  while (Atomics.load(ctl, CTL_MAIL + index) !== handled && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 0));
  }
}
