// The director daemon on real interfaces: `deno run -A host/director/main.ts --config wvs.json`.
// Deno-specific wiring: reads the config, creates the engine, opens an AF_PACKET
// or TAP port per interface (MAC and MTU from /sys/class/net), logs the health
// line, runs the loop until SIGTERM/SIGINT (or --duration), then closes the
// ports and logs one `wvs director stats: {json}` line. SIGHUP re-reads the
// config and applies its services (ports and sizes need a restart).
// With --workers N (N ≥ 1) the data plane runs in N Deno Workers, each with its
// own engine and sockets, the kernel spreading clients over them (workers.ts);
// without it, one loop on the main thread. Needs root (or CAP_NET_RAW +
// CAP_NET_ADMIN). The kernel must not also route the traffic: keep forwarding
// off in the director's namespace and give the kernel none of the addresses the
// director owns (see host/director/lab.ts for a setup).
import { parseArgs } from "node:util";
import { waitReadable } from "../io/poll_deno.ts";
import { type DirectorConfig, type DirectorPlan, planDirector } from "./config.ts";
import { Director, type DirectorSnapshot } from "./director.ts";
import { makeEngine, openPorts, tuneEngine } from "./ports_deno.ts";
import { WorkerPool } from "./workers.ts";
import { startSync, stopSync, type SyncManager } from "../sync/mod.ts";

export { makeEngine, openPorts } from "./ports_deno.ts";

const USAGE =
  `usage: deno run -A host/director/main.ts --config <file.json> [--engine wasm|ts|passthrough]
       [--io mmsg|ring] [--workers N] [--fanout client|hash] [--busy] [--duration <seconds>]
       [--stats-every <seconds>]`;

function warnIfKernelForwards(log: (l: string) => void): void {
  for (
    const f of ["/proc/sys/net/ipv4/conf/all/forwarding", "/proc/sys/net/ipv6/conf/all/forwarding"]
  ) {
    try {
      if (Deno.readTextFileSync(f).trim() !== "0") {
        log(
          `wvs director: warning: ${f} is on; the kernel will forward frames the director also handles`,
        );
      }
    } catch { /* not Linux, or no IPv6 */ }
  }
}

/** The running data plane, one thread or several workers, behind one shape. */
interface Running {
  health: string;
  ready(): Promise<void>;
  stats(): Promise<DirectorSnapshot>;
  reload(plan: DirectorPlan): Promise<string[]>;
  /** Resolves when the loop has ended (after stop). */
  stop(): Promise<DirectorSnapshot | null>;
  /** Failover (host/sync/): take the VIPs over, or give them up. */
  takeover?(): void;
  release?(): void;
  sync?: SyncManager;
}

async function readPlan(
  file: string,
  engine?: string,
  io?: string,
): Promise<DirectorPlan> {
  const raw = JSON.parse(await Deno.readTextFile(file)) as DirectorConfig;
  if (engine) raw.engine = engine as DirectorConfig["engine"];
  if (io) raw.io = io as DirectorConfig["io"];
  const plan = planDirector(raw);
  plan.engineConfig.seed = crypto.getRandomValues(new Uint32Array(1))[0];
  return plan;
}

/** What a reload cannot change: the ports and the engine's sizes. */
function restartNeeded(a: DirectorPlan, b: DirectorPlan): string | null {
  const portKey = (p: DirectorPlan) =>
    JSON.stringify(p.ports.map((x) => [x.ifname, x.backend, x.addrs.map((y) => [...y.addr, y.len])]));
  if (portKey(a) !== portKey(b)) return "ports";
  const { seed: _a, ...ea } = a.engineConfig;
  const { seed: _b, ...eb } = b.engineConfig;
  if (a.engine !== b.engine || JSON.stringify(ea) !== JSON.stringify(eb)) return "engine sizes";
  if (JSON.stringify(a.gateways) !== JSON.stringify(b.gateways)) return "gateways";
  return null;
}

async function runInProcess(plan: DirectorPlan, log: (l: string) => void): Promise<Running> {
  const engine = await makeEngine(plan.engine, plan.engineConfig);
  tuneEngine(engine, plan);
  const ports = openPorts(plan, engine, log);
  const clock = () => (performance.timeOrigin + performance.now()) * 1000;
  let sync: SyncManager | undefined;
  try {
    if (plan.sync) {
      const key = plan.sync.keyFile ? await Deno.readFile(plan.sync.keyFile) : undefined;
      const trace = Deno.env.get("WVS_SYNC_TRACE") === "1" ? log : undefined;
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
    wait: waitReadable,
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

async function runWorkers(
  plan: DirectorPlan,
  workers: number,
  io: { busy: boolean; fanout: "client" | "hash" },
  log: (l: string) => void,
): Promise<Running> {
  const pool = await WorkerPool.start(plan, { workers, io, log });
  pool.failed.catch((e) => {
    log(`wvs director: ${(e as Error).message}; stopping`);
    Deno.kill(Deno.pid, "SIGTERM");
  });
  return {
    health: pool.health,
    ready: () => pool.ready(),
    stats: () => pool.stats(),
    reload: (p) => pool.reload(p.services),
    stop: () => pool.stop(),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      config: { type: "string", short: "c" },
      engine: { type: "string" },
      io: { type: "string" },
      workers: { type: "string" },
      fanout: { type: "string", default: "client" },
      busy: { type: "boolean", default: false },
      duration: { type: "string" },
      "stats-every": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !values.config) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const configFile = values.config;
  let plan = await readPlan(configFile, values.engine, values.io);
  const workers = Number(values.workers ?? plan.workers ?? 0);
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
    throw new Error(`Cannot start: --workers must be 0..64 (${values.workers})`);
  }
  if (values.fanout !== "client" && values.fanout !== "hash") {
    throw new Error(`Cannot start: --fanout must be client or hash (${values.fanout})`);
  }
  const log = (l: string) => console.log(l);
  const running = workers > 0
    ? await runWorkers(plan, workers, { busy: values.busy!, fanout: values.fanout }, log)
    : await runInProcess(plan, log);
  log(running.health);
  warnIfKernelForwards(log);
  // (The one-thread Director logs its own ready line.)
  if (workers > 0) {
    running.ready().then(() =>
      log(`wvs director ready: every real server and gateway resolved in ${workers} workers`)
    );
  }

  let stopping: (() => void) | null = null;
  const stopped = new Promise<void>((r) => (stopping = r));
  const stop = () => stopping?.();
  const reload = async () => {
    try {
      const next = await readPlan(configFile, values.engine, values.io);
      const why = restartNeeded(plan, next);
      if (why) log(`wvs director: reload: ${why} changed; that needs a restart (services applied)`);
      const changes = await running.reload(next);
      plan = { ...plan, services: next.services };
      log(`wvs director: reloaded ${configFile}: ${changes.length ? changes.join("; ") : "no change"}`);
    } catch (e) {
      log(`wvs director: reload failed, configuration unchanged: ${(e as Error).message}`);
    }
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGHUP", reload);
  // Failover: SIGUSR2 takes the VIPs over (gratuitous ARP / unsolicited NA). Not SIGUSR1:
  // the runtime starts its inspector on that one.
  const takeover = () => {
    if (!running.takeover) return log("wvs director: takeover needs the one-thread director");
    running.takeover();
    log("wvs director: took over the VIPs");
  };
  Deno.addSignalListener("SIGUSR2", takeover);
  const syncLine = () =>
    running.sync && log(`wvs sync stats: ${JSON.stringify(running.sync.stats())}`);
  const timers: ReturnType<typeof setTimeout>[] = [];
  if (values.duration) timers.push(setTimeout(stop, Number(values.duration) * 1000));
  if (values["stats-every"]) {
    timers.push(
      setInterval(
        async () => {
          log(`wvs director stats: ${JSON.stringify(await running.stats())}`);
          syncLine();
        },
        Number(values["stats-every"]) * 1000,
      ),
    );
  }
  await stopped;
  timers.forEach((t) => clearTimeout(t));
  Deno.removeSignalListener("SIGTERM", stop);
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGHUP", reload);
  Deno.removeSignalListener("SIGUSR2", takeover);
  syncLine();
  const final = await running.stop();
  log(`wvs director stats: ${JSON.stringify(final)}`);
  log("wvs director stopped");
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`wvs director: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
