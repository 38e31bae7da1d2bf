// The director daemon on real interfaces: `deno run -A host/director/main.ts --config wvs.json`.
// Deno-specific wiring: reads the config, creates the engine, opens an AF_PACKET
// or TAP port per interface (MAC and MTU from /sys/class/net), logs the health
// line, runs the loop until SIGTERM/SIGINT (or --duration), then closes the
// ports and logs one `wvs director stats: {json}` line. Needs root (or
// CAP_NET_RAW + CAP_NET_ADMIN). The kernel must not also route the traffic:
// keep forwarding off in the director's namespace and give the kernel none of
// the addresses the director owns (see host/director/lab.ts for a setup).
import { parseArgs } from "node:util";
import type { Engine, EngineConfig } from "../engine/engine.ts";
import { openAfPacket } from "../io/af_packet_deno.ts";
import { frameArea, type FramePort } from "../io/frame_io.ts";
import { waitReadable } from "../io/poll_deno.ts";
import { openTap } from "../io/tap_deno.ts";
import { type DirectorConfig, type DirectorPlan, planDirector } from "./config.ts";
import { Director, type DirectorPort } from "./director.ts";
import { parseMac } from "./inet.ts";
import { createPassthroughEngine } from "./passthrough_engine.ts";

const USAGE =
  `usage: deno run -A host/director/main.ts --config <file.json> [--engine wasm|ts|passthrough]
       [--duration <seconds>] [--stats-every <seconds>]`;

/** The engine named in the config. Imported on demand so one engine's build problem cannot stop the other. */
export async function makeEngine(
  kind: DirectorPlan["engine"],
  config: EngineConfig,
): Promise<Engine> {
  if (kind === "passthrough") return createPassthroughEngine(config);
  if (kind === "ts") {
    return (await import("../engine/reference/reference_engine.ts")).createReferenceEngine(config);
  }
  return await (await import("../engine/wasm/wasm_engine.ts")).createWasmEngine(config);
}

function sysfs(ifname: string, file: string): string {
  return Deno.readTextFileSync(`/sys/class/net/${ifname}/${file}`).trim();
}

/** Opens every port of the plan; on failure closes the ones already open. */
export function openPorts(
  plan: DirectorPlan,
  engine: Engine,
  log: (l: string) => void,
): DirectorPort[] {
  const area = frameArea(engine);
  const out: DirectorPort[] = [];
  try {
    for (const p of plan.ports) {
      let io: FramePort;
      if (p.backend === "tap") {
        io = openTap(p.ifname, area);
      } else {
        const afp = openAfPacket(p.ifname, area);
        if (afp.offloadsTurnedOff.length) {
          log(`wvs director: turned off ${afp.offloadsTurnedOff.join(", ")} on ${p.ifname}`);
        }
        io = afp;
      }
      out.push({
        io,
        mac: p.mac ?? parseMac(sysfs(io.ifname, "address")),
        mtu: p.mtu ?? Number(sysfs(io.ifname, "mtu")),
        addrs: p.addrs,
      });
    }
  } catch (e) {
    out.forEach((p) => p.io.close());
    throw e;
  }
  return out;
}

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

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      config: { type: "string", short: "c" },
      engine: { type: "string" },
      duration: { type: "string" },
      "stats-every": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !values.config) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const raw = JSON.parse(await Deno.readTextFile(values.config)) as DirectorConfig;
  if (values.engine) raw.engine = values.engine as DirectorConfig["engine"];
  const plan = planDirector(raw);
  plan.engineConfig.seed = crypto.getRandomValues(new Uint32Array(1))[0];
  const log = (l: string) => console.log(l);
  const engine = await makeEngine(plan.engine, plan.engineConfig);
  if (plan.timeouts) engine.setTimeouts(...plan.timeouts);
  for (const [k, v] of plan.sysctl) engine.setSysctl(k, v);
  const ports = openPorts(plan, engine, log);
  const director = new Director({
    engine,
    ports,
    services: plan.services,
    gateways: plan.gateways,
    wait: waitReadable,
    log,
  });
  try {
    director.setup();
  } catch (e) {
    ports.forEach((p) => p.io.close());
    throw e;
  }
  log(director.healthLine());
  warnIfKernelForwards(log);
  const stop = () => director.stop();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  const timers: ReturnType<typeof setTimeout>[] = [];
  if (values.duration) timers.push(setTimeout(stop, Number(values.duration) * 1000));
  if (values["stats-every"]) {
    timers.push(
      setInterval(
        () => log(`wvs director stats: ${JSON.stringify(director.snapshot())}`),
        Number(values["stats-every"]) * 1000,
      ),
    );
  }
  await director.run();
  timers.forEach((t) => clearTimeout(t));
  Deno.removeSignalListener("SIGTERM", stop);
  Deno.removeSignalListener("SIGINT", stop);
  ports.forEach((p) => p.io.close());
  log(`wvs director stats: ${JSON.stringify(director.snapshot())}`);
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
