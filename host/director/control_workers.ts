// The control plane over a director whose data plane runs in Workers (workers.ts). The
// Controller (host/ctl/) needs a synchronous engine; each Worker's engine lives in its own
// thread. So the Controller gets a shadow engine of the same kind and sizes on the main
// thread, wrapped so that:
// - every control call (services, dests, scheduler slots, timeouts, sysctls) runs on the
//   shadow at once and is recorded; `flush()` replays the record in every Worker, in order.
//   Engines are deterministic, so each Worker's engine gives the indices the shadow gave
//   (the Worker checks and reports a divergence as an error);
// - every read of traffic state (counters, service and dest statistics and connection
//   counts, the connection dump) answers from the Workers' figures, summed, as of the last
//   `refresh()`: the daemon refreshes before each request and before each estimator sample.
// Runtime-agnostic: the Workers are reached through a WorkerLink.
import {
  type ConnDump,
  type DestCounts,
  type Engine,
  type Stats,
  ZERO_STATS,
} from "../engine/engine.ts";
import type { FramePort, PortStats } from "../io/frame_io.ts";
import type { AdoptedService } from "./adopt.ts";
import { ENGINE_CALLS, type EngineCall, type EngineReadings } from "./worker_protocol.ts";

/** How the control plane reaches the Workers (the WorkerPool has this shape). */
export interface WorkerLink {
  /** Replays `calls` in every Worker, then has each adopt `services`; one result list per Worker. */
  control(calls: EngineCall[], services: AdoptedService[]): Promise<number[][]>;
  /** Each Worker's readings for these services and dests (and its connections if asked). */
  readings(svcs: number[], dests: number[], conns: boolean): Promise<EngineReadings[]>;
}

/** ENGINE_CALLS (worker_protocol.ts), for lookups by name. */
const CONTROL_CALLS = new Set<string>(ENGINE_CALLS);

function addStats(a: Stats, b: Stats): Stats {
  return {
    conns: a.conns + b.conns,
    inPkts: a.inPkts + b.inPkts,
    outPkts: a.outPkts + b.outPkts,
    inBytes: a.inBytes + b.inBytes,
    outBytes: a.outBytes + b.outBytes,
  };
}

/** The shadow engine with its record of control calls and the Workers' last readings. */
export class WorkerControl {
  /** Give this to the Controller: the shadow, with reads answered from the Workers. */
  readonly engine: Engine;
  #shadow: Engine;
  #link: WorkerLink;
  #calls: { call: EngineCall; result: number }[] = [];
  #counters: number[] = [];
  #svc = new Map<number, Stats>();
  #dest = new Map<number, Stats>();
  #counts = new Map<number, DestCounts>();
  #conns: ConnDump[] = [];
  #ports: { ifname: string; stats: PortStats }[] = [];

  constructor(shadow: Engine, link: WorkerLink) {
    this.#shadow = shadow;
    this.#link = link;
    const reads: Partial<Engine> = {
      counters: () => this.#counters.length ? [...this.#counters] : shadow.counters(),
      svcStats: (svc) => ({ ...(this.#svc.get(svc) ?? ZERO_STATS) }),
      destStats: (dest) => ({ ...(this.#dest.get(dest) ?? ZERO_STATS) }),
      destCounts: (dest) => {
        // Counts from the traffic; flags (the dest's configuration) from the shadow.
        const c = this.#counts.get(dest);
        const flags = shadow.destCounts(dest).flags;
        return c ? { ...c, flags } : { activeConns: 0, inactConns: 0, persistConns: 0, flags };
      },
      dumpConns: () => [...this.#conns],
    };
    this.engine = new Proxy(shadow, {
      get: (target, prop, receiver) => {
        if (typeof prop === "string" && prop in reads) return reads[prop as keyof Engine];
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== "function") return v;
        if (typeof prop === "string" && CONTROL_CALLS.has(prop)) {
          return (...args: unknown[]) => {
            // Copied now: a caller may reuse its arrays after the call.
            const call: EngineCall = [prop as EngineCall[0], structuredClone(args)];
            const result = v.apply(target, args);
            this.#calls.push({ call, result: typeof result === "number" ? result : 0 });
            return result;
          };
        }
        return v.bind(target);
      },
    });
  }

  /** The interfaces' counters, summed over the Workers, as of the last refresh. */
  get ports(): readonly { ifname: string; stats: PortStats }[] {
    return this.#ports;
  }

  /** Control calls made since the last flush. */
  get pending(): number {
    return this.#calls.length;
  }

  /**
   * Replays the recorded calls in every Worker and has them adopt `services`.
   *
   * @throws Error when a Worker's engine answered differently from the shadow
   */
  async flush(services: AdoptedService[]): Promise<void> {
    const batch = this.#calls.splice(0);
    const results = await this.#link.control(batch.map((c) => c.call), services);
    results.forEach((r, w) => {
      const at = r.findIndex((x, i) => x !== batch[i].result);
      if (at >= 0) {
        throw new Error(
          `Worker ${w} diverged from the control plane: ${batch[at].call[0]} returned ${
            r[at]
          }, the shadow engine ${batch[at].result}`,
        );
      }
    });
  }

  /** Fetches the Workers' readings of these services and dests (and connections if asked). */
  async refresh(svcs: number[], dests: number[], conns: boolean): Promise<void> {
    const all = await this.#link.readings(svcs, dests, conns);
    const counters: number[] = [];
    const svc = new Map<number, Stats>();
    const dest = new Map<number, Stats>();
    const counts = new Map<number, DestCounts>();
    for (const r of all) {
      r.counters.forEach((v, i) => counters[i] = (counters[i] ?? 0) + v);
      svcs.forEach((s, i) => svc.set(s, addStats(svc.get(s) ?? ZERO_STATS, r.svc[i])));
      dests.forEach((d, i) => {
        dest.set(d, addStats(dest.get(d) ?? ZERO_STATS, r.dest[i]));
        const c = counts.get(d);
        const n = r.destCounts[i];
        counts.set(d, {
          activeConns: (c?.activeConns ?? 0) + n.activeConns,
          inactConns: (c?.inactConns ?? 0) + n.inactConns,
          persistConns: (c?.persistConns ?? 0) + n.persistConns,
          flags: n.flags,
        });
      });
    }
    this.#ports = (all[0]?.ports ?? []).map((p, i) => {
      const stats = { ...p.stats };
      for (const r of all.slice(1)) {
        for (const k of Object.keys(stats) as (keyof PortStats)[]) stats[k] += r.ports[i].stats[k];
      }
      return { ifname: p.ifname, stats };
    });
    this.#counters = counters;
    this.#svc = svc;
    this.#dest = dest;
    this.#counts = counts;
    if (conns) this.#conns = all.flatMap((r) => r.conns ?? []);
  }
}

/**
 * A Worker's side: runs recorded control calls on its engine, returning each result.
 *
 * @param engine the Worker's engine
 * @param calls the calls, in the order the control plane made them
 * @returns the result of each call (0 for calls that return nothing)
 */
export function replayCalls(engine: Engine, calls: EngineCall[]): number[] {
  return calls.map(([method, args]) => {
    const fn = (engine as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
    const r = fn.apply(engine, args);
    return typeof r === "number" ? r : 0;
  });
}

/**
 * A Worker's readings for the control plane.
 *
 * @param engine the Worker's engine
 * @param svcs service indices
 * @param dests dest indices
 * @param conns include the connection dump
 * @param ports the Worker's interfaces
 * @returns counters, statistics and counts in the order asked, and the interfaces' counters
 */
export function readEngine(
  engine: Engine,
  svcs: number[],
  dests: number[],
  conns: boolean,
  ports: readonly FramePort[] = [],
): EngineReadings {
  return {
    ports: ports.map((p) => {
      p.sampleKernelDrops?.();
      return { ifname: p.ifname, stats: { ...p.stats } };
    }),
    counters: engine.counters(),
    svc: svcs.map((s) => engine.svcStats(s)),
    dest: dests.map((d) => engine.destStats(d)),
    destCounts: dests.map((d) => engine.destCounts(d)),
    ...(conns ? { conns: engine.dumpConns() } : {}),
  };
}
