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
// With `control` the director also embeds the daemon's control side
// (host/daemon/): wvsadm then adds and edits services and the configuration is
// saved on change; with the one-thread loop it also starts and stops sync daemons
// and takes over and releases; with Workers the control plane reaches their
// engines through control_workers.ts.
import type { Sys } from "../io/sys.ts";
import type { Controller, SyncControl } from "../ctl/commands.ts";
import { EOPNOTSUPP, EXIT_KERNEL, IpvsError } from "../ctl/errors.ts";
import type { DaemonOptions } from "../daemon/daemon.ts";
import type { Response as ApiResponse } from "../daemon/protocol.ts";
import { planSync, startSync, stopSync, type SyncManager } from "../sync/mod.ts";
import { waitReadable } from "../io/poll.ts";
import {
  type ControlConfig,
  type DirectorConfig,
  type DirectorPlan,
  planDirector,
} from "./config.ts";
import { type AdoptedService, adoptFromModel } from "./adopt.ts";
import { WorkerControl, type WorkerLink } from "./control_workers.ts";
import { Director, type DirectorSnapshot } from "./director.ts";
import { makeEngine, openPorts, type SysfsReader, tuneEngine } from "./ports.ts";
import type { WorkerIo } from "./worker_protocol.ts";
import type { Engine } from "../engine/engine.ts";

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
  /** Sets the nice value of the process's autogroup; returns what it did, for the log. */
  setPriority?: (nice: number) => string;
  /** Starts the control socket's daemon (Deno); absent where there is none. */
  startControl?: (o: DaemonOptions) => Promise<ControlHandle>;
}

/** The embedded control side (host/daemon/ Daemon has this shape). */
export interface ControlHandle {
  readonly controller: Controller;
  /** Handles one control-API request line as the socket does (parse, run, save). */
  handleLine(line: string): Promise<ApiResponse>;
  /** Saves what changed, closes the socket. */
  close(): Promise<void>;
}

export interface RunOptions {
  configFile: string;
  engine?: string;
  io?: string;
  workers?: number;
  fanout?: "client" | "hash";
  busy?: boolean;
  /** Over the file's `spinUs`. */
  spinUs?: number;
  /** Benchmarks: workers leave their sockets unread this long once ready (WorkerIo.holdMs). */
  holdMs?: number;
  /** Seconds; stop by itself after this long. */
  duration?: number;
  /** Seconds between `wvs director stats` lines. */
  statsEvery?: number;
  /** Control socket settings over the file's `control` (any of them turns it on). */
  control?: ControlConfig;
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
  /** Workers: how the control plane reaches them (the pool). */
  link?: WorkerLink;
  /** The control socket's side, when this data plane has one. */
  control?: ControlHandle;
}

/** Reads and validates a director config file; the engine seed comes from the runtime. */
export async function readPlan(
  rt: DirectorRuntime,
  file: string,
  over: Pick<RunOptions, "engine" | "io" | "control" | "spinUs"> = {},
): Promise<DirectorPlan> {
  const raw = JSON.parse(await rt.readTextFile(file)) as DirectorConfig;
  if (over.engine) raw.engine = over.engine as DirectorConfig["engine"];
  if (over.io) raw.io = over.io as DirectorConfig["io"];
  if (over.control) raw.control = { ...raw.control, ...over.control };
  // Checked with the file's value (planDirector): a bad one is named as the key it overrides.
  if (over.spinUs !== undefined) raw.spinUs = over.spinUs;
  const plan = planDirector(raw);
  plan.engineConfig.seed = rt.randomSeed();
  return plan;
}

/** What a reload cannot change (null: nothing), named for the log. */
export function restartNeeded(a: DirectorPlan, b: DirectorPlan): string | null {
  const portKey = (p: DirectorPlan) =>
    JSON.stringify(
      p.ports.map((x) => [
        x.ifname,
        x.backend,
        [...x.addrs, ...x.floating].map((y) => [...y.addr, y.len]),
      ]),
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
  if (plan.control && !rt.startControl) {
    ports.forEach((p) => p.io.close());
    throw new Error("Cannot start: this runtime has no control socket (remove `control`)");
  }
  let sync: SyncManager | undefined;
  try {
    // With a control socket a manager is there even without daemons: wvsadm may start them.
    const syncPlan = plan.sync ?? (plan.control ? planSync({ daemons: [] }) : null);
    if (syncPlan) {
      const key = syncPlan.keyFile ? await rt.readFile(syncPlan.keyFile) : undefined;
      const trace = rt.env("WVS_SYNC_TRACE") === "1" ? log : undefined;
      sync = await startSync(engine, syncPlan, { clock, log, key, trace });
    }
  } catch (e) {
    ports.forEach((p) => p.io.close());
    throw e;
  }
  const director = new Director({
    engine,
    ports,
    // The control plane applies the services itself (below), and the director adopts them.
    services: plan.control ? [] : plan.services,
    gateways: plan.gateways,
    wait: (p, ms) => waitReadable(rt.sys, p, ms),
    spinUs: plan.spinUs,
    relax: () => rt.sys.schedYield(),
    roundLimit: plan.round,
    log,
    clock,
    sync,
    standby: plan.sync?.standby ?? false,
    floating: plan.ports.map((p) => p.floating),
  });
  try {
    director.setup();
  } catch (e) {
    ports.forEach((p) => p.io.close());
    if (sync) await stopSync(sync);
    throw e;
  }
  let control: ControlHandle | null = null;
  if (plan.control) {
    try {
      control = await startControl(rt, plan, directorTarget(engine, director, sync!), clock);
    } catch (e) {
      await sync?.close();
      ports.forEach((p) => p.io.close());
      throw e;
    }
  }
  const done = director.run();
  const controlLine = plan.control ? `; control socket ${plan.control.socket}` : "";
  return {
    health: director.healthLine() + controlLine,
    ready: async () => {
      while (!director.ready) await new Promise((r) => setTimeout(r, 50));
    },
    stats: () => Promise.resolve(director.snapshot()),
    reload: (p) => Promise.resolve(director.reconfigure(p.services)),
    async stop() {
      // The configuration is saved before the loop ends, so nothing is half-applied.
      await control?.close();
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

/** What the control side drives: one-thread (the director itself) or Workers. */
interface ControlTarget {
  /** The Controller's engine. */
  engine: Engine;
  sync?: SyncControl;
  failover?: { takeover(): void; release(): void };
  ports?: DaemonOptions["ports"];
  beforeRequest?: DaemonOptions["beforeRequest"];
  afterRequest?: DaemonOptions["afterRequest"];
  /** Told the Controller once the daemon has it (restored, not yet seeded). */
  attach?(ctl: Controller): void;
  /**
   * The control plane's services, each time they change, and once more (`initial`) when
   * the restored or seeded configuration is in place.
   */
  adopt(services: AdoptedService[], initial: boolean): void | Promise<void>;
  /** The estimator sample (default: the daemon's own timer). */
  sampleRates?: (sample: () => void) => Promise<void>;
}

/**
 * Starts the embedded control side: restores the saved configuration or applies the
 * file's seed rules, and keeps the data plane's VIPs and neighbours in step with every
 * accepted change.
 */
async function startControl(
  rt: DirectorRuntime,
  plan: DirectorPlan,
  target: ControlTarget,
  clock: () => number,
): Promise<ControlHandle> {
  const c = plan.control!;
  const control = await rt.startControl!({
    engine: target.engine,
    socketPath: c.socket,
    stateDir: c.stateDir,
    metrics: c.metrics,
    clock,
    // The director's loop expires connections itself, between batches.
    expireEveryMs: 0,
    ...(target.sampleRates ? { estimateEveryMs: 0 } : {}),
    log: rt.log,
    sync: target.sync,
    failover: target.failover,
    ports: target.ports,
    beforeRequest: target.beforeRequest,
    afterRequest: target.afterRequest,
  });
  let estimator: ReturnType<typeof setInterval> | undefined;
  try {
    const ctl = control.controller;
    target.attach?.(ctl);
    ctl.onChange((generation) => {
      const services = adoptFromModel(ctl.model);
      // The operator's changes in the director's log, as the health line has the start.
      rt.log(
        `wvs director: configuration ${generation}: ${services.length} services, ` +
          `${services.reduce((n, s) => n + s.dests.length, 0)} real servers`,
      );
      void target.adopt(services, false);
    });
    const restored = ctl.generation > 0;
    if (restored && plan.services.length) {
      rt.log(
        `wvs director: the saved configuration in ${c.stateDir} wins over the file's services`,
      );
    }
    if (!restored) {
      if (plan.timeouts) ctl.setTimeouts(...plan.timeouts);
      if (c.seed) {
        const r = await control.handleLine(
          JSON.stringify({ op: "ipvsadm", argv: ["-R"], stdin: c.seed }),
        );
        const out = r.ok ? r.result as { stderr: string; status: number } : null;
        if (!out || out.status !== 0) {
          throw new Error(
            `Cannot apply the file's services: ${r.ok ? out!.stderr.trim() : r.error.message}`,
          );
        }
      }
    }
    await target.adopt(adoptFromModel(ctl.model), true);
    if (target.sampleRates) {
      // IPVS's estimator period; the sample waits for the Workers' figures.
      estimator = setInterval(() => void target.sampleRates!(() => ctl.sampleRates()), 2000);
    }
    return {
      controller: ctl,
      handleLine: (line) => control.handleLine(line),
      close: async () => {
        clearInterval(estimator);
        await control.close();
      },
    };
  } catch (e) {
    clearInterval(estimator);
    await control.close();
    throw e;
  }
}

/** The control side over one-thread director: it adopts every change at once. */
function directorTarget(engine: Engine, director: Director, sync: SyncManager): ControlTarget {
  return {
    engine,
    sync,
    failover: { takeover: () => director.takeover(), release: () => director.release() },
    ports: () =>
      director.ports.map((p) => {
        p.io.sampleKernelDrops?.();
        return p.io;
      }),
    adopt: (services) => director.adopt(services),
  };
}

/**
 * The control side over Workers (control_workers.ts): a shadow engine takes the control
 * calls, which each request hands to the Workers before it answers; listings and the
 * estimator read the Workers' figures. No sync daemons and no takeover here (one-thread).
 */
async function workersTarget(plan: DirectorPlan, link: WorkerLink): Promise<ControlTarget> {
  // The Workers' own sizes: service and dest indices follow maxServices/maxDests, and the
  // listing's size= follows the table; its connection slots stay empty (memory, not CPU).
  const shadow = await makeEngine(plan.engine, plan.engineConfig);
  tuneEngine(shadow, plan);
  const wc = new WorkerControl(shadow, link);
  let ctl: Controller | null = null;
  const refresh = (conns: boolean) => {
    const svcs = ctl?.model.services ?? [];
    return wc.refresh(
      svcs.map((s) => s.index),
      svcs.flatMap((s) => s.dests.map((d) => d.index)),
      conns,
    );
  };
  let latest: AdoptedService[] = [];
  let changed = false;
  const oneThreadOnly = (state: string) => {
    const why = `Cannot start the ${state} sync daemon: connection sync runs with the ` +
      "one-thread director (workers: 0)";
    return new IpvsError(why, { errno: EOPNOTSUPP, text: why, status: EXIT_KERNEL });
  };
  return {
    engine: wc.engine,
    ports: () => wc.ports,
    sync: {
      running: () => false,
      check: (c) => {
        throw oneThreadOnly(c.state);
      },
      start: (c) => {
        throw oneThreadOnly(c.state);
      },
      stop: () => Promise.resolve(),
      list: () => "",
    },
    attach: (c) => ctl = c,
    // `-c` and the connections op list every Worker's entries: fetched only for them.
    beforeRequest: (line) => refresh(/"(-c|--connection|-[a-zA-Z]*c[a-zA-Z]*)"|"conns"/.test(line)),
    afterRequest: () => {
      if (!wc.pending && !changed) return Promise.resolve();
      changed = false;
      return wc.flush(latest);
    },
    adopt(services, initial) {
      latest = services;
      changed = true;
      if (!initial) return;
      changed = false;
      return wc.flush(services);
    },
    sampleRates: async (sample) => {
      await refresh(false);
      sample();
    },
  };
}

/** Runs the director until a stop signal or the duration; returns the exit code. */
export async function runDirector(rt: DirectorRuntime, o: RunOptions): Promise<number> {
  const log = rt.log;
  const reread = () => readPlan(rt, o.configFile, o);
  let plan = await reread();
  if (plan.priority !== null) {
    log(
      `wvs director: ${
        rt.setPriority?.(plan.priority) ?? "priority: this runtime cannot set it (left as is)"
      }`,
    );
  }
  // One worker by default where workers exist: its blocking loop beats the event-loop one
  // (bench/RESULTS.md); sync and failover live on the main thread.
  const oneThread = plan.sync !== null;
  const workers = o.workers ?? plan.workers ?? (rt.startWorkers && !oneThread ? 1 : 0);
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
    throw new Error(`Cannot start: workers must be 0..64 (${workers})`);
  }
  if (workers > 0 && !rt.startWorkers) {
    throw new Error("Cannot start: this runtime runs the director on one thread (workers: 0)");
  }
  if (workers > 0 && plan.sync) {
    throw new Error("Cannot start: connection sync runs with the one-thread director (workers: 0)");
  }
  // With a control socket the Workers start empty: the control plane seeds them.
  const running = workers > 0
    ? await rt.startWorkers!(plan.control ? { ...plan, services: [] } : plan, workers, {
      busy: o.busy,
      spinUs: plan.spinUs,
      fanout: o.fanout ?? "client",
      holdMs: o.holdMs,
    })
    : await startInProcess(rt, plan);
  if (workers > 0 && plan.control) {
    const clock = () => (performance.timeOrigin + performance.now()) * 1000;
    try {
      running.control = await startControl(
        rt,
        plan,
        await workersTarget(plan, running.link!),
        clock,
      );
    } catch (e) {
      await running.stop();
      throw e;
    }
    running.health += `; control socket ${plan.control.socket}`;
  }
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
        const next = await reread();
        if (plan.control) {
          // wvsadm owns the services now; the file only seeded them.
          const why = restartNeeded(plan, next);
          return log(
            `wvs director: reload: services are managed through ${plan.control.socket} ` +
              `(wvsadm -R to load rules)${why ? `; ${why} changed, which needs a restart` : ""}`,
          );
        }
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
  // With Workers the control side is closed here (one-thread: in its stop), saved first.
  if (workers > 0) await running.control?.close();
  const final = await running.stop();
  log(`wvs director stats: ${JSON.stringify(final)}`);
  log("wvs director stopped");
  return 0;
}
