// Virtual services: a slot table with a LIFO free stack, hashed by (af, proto, addr, port)
// or by (af, fwmark), plus each service's scheduler words and stats. Mirrors the service
// half of ip_vs_ctl.c (ip_vs_svc_table, ip_vs_svc_fwm_table) and assembly/service.ts.
// Addresses are 4 little-endian u32 words of wire bytes (IPv4 in word 0, words 1-3 zero),
// ports wire-order u16 loads. Runtime-agnostic.
import { SYS_IP_UNPRIVILEGED_PORT_START } from "../abi.gen.ts";
import * as stats from "./stats.ts";
import * as scheduler from "./sched/scheduler.ts";
import type { EngineState, Packet } from "./state.ts";

// Hot-path bindings as module-local consts: see state.ts, "Why local consts".
const { createStats } = stats;
const { SCHED_WORDS } = scheduler;
const IPPROTO_TCP = 6;
/** Port 21 in wire order, and the FTP data port. */
export const FTP_WIRE = 21 << 8;
const FTPDATA_PORT = 20;

export const SVC_FREE = 0;
export const SVC_LIVE = 1;
/** Unhashed by delService, waiting for its trashed dests' last connections. */
export const SVC_DELETED = 2;

function hashKey(
  af: number,
  proto: number,
  a0: number,
  a1: number,
  a2: number,
  a3: number,
  portW: number,
): number {
  let h = Math.imul(af | (proto << 8) | (portW << 16), 0x9e3779b1);
  h = Math.imul(h ^ a0 ^ (h >>> 15), 0x85ebca77);
  h = Math.imul(h ^ a1 ^ (h >>> 13), 0xc2b2ae3d);
  h = Math.imul(h ^ a2 ^ (h >>> 16), 0x27d4eb2f);
  h = Math.imul(h ^ a3 ^ (h >>> 15), 0x165667b1);
  return (h ^ (h >>> 16)) >>> 0;
}

export class ServiceTable {
  readonly max: number;
  readonly status: Uint8Array;
  readonly af: Uint8Array;
  readonly proto: Uint8Array;
  readonly addr: Uint32Array;
  readonly port: Uint16Array;
  readonly portW: Uint16Array;
  readonly fwmark: Uint32Array;
  readonly sched: Uint8Array;
  readonly flags: Uint32Array;
  readonly timeout: Uint32Array;
  readonly netmask: Uint32Array;
  /** Dest records (listed or trashed) still naming the service; its slot waits for 0. */
  readonly destRecords: Int32Array;
  /** SCHED_WORDS scheduler words per service (house style G2: state in the service's slot). */
  readonly schedState: Int32Array;
  readonly stats: Float64Array;
  /** Live services on port 21 and on port 0 (IPVS ftpsvc_counter / nullsvc_counter). */
  ftpSvcs = 0;
  nullSvcs = 0;
  readonly #hnext: Int32Array;
  readonly #buckets: Int32Array;
  readonly #fwBuckets: Int32Array;
  readonly #mask: number;
  readonly #free: Int32Array;
  #top: number;

  constructor(max: number) {
    this.max = max;
    this.status = new Uint8Array(max);
    this.af = new Uint8Array(max);
    this.proto = new Uint8Array(max);
    this.addr = new Uint32Array(max * 4);
    this.port = new Uint16Array(max);
    this.portW = new Uint16Array(max);
    this.fwmark = new Uint32Array(max);
    this.sched = new Uint8Array(max);
    this.flags = new Uint32Array(max);
    this.timeout = new Uint32Array(max);
    this.netmask = new Uint32Array(max);
    this.destRecords = new Int32Array(max);
    this.schedState = new Int32Array(max * SCHED_WORDS);
    this.stats = createStats(max);
    this.#hnext = new Int32Array(max).fill(-1);
    let nb = 16;
    while (nb < max * 2) nb *= 2;
    this.#buckets = new Int32Array(nb).fill(-1);
    this.#fwBuckets = new Int32Array(nb).fill(-1);
    this.#mask = nb - 1;
    // LIFO stack filled so that pops hand out 0, 1, 2, ...
    this.#free = Int32Array.from({ length: max }, (_, k) => max - 1 - k);
    this.#top = max;
  }

  /** True for a service that can take dests and traffic. */
  isLive(s: number): boolean {
    return Number.isInteger(s) && s >= 0 && s < this.max && this.status[s] === SVC_LIVE;
  }

  /** Takes a free slot (-1 when none). */
  alloc(): number {
    return this.#top > 0 ? this.#free[--this.#top] : -1;
  }

  /** Exact lookup (af, proto, vaddr words, vport in wire order); -1 when absent. */
  findExact(
    af: number,
    proto: number,
    a0: number,
    a1: number,
    a2: number,
    a3: number,
    portW: number,
  ): number {
    const addr = this.addr;
    let s = this.#buckets[hashKey(af, proto, a0, a1, a2, a3, portW) & this.#mask];
    for (; s >= 0; s = this.#hnext[s]) {
      const o = s * 4;
      if (
        addr[o] === a0 && this.portW[s] === portW && this.proto[s] === proto && this.af[s] === af &&
        addr[o + 1] === a1 && addr[o + 2] === a2 && addr[o + 3] === a3
      ) return s;
    }
    return -1;
  }

  /** Firewall-mark lookup; -1 when absent. */
  findFwmark(af: number, mark: number): number {
    let s = this.#fwBuckets[hashKey(af, 0, mark, 0, 0, 0, 0) & this.#mask];
    for (; s >= 0; s = this.#hnext[s]) {
      if (this.fwmark[s] === mark && this.af[s] === af) return s;
    }
    return -1;
  }

  /**
   * The service of a packet without an entry (spec §2.7, ip_vs_service_find): the fwmark
   * table first when marked, then the exact key; for TCP, the (VIP, 21) service for port
   * 20 or an unprivileged port; then (VIP, 0). Ports wire order; -1 when none.
   */
  lookup(
    af: number,
    proto: number,
    a0: number,
    a1: number,
    a2: number,
    a3: number,
    portW: number,
    mark: number,
    unprivStart: number,
  ): number {
    let s = mark !== 0 ? this.findFwmark(af, mark) : -1;
    if (s >= 0) return s;
    s = this.findExact(af, proto, a0, a1, a2, a3, portW);
    if (s >= 0) return s;
    if (proto === IPPROTO_TCP && this.ftpSvcs !== 0) {
      const port = ((portW & 0xff) << 8) | (portW >>> 8);
      if (port === FTPDATA_PORT || port >= unprivStart) {
        s = this.findExact(af, proto, a0, a1, a2, a3, FTP_WIRE);
        if (s >= 0) return s;
      }
    }
    if (this.nullSvcs !== 0) s = this.findExact(af, proto, a0, a1, a2, a3, 0);
    return s;
  }

  /** Counts port-21 and port-0 services (the lookup's fallbacks run only when some exist). */
  countSpecialPort(s: number, delta: number): void {
    if (this.fwmark[s] !== 0) return;
    if (this.port[s] === 21) this.ftpSvcs += delta;
    else if (this.port[s] === 0) this.nullSvcs += delta;
  }

  /** Links service `s` into its table by the key fields already stored. */
  hash(s: number): void {
    const b = this.#bucketOf(s);
    this.#hnext[s] = b.at[b.i];
    b.at[b.i] = s;
  }

  /** Unlinks service `s` from its table. */
  unhash(s: number): void {
    const b = this.#bucketOf(s);
    if (b.at[b.i] === s) {
      b.at[b.i] = this.#hnext[s];
    } else {
      let p = b.at[b.i];
      while (this.#hnext[p] !== s) p = this.#hnext[p];
      this.#hnext[p] = this.#hnext[s];
    }
    this.#hnext[s] = -1;
  }

  /** One dest record of `s` is gone; frees the slot of a deleted service with none left. */
  dropDestRecord(s: number): void {
    this.destRecords[s]--;
    this.releaseIfDone(s);
  }

  /** Frees the slot of a deleted service once no dest record names it. */
  releaseIfDone(s: number): void {
    if (this.status[s] === SVC_DELETED && this.destRecords[s] === 0) {
      this.status[s] = SVC_FREE;
      this.#free[this.#top++] = s;
    }
  }

  // Control path only (allocates a small record; never on the packet path).
  #bucketOf(s: number): { at: Int32Array; i: number } {
    const o = s * 4;
    const fw = this.fwmark[s];
    if (fw !== 0) {
      return { at: this.#fwBuckets, i: hashKey(this.af[s], 0, fw, 0, 0, 0, 0) & this.#mask };
    }
    const a = this.addr;
    const h = hashKey(this.af[s], this.proto[s], a[o], a[o + 1], a[o + 2], a[o + 3], this.portW[s]);
    return { at: this.#buckets, i: h & this.#mask };
  }
}

/**
 * The service of packet `p` (its destination address and port) marked `mark`, as
 * ServiceTable.lookup finds it with the engine's unprivileged-port sysctl; -1 when none.
 * (assembly/service.ts svcLookup reads the sysctl itself.)
 */
export function packetService(st: EngineState, p: Packet, mark: number): number {
  return st.svcs.lookup(
    p.af,
    p.proto,
    p.d0,
    p.d1,
    p.d2,
    p.d3,
    p.dport,
    mark,
    st.sysctl[SYS_IP_UNPRIVILEGED_PORT_START],
  );
}
