// A stand-in Engine for control-plane tests: control operations keep plain records,
// counters and connection counts are set by the test, and any control call can be made to
// fail. Runtime-agnostic; private to tests (no frames ever flow through it).

import { C_COUNT, ENOENT, L_MAX_DESTS, L_MAX_SVCS, L_WORDS, T_COUNT } from "../engine/abi.gen.ts";
import {
  type ConnDump,
  type DestCounts,
  type DestSpec,
  type Engine,
  type ServiceSpec,
  type Stats,
  ZERO_STATS,
} from "../engine/engine.ts";

/** The fake and its knobs. */
export interface FakeEngine extends Engine {
  /** Control calls in order, e.g. "addDest 0 → 3". */
  calls: string[];
  /** The n-th control call (0-based, counting every call) returns -errno. */
  failAt: { call: number; errno: number } | null;
  svcStatsOf: Map<number, Stats>;
  destStatsOf: Map<number, Stats>;
  destCountsOf: Map<number, DestCounts>;
  countersArr: number[];
  conns: ConnDump[];
  services: Map<number, ServiceSpec>;
  dests: Map<number, { svc: number; spec: DestSpec }>;
}

/**
 * @param maxServices published service limit (0: none)
 * @param maxDests published dest limit (0: none)
 * @returns a fake engine
 */
export function fakeEngine(maxServices = 0, maxDests = 0): FakeEngine {
  const layout = new Uint32Array(L_WORDS);
  layout[L_MAX_SVCS] = maxServices;
  layout[L_MAX_DESTS] = maxDests;
  let nextSvc = 0, nextDest = 0, callNo = 0;
  const t = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120, 300, 3].slice(0, T_COUNT);
  // Cast: the fake implements what the control plane calls; the rest of Engine (the
  // data path, sync) is never reached from host/ctl and host/daemon.
  const e = {
    kind: "ts",
    memory: new ArrayBuffer(0),
    layout,
    calls: [],
    failAt: null,
    svcStatsOf: new Map(),
    destStatsOf: new Map(),
    destCountsOf: new Map(),
    countersArr: new Array(C_COUNT).fill(0),
    conns: [],
    services: new Map(),
    dests: new Map(),
    setSysctl() {},
    setTimeouts(tcp, tcpfin, udp) {
      if (tcp > 0) t[1] = tcp;
      if (tcpfin > 0) t[4] = tcpfin;
      if (udp > 0) t[11] = udp;
    },
    timeouts: () => [...t],
    setPort: () => 0,
    setNeigh: () => 0,
    addService(spec) {
      return call(`addService ${spec.port}`, () => {
        const i = nextSvc++;
        e.services.set(i, spec);
        return i;
      });
    },
    editService(svc, spec) {
      return call(`editService ${svc} sched=${spec.sched}`, () => (e.services.set(svc, spec), 0));
    },
    delService(svc) {
      return call(`delService ${svc}`, () => {
        e.services.delete(svc);
        for (const [i, d] of e.dests) if (d.svc === svc) e.dests.delete(i);
        return 0;
      });
    },
    addDest(svc, spec) {
      return call(`addDest ${svc} ${spec.addr.join(".")}:${spec.port}`, () => {
        if (!e.services.has(svc)) return -ENOENT;
        const i = nextDest++;
        e.dests.set(i, { svc, spec });
        return i;
      });
    },
    editDest(dest, spec) {
      return call(`editDest ${dest} w=${spec.weight}`, () => (e.dests.get(dest)!.spec = spec, 0));
    },
    delDest(dest) {
      return call(`delDest ${dest}`, () => (e.dests.delete(dest), 0));
    },
    destList: (svc) => [...e.dests].filter(([, d]) => d.svc === svc).map(([i]) => i).reverse(),
    processBatch: () => 0,
    expire: () => 0,
    counters: () => [...e.countersArr],
    svcStats: (svc) => ({ ...(e.svcStatsOf.get(svc) ?? ZERO_STATS) }),
    destStats: (dest) => ({ ...(e.destStatsOf.get(dest) ?? ZERO_STATS) }),
    destCounts: (dest) =>
      e.destCountsOf.get(dest) ?? { activeConns: 0, inactConns: 0, persistConns: 0, flags: 0 },
    dumpConns: () => e.conns,
  } as Partial<FakeEngine> as FakeEngine;
  function call(what: string, run: () => number): number {
    const n = callNo++;
    if (e.failAt && e.failAt.call === n) {
      e.calls.push(`${what} → -${e.failAt.errno}`);
      return -e.failAt.errno;
    }
    const r = run();
    e.calls.push(`${what} → ${r}`);
    return r;
  }
  return e;
}
