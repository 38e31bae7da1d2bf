// Control operations on services and dests: validate the whole request, then apply it.
// Mirrors ip_vs_ctl.c (ip_vs_add_service, ip_vs_edit_service, ip_vs_del_service,
// ip_vs_add_dest, ip_vs_edit_dest, ip_vs_del_dest, __ip_vs_update_dest) and the control
// halves of assembly/service.ts and assembly/dest.ts.
// Returns an index or a negated errno; never throws (ARCHITECTURE.md "Decisions" lists the
// checks and their order). Control path: small allocations are fine here. Runtime-agnostic.
import type { Af, DestSpec, ServiceSpec } from "../engine.ts";
import {
  AF_INET,
  AF_INET6,
  EEXIST,
  EINVAL,
  ENOENT,
  ENOMEM,
  ERANGE,
  ESRCH,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  IP_VS_DEST_F_AVAILABLE,
  IP_VS_DEST_F_OVERLOAD,
  NO_DEST,
  SCHED_COUNT,
  SYS_EXPIRE_NODEST_CONN,
} from "../abi.gen.ts";
import type { DestTable } from "./dest.ts";
import { SCHEDULERS } from "./sched/registry.ts";
import { DEST_ADDED, DEST_DELETED, DEST_EDITED } from "./sched/scheduler.ts";
import { type ServiceTable, SVC_DELETED, SVC_LIVE } from "./service.ts";
import { zeroStats } from "./stats.ts";
import { SCHED_WORDS } from "./sched/scheduler.ts";
import { slotCount } from "./sched/table.ts";
import { flushNodest } from "./persist.ts";
import type { EngineState } from "./state.ts";
import { swap16 } from "./wire/bytes.ts";

const I32_MAX = 0x7fffffff;
const U32_MAX = 0xffffffff;

/** True for an integer number in [lo, hi]. */
export function isInt(v: unknown, lo: number, hi: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
}

export function isAf(v: unknown): v is Af {
  return v === AF_INET || v === AF_INET6;
}

/** An address of family `af` as 4 little-endian words of its wire bytes, or null if malformed. */
export function addrWords(af: number, addr: unknown): Uint32Array | null {
  const n = af === AF_INET ? 4 : 16;
  if (!(addr instanceof Uint8Array) || addr.length !== n) return null;
  const w = new Uint32Array(4);
  const dv = new DataView(addr.buffer, addr.byteOffset, n);
  for (let i = 0; i < n / 4; i++) w[i] = dv.getUint32(i * 4, true);
  return w;
}

/** The service spec numbers every operation checks. */
function serviceFieldsOk(spec: ServiceSpec): boolean {
  return isInt(spec.sched, 0, 0xff) && isInt(spec.flags, 0, U32_MAX) &&
    isInt(spec.timeout, 0, U32_MAX) && isInt(spec.netmask, 0, U32_MAX);
}

export function addService(
  svcs: ServiceTable,
  dests: DestTable,
  spec: ServiceSpec,
  st: EngineState,
): number {
  if (typeof spec !== "object" || spec === null || !isAf(spec.af) || !serviceFieldsOk(spec)) {
    return -EINVAL;
  }
  if (!isInt(spec.fwmark, 0, U32_MAX)) return -EINVAL;
  const fwmark = spec.fwmark;
  let words: Uint32Array = new Uint32Array(4);
  let proto = 0;
  let port = 0;
  if (fwmark === 0) {
    const w = addrWords(spec.af, spec.addr);
    if (w === null || !isInt(spec.port, 0, 0xffff) || !isInt(spec.protocol, 1, 0xff)) {
      return -EINVAL;
    }
    words = w;
    proto = spec.protocol;
    port = spec.port;
  }
  // ip_vs_add_service: "Scheduler module ip_vs_%s not found" is -ENOENT.
  if (spec.sched >= SCHED_COUNT) return -ENOENT;
  const dup = fwmark !== 0
    ? svcs.findFwmark(spec.af, fwmark)
    : svcs.findExact(spec.af, proto, words[0], words[1], words[2], words[3], swap16(port));
  if (dup >= 0) return -EEXIST;
  if (SCHEDULERS[spec.sched].table && !st.sched.tables.available()) return -ENOMEM;
  const s = svcs.alloc();
  if (s < 0) return -ENOMEM;
  svcs.status[s] = SVC_LIVE;
  svcs.af[s] = spec.af;
  svcs.proto[s] = proto;
  svcs.addr.set(words, s * 4);
  svcs.port[s] = port;
  svcs.portW[s] = swap16(port);
  svcs.fwmark[s] = fwmark;
  svcs.sched[s] = spec.sched;
  svcs.flags[s] = spec.flags;
  svcs.timeout[s] = spec.timeout;
  svcs.netmask[s] = spec.netmask;
  svcs.destRecords[s] = 0;
  zeroStats(svcs.stats, s);
  const h = dests.head(s);
  dests.next[h] = h;
  dests.prev[h] = h;
  svcs.hash(s);
  svcs.countSpecialPort(s, 1);
  SCHEDULERS[spec.sched].initService(svcs, dests, s, st.sched);
  return s;
}

export function editService(
  svcs: ServiceTable,
  dests: DestTable,
  s: number,
  spec: ServiceSpec,
  st: EngineState,
): number {
  if (!svcs.isLive(s)) return -ESRCH;
  if (typeof spec !== "object" || spec === null || !serviceFieldsOk(spec)) return -EINVAL;
  if (spec.sched >= SCHED_COUNT) return -ENOENT;
  const old = SCHEDULERS[svcs.sched[s]];
  const next = SCHEDULERS[spec.sched];
  if (old !== next && next.table && !old.table && !st.sched.tables.available()) return -ENOMEM;
  svcs.flags[s] = spec.flags;
  svcs.timeout[s] = spec.timeout;
  svcs.netmask[s] = spec.netmask;
  if (svcs.sched[s] !== spec.sched) {
    old.doneService?.(svcs, dests, s, st.sched);
    svcs.sched[s] = spec.sched;
    next.initService(svcs, dests, s, st.sched);
  }
  return s;
}

export function delService(
  svcs: ServiceTable,
  dests: DestTable,
  s: number,
  st: EngineState,
): number {
  if (!svcs.isLive(s)) return -ESRCH;
  svcs.unhash(s);
  svcs.countSpecialPort(s, -1);
  // Its dests go to the trash in list order; unreferenced ones are freed at once. The
  // slot is marked deleted only afterwards (after the scheduler's and the nodest flush's
  // frees too), so it is pushed after every record it waited for, as in the WASM engine.
  const h = dests.head(s);
  for (let d = dests.next[h]; d !== h;) {
    const nx = dests.next[d];
    dests.unlink(d);
    dests.flags[d] &= ~IP_VS_DEST_F_AVAILABLE;
    if (dests.refs[d] === 0) dests.release(d);
    d = nx;
  }
  SCHEDULERS[svcs.sched[s]].doneService?.(svcs, dests, s, st.sched);
  if (st.sysctl[SYS_EXPIRE_NODEST_CONN] !== 0) flushNodest(st);
  svcs.status[s] = SVC_DELETED;
  svcs.releaseIfDone(s);
  return 0;
}

/**
 * Checks the dest spec fields add and edit share, against the dest's family `af`:
 * 0, -EINVAL, or -ERANGE for a negative weight or a lower threshold above the upper one
 * (ip_vs_add_dest / ip_vs_edit_dest).
 */
function checkDestFields(svcs: ServiceTable, s: number, af: number, spec: DestSpec): number {
  const fwd = spec.fwd;
  if (fwd !== IP_VS_CONN_F_MASQ && fwd !== IP_VS_CONN_F_TUNNEL && fwd !== IP_VS_CONN_F_DROUTE) {
    return -EINVAL;
  }
  // Only a tunnel can carry a packet into another address family.
  if (af !== svcs.af[s] && fwd !== IP_VS_CONN_F_TUNNEL) return -EINVAL;
  if (
    !isInt(spec.weight, -I32_MAX - 1, I32_MAX) || !isInt(spec.uThreshold, 0, U32_MAX) ||
    !isInt(spec.lThreshold, 0, U32_MAX) || !isInt(spec.tunType, 0, 0xff) ||
    !isInt(spec.tunPort, 0, 0xffff) || !isInt(spec.tunFlags, 0, 0xffff)
  ) return -EINVAL;
  if (spec.weight < 0 || spec.lThreshold > spec.uThreshold) return -ERANGE;
  return 0;
}

function setDestFields(dests: DestTable, d: number, spec: DestSpec): void {
  dests.fwd[d] = spec.fwd;
  dests.weight[d] = spec.weight;
  dests.uThresh[d] = spec.uThreshold;
  dests.lThresh[d] = spec.lThreshold;
  dests.tunType[d] = spec.tunType;
  dests.tunPort[d] = spec.tunPort;
  dests.tunFlags[d] = spec.tunFlags;
}

export function addDest(
  svcs: ServiceTable,
  dests: DestTable,
  s: number,
  spec: DestSpec,
  st: EngineState,
): number {
  if (!svcs.isLive(s)) return -ESRCH;
  if (typeof spec !== "object" || spec === null || !isAf(spec.af)) return -EINVAL;
  const w = addrWords(spec.af, spec.addr);
  if (w === null || !isInt(spec.port, 0, 0xffff)) return -EINVAL;
  const err = checkDestFields(svcs, s, spec.af, spec);
  if (err < 0) return err;
  const h = dests.head(s);
  for (let d = dests.next[h]; d !== h; d = dests.next[d]) {
    const o = d * 4;
    const a = dests.addr;
    if (
      dests.af[d] === spec.af && dests.port[d] === spec.port && a[o] === w[0] &&
      a[o + 1] === w[1] && a[o + 2] === w[2] && a[o + 3] === w[3]
    ) return -EEXIST;
  }
  const d = dests.alloc();
  if (d < 0) return -ENOMEM;
  dests.used[d] = 1;
  dests.neighGen[d] = 0; // a reused slot must not inherit the old record's next hop
  dests.pmtu[d] = 0; // nor its learned path MTU
  dests.af[d] = spec.af;
  dests.addr.set(w, d * 4);
  dests.port[d] = spec.port;
  dests.portW[d] = swap16(spec.port);
  setDestFields(dests, d, spec);
  dests.lastWeight[d] = spec.weight;
  dests.flags[d] = IP_VS_DEST_F_AVAILABLE;
  dests.active[d] = 0;
  dests.inact[d] = 0;
  dests.persist[d] = 0;
  dests.refs[d] = 0;
  dests.svc[d] = s;
  zeroStats(dests.stats, d);
  dests.linkHead(s, d);
  svcs.destRecords[s]++;
  SCHEDULERS[svcs.sched[s]].updateService?.(svcs, dests, s, d, DEST_ADDED, st.sched);
  return d;
}

export function editDest(
  svcs: ServiceTable,
  dests: DestTable,
  d: number,
  spec: DestSpec,
  st: EngineState,
): number {
  if (!dests.isListed(d)) return -ENOENT;
  const s = dests.svc[d];
  if (typeof spec !== "object" || spec === null) return -EINVAL;
  const err = checkDestFields(svcs, s, dests.af[d], spec);
  if (err < 0) return err;
  // __ip_vs_update_dest: a raised or removed upper threshold lifts OVERLOAD at once.
  if (spec.uThreshold === 0 || spec.uThreshold > dests.uThresh[d]) {
    dests.flags[d] &= ~IP_VS_DEST_F_OVERLOAD;
  }
  setDestFields(dests, d, spec);
  // __ip_vs_update_dest keeps the latest non-zero weight (mh tables use it).
  if (spec.weight !== 0) dests.lastWeight[d] = spec.weight;
  SCHEDULERS[svcs.sched[s]].updateService?.(svcs, dests, s, d, DEST_EDITED, st.sched);
  st.sched.index.touch(d);
  return d;
}

export function delDest(svcs: ServiceTable, dests: DestTable, d: number, st: EngineState): number {
  if (!dests.isListed(d)) return -ENOENT;
  const s = dests.svc[d];
  dests.unlink(d);
  dests.flags[d] &= ~IP_VS_DEST_F_AVAILABLE;
  SCHEDULERS[svcs.sched[s]].updateService?.(svcs, dests, s, d, DEST_DELETED, st.sched);
  // The record stays in the trash while connections (or lblc caches) refer to it.
  if (dests.refs[d] === 0) dests.release(d);
  if (st.sysctl[SYS_EXPIRE_NODEST_CONN] !== 0) flushNodest(st);
  return 0;
}

/** Dest indices of a live service in list order (newest first); [] otherwise. */
export function destList(svcs: ServiceTable, dests: DestTable, s: number): number[] {
  const out: number[] = [];
  if (!svcs.isLive(s)) return out;
  const h = dests.head(s);
  for (let d = dests.next[h]; d !== h; d = dests.next[d]) out.push(d);
  return out;
}

/** The slot count of a service's sh/dh/mh table (0 for other schedulers). */
function slotsOf(st: EngineState, s: number): number {
  return slotCount(st.svcs.sched[s], st.sched.mhSize);
}

/**
 * Writes (slot, dest) pairs into a service's slot table (host/ctl/tables.ts computes them).
 * Every pair is checked first; returns the pair count, -ESRCH or -EINVAL.
 */
export function setSchedSlots(st: EngineState, s: number, changes: ArrayLike<number>): number {
  const { svcs, dests } = st;
  if (!svcs.isLive(s)) return -ESRCH;
  const size = slotsOf(st, s);
  const n = changes.length >>> 1;
  if (size === 0 || changes.length % 2 !== 0 || n > size) return -EINVAL;
  for (let i = 0; i < 2 * n; i += 2) {
    const slot = changes[i], d = changes[i + 1];
    if (!isInt(slot, 0, size - 1)) return -EINVAL;
    if (d === -1 || d === NO_DEST) continue;
    if (!dests.isListed(d) || dests.svc[d] !== s) return -EINVAL;
  }
  const t = st.sched.tables;
  const base = svcs.schedState[s * SCHED_WORDS] * t.words;
  for (let i = 0; i < 2 * n; i += 2) {
    const d = changes[i + 1];
    t.data[base + changes[i]] = d === NO_DEST ? -1 : d;
  }
  return n;
}

/** A copy of a service's slot table (empty for other schedulers or a dead service). */
export function schedTable(st: EngineState, s: number): Int32Array {
  if (!st.svcs.isLive(s)) return new Int32Array(0);
  const t = st.sched.tables;
  const base = st.svcs.schedState[s * SCHED_WORDS] * t.words;
  return t.data.slice(base, base + slotsOf(st, s));
}
