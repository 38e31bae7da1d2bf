// The director daemon's life cycle, shared by Deno (main.ts) and Node
// (main_node.ts): read and validate the config, create the engine, open the
// ports, log the health line, run the loop until SIGTERM/SIGINT (or a
// duration), reload services on SIGHUP, then close the ports and log one
// `wvs director stats: {json}` line. Runtime-agnostic: files, sysfs, signals,
// the system calls and (on Deno) the worker pool come in a DirectorRuntime.
// Reload semantics: the new file is validated as a whole first; services and
// dests are then changed in place (a kept service keeps its connections);
// ports, gateways and engine sizes need a restart and are reported, not applied.
// Connection sync and failover (host/sync/) run with the one-thread loop:
// SIGUSR2 takes the VIPs over (not SIGUSR1: Deno starts its inspector on that).
import type { Sys } from "../io/sys.ts";
import { startSync, stopSync, type SyncManager } from "../sync/mod.ts";
import { waitReadable } from "../io/poll.ts";
import { type DirectorConfig, type DirectorPlan, planDirector } from "./config.ts";
import { Director, type DirectorSnapshot } from "./director.ts";
import { makeEngine, openPorts, type SysfsReader, tuneEngine } from "./ports.ts";
import type { WorkerIo } from "./worker_protocol.ts";

export type DirectorSignal = "SIGTERM" | "SIGINT" | "SIGHUP" | "SIGUSR2";

/** What the daemon needs from its runtime. */
export interface DirectorRuntime {
  sys: Sys;
  sysfs: SysfsReader;
  readTextFile(path: string): Promise<string>;
  readFile(path: string): Promise<Uint8Array>;
  env(name: string): string | undefined;
  /** Adds a signal handler; returns its remover. */
  onSignal(sig: DirectorSignal, fn: () => void): () => void;
  randomSeed(): number;
  log(line: string): void;
  /** Starts the data plane in workers (Deno); absent where workers are not supported. */
  startWorkers?: (plan: DirectorPlan, workers: number, io: WorkerIo) => Promise<Running>;
}

export interface RunOptions {
  configFile: string;
  engine?: string;
  io?: string;
  workers?: number;
  fanout?: "client" | "hash";
  busy?: boolean;
  /** Benchmarks: workers leave their sockets unread this long once ready (WorkerIo.holdMs). */
  holdMs?: number;
  /** Seconds; stop by itself after this long. */
  duration?: number;
  /** Seconds between `wvs director stats` lines. */
  statsEvery?: number;
}

/** The running data plane, one thread or several workers, behind one shape. */
export interface Running {
  health: string;
  ready(): Promise<void>;
  stats(): Promise<DirectorSnapshot>;
  reload(plan: DirectorPlan): Promise<string[]>;
  /** Stops the loop(s), closes the ports, returns the final statistics. */
  stop(): Promise<DirectorSnapshot | null>;
  /** Failover (host/sync/): take the VIPs over, or give them up. */
  takeover?(): void;
  release?(): void;
  sync?: SyncManager;
}

/** Reads and validates a director config file; the engine seed comes from the runtime. */
export async function readPlan(
  rt: DirectorRuntime,
  file: string,
  engine?: string,
  io?: string,
): Promise<DirectorPlan> {
  const raw = JSON.parse(await rt.readTextFile(file)) as DirectorConfig;
  if (engine) raw.engine = engine as DirectorConfig["engine"];
  if (io) raw.io = io as DirectorConfig["io"];
  const plan = planDirector(raw);
  plan.engineConfig.seed = rt.randomSeed();
  return plan;
}

/** What a reload cannot change (null: nothing), named for the log. */
export function restartNeeded(a: DirectorPlan, b: DirectorPlan): string | null {
  const portKey = (p: DirectorPlan) =>
    JSON.stringify(
      p.ports.map((x) => [x.ifname, x.backend, x.addrs.map((y) => [...y.addr, y.len])]),
    );
  if (portKey(a) !== portKey(b)) return "ports";
  const { seed: _a, ...ea } = a.engineConfig;
  const { seed: _b, ...eb } = b.engineConfig;
  if (a.engine !== b.engine || a.io !== b.io || JSON.stringify(ea) !== JSON.stringify(eb)) {
    return "engine sizes or receive method";
  }
  if (JSON.stringify(a.gateways) !== JSON.stringify(b.gateways)) return "gateways";
  return null;
}

/** One loop on the calling thread (every runtime). */
export async function startInProcess(rt: DirectorRuntime, plan: DirectorPlan): Promise<Running> {
  const engine = await makeEngine(plan.engine, plan.engineConfig);
  tuneEngine(engine, plan);
  const ports = openPorts(rt.sys, rt.sysfs, plan, engine, rt.log);
  const log = rt.log;
  const clock = () => (performance.timeOrigin + performance.now()) * 1000;
  let sync: SyncManager | undefined;
  try {
    if (plan.sync) {
      const key = plan.sync.keyFile ? await rt.readFile(plan.sync.keyFile) : undefined;
      const trace = rt.env("WVS_SYNC_TRACE") === "1" ? log : undefined;
      sync = await startSync(engine, plan.sync, { clock, log, key, trace });
    }
  } catch (e) {
    ports.forEach((p) => p.io.close());
    throw e;
  }
  const director = new Director({
    engine,
    ports,
    services: plan.services,
    gateways: plan.gateways,
    wait: (p, ms) => waitReadable(rt.sys, p, ms),
    roundLimit: plan.round,
    log,
    clock,
    sync,
    standby: plan.sync?.standby ?? false,
  });
  try {
    director.setup();
  } catch (e) {
    ports.forEach((p) => p.io.close());
    if (sync) await stopSync(sync);
    throw e;
  }
  const done = director.run();
  return {
    health: director.healthLine(),
    ready: async () => {
      while (!director.ready) await new Promise((r) => setTimeout(r, 50));
    },
    stats: () => Promise.resolve(director.snapshot()),
    reload: (p) => Promise.resolve(director.reconfigure(p.services)),
    async stop() {
      director.stop();
      await done;
      if (sync) await stopSync(sync);
      ports.forEach((p) => p.io.close());
      return director.snapshot();
    },
    takeover: () => director.takeover(),
    release: () => director.release(),
    sync,
  };
}

/** Runs the director until a stop signal or the duration; returns the exit code. */
export async function runDirector(rt: DirectorRuntime, o: RunOptions): Promise<number> {
  const log = rt.log;
  let plan = await readPlan(rt, o.configFile, o.engine, o.io);
  // One worker by default where workers exist: its blocking loop beats the event-loop one
  // (bench/RESULTS.md); sync and failover live on the main thread.
  const workers = o.workers ?? plan.workers ?? (rt.startWorkers && !plan.sync ? 1 : 0);
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
    throw new Error(`Cannot start: workers must be 0..64 (${workers})`);
  }
  if (workers > 0 && !rt.startWorkers) {
    throw new Error("Cannot start: this runtime runs the director on one thread (workers: 0)");
  }
  if (workers > 0 && plan.sync) {
    throw new Error("Cannot start: connection sync runs with the one-thread director (workers: 0)");
  }
  const running = workers > 0
    ? await rt.startWorkers!(plan, workers, {
      busy: o.busy,
      fanout: o.fanout ?? "client",
      holdMs: o.holdMs,
    })
    : await startInProcess(rt, plan);
  log(running.health);
  // (The one-thread Director logs its own ready line.)
  if (workers > 0) {
    running.ready().then(() =>
      log(`wvs director ready: every real server and gateway resolved in ${workers} workers`)
    );
  }
  let stopping: (() => void) | null = null;
  const stopped = new Promise<void>((r) => (stopping = r));
  const stop = () => stopping?.();
  let reloading = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      try {
        const next = await readPlan(rt, o.configFile, o.engine, o.io);
        const why = restartNeeded(plan, next);
        if (why) {
          log(`wvs director: reload: ${why} changed; that needs a restart (services applied)`);
        }
        const changes = await running.reload(next);
        plan = { ...plan, services: next.services };
        log(
          `wvs director: reloaded ${o.configFile}: ${
            changes.length ? changes.join("; ") : "no change"
          }`,
        );
      } catch (e) {
        log(`wvs director: reload failed, configuration unchanged: ${(e as Error).message}`);
      }
    });
  };
  const takeover = () => {
    if (!running.takeover) return log("wvs director: takeover needs the one-thread director");
    running.takeover();
    log("wvs director: took over the VIPs");
  };
  const removers = [
    rt.onSignal("SIGTERM", stop),
    rt.onSignal("SIGINT", stop),
    rt.onSignal("SIGHUP", reload),
    rt.onSignal("SIGUSR2", takeover),
  ];
  const syncLine = () =>
    running.sync && log(`wvs sync stats: ${JSON.stringify(running.sync.stats())}`);
  const timers: ReturnType<typeof setTimeout>[] = [];
  if (o.duration) timers.push(setTimeout(stop, o.duration * 1000));
  if (o.statsEvery) {
    timers.push(
      setInterval(async () => {
        log(`wvs director stats: ${JSON.stringify(await running.stats())}`);
        syncLine();
      }, o.statsEvery * 1000),
    );
  }
  await stopped;
  timers.forEach((t) => clearTimeout(t));
  removers.forEach((r) => r());
  await reloading;
  syncLine();
  const final = await running.stop();
  log(`wvs director stats: ${JSON.stringify(final)}`);
  log("wvs director stopped");
  return 0;
}
