// The director daemon on real interfaces, on Deno:
//   deno run -A host/director/main.ts --config wvs.json [--workers 2] [--io ring]
// Deno-specific wiring of run.ts: files, sysfs, signals, Deno.dlopen and the
// worker pool (workers.ts). With --workers N (N ≥ 1) the data plane runs in N
// Deno Workers, each with its own engine and sockets, the kernel spreading
// clients over them; without it, one loop on the main thread. Needs root (or
// CAP_NET_RAW + CAP_NET_ADMIN). The kernel must not also route the traffic:
// keep forwarding off in the director's namespace, give the kernel none of the
// addresses the director owns, and best drop the ports' traffic at the netdev
// ingress hook (packet sockets see frames before it; see host/director/lab.ts).
import { taskArgs } from "../task_args.ts";
import { parseArgs } from "node:util";
import { denoSys } from "../io/sys_deno.ts";
import { type DirectorRuntime, runDirector } from "./run.ts";
import { WorkerPool } from "./workers.ts";
import { createDaemon } from "../daemon/daemon.ts";

export { makeEngine, openPorts } from "./ports.ts";

const USAGE =
  `usage: deno run -A host/director/main.ts --config <file.json> [--engine wasm|ts|passthrough]
       [--io mmsg|ring|xdp] [--workers N] [--fanout client|hash] [--busy] [--spin-us N] [--duration <seconds>]
       [--stats-every <seconds>] [--socket <path>] [--state-dir <dir>] [--metrics <host:port>]
  --socket, --state-dir, --metrics  the control socket for wvsadm (as the file's "control")`;

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

/** The Deno runtime of the director. */
export function denoDirectorRuntime(log = (l: string) => console.log(l)): DirectorRuntime {
  return {
    sys: denoSys(),
    sysfs: (ifname, file) => Deno.readTextFileSync(`/sys/class/net/${ifname}/${file}`).trim(),
    readTextFile: (p) => Deno.readTextFile(p),
    readFile: (p) => Deno.readFile(p),
    env: (name) => Deno.env.get(name),
    onSignal(sig, fn) {
      Deno.addSignalListener(sig, fn);
      return () => Deno.removeSignalListener(sig, fn);
    },
    randomSeed: () => crypto.getRandomValues(new Uint32Array(1))[0],
    log,
    startControl: (o) => createDaemon(o),
    setPriority(nice) {
      try {
        Deno.writeTextFileSync("/proc/self/autogroup", String(nice));
        return `priority: autogroup ${Deno.readTextFileSync("/proc/self/autogroup").trim()}`;
      } catch (e) {
        // No autogroup (kernel.sched_autogroup_enabled = 0, or not Linux), or no CAP_SYS_NICE.
        return `priority: cannot set the autogroup's nice value (${
          (e as Error).message
        }); left as is`;
      }
    },
    async startWorkers(plan, workers, io) {
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
        link: pool,
      };
    },
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: taskArgs(Deno.args),
    options: {
      config: { type: "string", short: "c" },
      engine: { type: "string" },
      io: { type: "string" },
      workers: { type: "string" },
      fanout: { type: "string", default: "client" },
      busy: { type: "boolean", default: false },
      "spin-us": { type: "string" },
      "hold-ms": { type: "string" },
      duration: { type: "string" },
      "stats-every": { type: "string" },
      socket: { type: "string" },
      "state-dir": { type: "string" },
      metrics: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !values.config) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (values.fanout !== "client" && values.fanout !== "hash") {
    throw new Error(`Cannot start: --fanout must be client or hash (${values.fanout})`);
  }
  const rt = denoDirectorRuntime();
  warnIfKernelForwards(rt.log);
  return await runDirector(rt, {
    configFile: values.config,
    engine: values.engine,
    io: values.io,
    workers: values.workers === undefined ? undefined : Number(values.workers),
    fanout: values.fanout,
    busy: values.busy,
    spinUs: values["spin-us"] === undefined ? undefined : Number(values["spin-us"]),
    holdMs: values["hold-ms"] ? Number(values["hold-ms"]) : undefined,
    duration: values.duration ? Number(values.duration) : undefined,
    statsEvery: values["stats-every"] ? Number(values["stats-every"]) : undefined,
    control: values.socket || values["state-dir"] || values.metrics
      ? {
        ...(values.socket ? { socket: values.socket } : {}),
        ...(values["state-dir"] ? { stateDir: values["state-dir"] } : {}),
        ...(values.metrics ? { metrics: values.metrics } : {}),
      }
      : undefined,
  });
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`wvs director: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
