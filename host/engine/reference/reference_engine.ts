// The pure-TypeScript packet engine: the twin of the WASM engine behind `Engine`, and the
// baseline of the WASM-vs-TS benchmark. Mirrors assembly/index.ts; the IPVS logic lives in
// the files next to it (core, conn, service, dest, sched/*, proto/*, xmit, wire/*).
// Runtime-agnostic.
import type {
  Af,
  ConnDump,
  DestCounts,
  DestInfo,
  DestSpec,
  Engine,
  EngineConfig,
  PortSpec,
  ServiceSpec,
  Stats,
  SyncConnSpec,
  SyncParams,
} from "../engine.ts";
import { expireSlots } from "../engine.ts";
import {
  AF_INET,
  EINVAL,
  ENOMEM,
  IP_VS_DEST_F_AVAILABLE,
  IP_VS_DEST_F_OVERLOAD,
  PORT_MAX,
  SYS_COUNT,
  T_UDP,
  TCP_S_ESTABLISHED,
  TCP_S_FIN_WAIT,
} from "../abi.gen.ts";
import { CONN6_WORDS } from "./conn.ts";
import { expire, processBatch } from "./core.ts";
import * as ctl from "./ctl.ts";
import { EngineState } from "./state.ts";
import { readStats } from "./stats.ts";
import { schedProbe } from "./sched/probe.ts";
import { syncConn } from "./sync.ts";
import { swap16 } from "./wire/bytes.ts";
import { formatIpv4 } from "./wire/ipv4.ts";
import { formatIpv6 } from "./wire/ipv6.ts";
import { defenseSysctl } from "./defense.ts";

/** Largest timeout (s) whose value in ms still fits the wrap-safe i32 expiry compare. */
const MAX_TIMEOUT = 2147483;

function isMac(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.length === 6;
}

/** The reference engine. Construct with `createReferenceEngine`. */
export class ReferenceEngine implements Engine {
  readonly kind = "ts" as const;
  readonly memory: ArrayBuffer;
  readonly layout: Uint32Array;
  readonly #st: EngineState;

  constructor(config: EngineConfig) {
    this.#st = new EngineState(config);
    this.memory = this.#st.memory;
    this.layout = this.#st.layout;
  }

  setSysctl(index: number, value: number): void {
    if (!ctl.isInt(index, 0, SYS_COUNT - 1)) return;
    this.#st.sysctl[index] = value | 0;
    defenseSysctl(this.#st, index); // issue 7: a defense setting takes effect at the next batch
  }

  setTimeouts(tcp: number, tcpfin: number, udp: number): void {
    // Whole seconds; anything that floors to 0 (or is not a number) leaves the value as is.
    const set = (slot: number, v: number) => {
      const s = typeof v === "number" ? Math.floor(v) : 0;
      if (s > 0) this.#st.setTimeout(slot, Math.min(s, MAX_TIMEOUT));
    };
    set(TCP_S_ESTABLISHED, tcp);
    set(TCP_S_FIN_WAIT, tcpfin);
    set(T_UDP, udp);
  }

  timeouts(): number[] {
    return Array.from(this.#st.timeoutSec);
  }

  setPort(port: number, spec: PortSpec): number {
    if (!ctl.isInt(port, 0, PORT_MAX - 1) || typeof spec !== "object" || spec === null) {
      return -EINVAL;
    }
    const { mac, mtu, addr4, addr6 } = spec;
    if (!isMac(mac) || !ctl.isInt(mtu, 0, 0xffffffff)) return -EINVAL;
    if (addr4 !== undefined && !(addr4 instanceof Uint8Array && addr4.length === 4)) return -EINVAL;
    if (addr6 !== undefined && !(addr6 instanceof Uint8Array && addr6.length === 16)) {
      return -EINVAL;
    }
    this.#st.ports.set(port, mac, mtu, addr4, addr6);
    return 0;
  }

  setNeigh(af: Af, addr: Uint8Array | null, mac: Uint8Array, port: number): number {
    if (!ctl.isAf(af) || !isMac(mac) || !ctl.isInt(port, 0, PORT_MAX - 1)) return -EINVAL;
    let words = null;
    if (addr !== null) {
      words = ctl.addrWords(af, addr);
      if (words === null) return -EINVAL;
    }
    return this.#st.neigh.set(af, words, mac, port) ? 0 : -ENOMEM;
  }

  addService(spec: ServiceSpec): number {
    return ctl.addService(this.#st.svcs, this.#st.dests, spec, this.#st);
  }

  editService(svc: number, spec: ServiceSpec): number {
    return ctl.editService(this.#st.svcs, this.#st.dests, svc, spec, this.#st);
  }

  delService(svc: number): number {
    return ctl.delService(this.#st.svcs, this.#st.dests, svc, this.#st);
  }

  addDest(svc: number, spec: DestSpec): number {
    return ctl.addDest(this.#st.svcs, this.#st.dests, svc, spec, this.#st);
  }

  editDest(dest: number, spec: DestSpec): number {
    return ctl.editDest(this.#st.svcs, this.#st.dests, dest, spec, this.#st);
  }

  delDest(dest: number): number {
    return ctl.delDest(this.#st.svcs, this.#st.dests, dest, this.#st);
  }

  destList(svc: number): number[] {
    return ctl.destList(this.#st.svcs, this.#st.dests, svc);
  }

  processBatch(n: number, now: number): number {
    return processBatch(this.#st, n, now);
  }

  expire(now: number, budget = 0): number {
    return expire(this.#st, now, expireSlots(budget));
  }

  counters(): number[] {
    return Array.from(this.#st.counters);
  }

  svcStats(svc: number): Stats {
    return readStats(this.#st.svcs.stats, svc);
  }

  destStats(dest: number): Stats {
    return readStats(this.#st.dests.stats, dest);
  }

  destCounts(dest: number): DestCounts {
    const dests = this.#st.dests;
    if (!ctl.isInt(dest, 0, dests.max - 1) || dests.used[dest] === 0) {
      return { activeConns: 0, inactConns: 0, persistConns: 0, flags: 0 };
    }
    return {
      activeConns: dests.active[dest],
      inactConns: dests.inact[dest],
      persistConns: dests.persist[dest],
      flags: dests.flags[dest] & (IP_VS_DEST_F_AVAILABLE | IP_VS_DEST_F_OVERLOAD),
    };
  }

  setSchedSlots(svc: number, changes: ArrayLike<number>): number {
    return ctl.setSchedSlots(this.#st, svc, changes);
  }

  schedTable(svc: number): Int32Array {
    return ctl.schedTable(this.#st, svc);
  }

  destInfo(dest: number): DestInfo | null {
    const dests = this.#st.dests;
    if (!ctl.isInt(dest, 0, dests.max - 1) || dests.used[dest] === 0) return null;
    const af = dests.af[dest] as Af;
    const b = new Uint8Array(16);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < 4; i++) dv.setUint32(i * 4, dests.addr[dest * 4 + i], true);
    return {
      svc: dests.svc[dest],
      af,
      addr: b.slice(0, af === AF_INET ? 4 : 16),
      port: dests.port[dest],
      weight: dests.weight[dest],
      lastWeight: dests.lastWeight[dest],
      flags: dests.flags[dest] & (IP_VS_DEST_F_AVAILABLE | IP_VS_DEST_F_OVERLOAD),
    };
  }

  schedProbe(svc: number, n: number, seed: number): number {
    if (!ctl.isInt(n, 0, 0xffffffff) || !ctl.isInt(svc, 0, this.#st.svcs.max - 1)) return -1;
    const st = this.#st;
    return schedProbe(st.svcs, st.dests, st.sched, svc, n, seed) | 0;
  }

  dumpConns(): ConnDump[] {
    const { conns, dests } = this.#st;
    const out: ConnDump[] = [];
    for (let c = 0; c < conns.max; c++) {
      const af = conns.af[c];
      if (af === 0) continue;
      const b = conns.block[c] * CONN6_WORDS;
      const d = conns.dest[c];
      out.push({
        index: c,
        af: af as Af,
        protocol: conns.proto[c],
        caddr: af === AF_INET ? formatIpv4(conns.caddr[c]) : formatIpv6(conns.addr6, b),
        cport: swap16(conns.cport[c]),
        vaddr: af === AF_INET ? formatIpv4(conns.vaddr[c]) : formatIpv6(conns.addr6, b + 4),
        vport: swap16(conns.vport[c]),
        daddr: dests.af[d] === AF_INET
          ? formatIpv4(dests.addr[d * 4])
          : formatIpv6(dests.addr, d * 4),
        dport: swap16(conns.dport[c]),
        state: conns.state[c],
        flags: conns.flags[c],
        expires: conns.expires[c],
        timeout: conns.timeout[c],
        dest: d,
        svc: conns.svc[c],
        inPkts: conns.inPkts[c],
      });
    }
    return out;
  }

  setSync(p: SyncParams): void {
    this.#st.sync.setup(p);
  }

  syncDrain(): number {
    return this.#st.sync.drain();
  }

  syncConn(c: SyncConnSpec, now: number): number {
    return syncConn(this.#st, c, now);
  }
}

/** Creates the pure-TypeScript engine. Throws RangeError for an unusable config. */
export function createReferenceEngine(config: EngineConfig): Engine {
  return new ReferenceEngine(config);
}
