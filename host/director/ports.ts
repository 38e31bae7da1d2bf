// Opening the director's engine and ports: the engine named in the plan, and
// per interface an AF_PACKET socket (optionally joined to a fanout group, for
// several workers; optionally with an RX ring over the engine's slots), an
// AF_XDP socket (io xdp: one data-plane thread) or a TAP. MAC and MTU come
// from /sys/class/net. Runtime-agnostic over Sys and a sysfs reader; shared by
// run.ts (Deno and Node) and worker_deno.ts.
import type { Engine, EngineConfig } from "../engine/engine.ts";
import { openAfPacket, ringPlan } from "../io/af_packet.ts";
import { openAfXdp, xdpPlan } from "../io/af_xdp.ts";
import { frameArea, type FramePort } from "../io/frame_io.ts";
import type { Sys } from "../io/sys.ts";
import { openTap } from "../io/tap.ts";
import type { DirectorPlan } from "./config.ts";
import type { DirectorPort } from "./director.ts";
import { parseMac } from "./inet.ts";
import { createPassthroughEngine } from "./passthrough_engine.ts";

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

/** Applies the plan's timeouts and sysctls to a fresh engine. */
export function tuneEngine(engine: Engine, plan: DirectorPlan): void {
  if (plan.timeouts) engine.setTimeouts(...plan.timeouts);
  for (const [k, v] of plan.sysctl) engine.setSysctl(k, v);
}

/** Reads /sys/class/net/<ifname>/<file>, trimmed. */
export type SysfsReader = (ifname: string, file: string) => string;

export interface OpenPortsOptions {
  /** Join AF_PACKET port i to fanout group `group + i` with this mode and program. */
  fanout?: { group: number; mode: number; program?: Uint8Array };
}

/** Opens every port of the plan; on failure closes the ones already open. */
export function openPorts(
  sys: Sys,
  sysfs: SysfsReader,
  plan: DirectorPlan,
  engine: Engine,
  log: (l: string) => void,
  o: OpenPortsOptions = {},
): DirectorPort[] {
  const area = frameArea(engine);
  const out: DirectorPort[] = [];
  const rings = plan.io === "ring" ? ringPlan(sys, area, plan.ports.length) : null;
  if (plan.io === "ring" && !rings) {
    throw new Error(`Cannot open the ports: ${area.batch} host slots are too few for rings`);
  }
  const xsks = plan.io === "xdp" ? xdpPlan(area, plan.ports.length) : null;
  if (plan.io === "xdp") {
    if (!xsks) {
      throw new Error(`Cannot open the ports: ${area.batch} host slots are too few for AF_XDP`);
    }
    // One socket per interface serves one receive queue: no kernel fanout to share it.
    if (o.fanout) {
      throw new Error("Cannot open the ports: io xdp runs one data-plane thread (workers 0 or 1)");
    }
  }
  try {
    plan.ports.forEach((p, i) => {
      let io: FramePort;
      if (p.backend === "tap") {
        io = openTap(sys, p.ifname, area);
      } else if (xsks) {
        // A configured MAC overrides the interface's for the socket's unicast filter too.
        const xsk = openAfXdp(sys, p.ifname, area, xsks[i], { mac: p.mac ?? undefined });
        log(
          `wvs director: ${p.ifname}: AF_XDP, ${xsk.mode.xdp} XDP, ` +
            `${xsk.mode.zeroCopy ? "zero-copy" : "copy"} mode`,
        );
        io = xsk;
      } else {
        const fanout = o.fanout && { ...o.fanout, group: (o.fanout.group + i) & 0xffff };
        const afp = openAfPacket(sys, p.ifname, area, {
          keepOffloads: p.keepOffloads,
          rcvbuf: plan.rcvbuf,
          fanout,
          rxRing: rings?.[i],
        });
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
    });
  } catch (e) {
    out.forEach((p) => p.io.close());
    throw e;
  }
  return out;
}
