// Defense strategies (ip_vs_ctl.c update_defense_level, ip_vs_random_dropentry,
// ip_vs_todrop; ip_vs_conn.c todrop_entry; spec §4.9, §3.4), driven by table pressure:
// "memory is short" when fewer than amemthresh entries are free below the connection limit
// (conn_max, else the table size). Once per second of engine time: the automatic modes
// switch; drop_packet sets its rate; drop_entry scans 1/32 of the table from a cursor and
// drops half-open TCP entries, unassured templates, and idle entries with few packets;
// secure_tcp selects the §3.4 table. With drop_entry in effect a full table first evicts
// one half-open TCP entry for a new connection. Mirrors assembly/defense.ts.
// Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import { DIR_DOS } from "./proto/tcp.ts";
import type { EngineState } from "./state.ts";

const {
  AF_INET6,
  C_CONN_DROPPED,
  C_CONNS,
  IP_VS_CONN_F_TEMPLATE,
  IP_VS_CTPL_S_ASSURED,
  IP_VS_SVC_F_ONEPACKET,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  R_CONN_FULL,
  R_DROP_PACKET,
  SYS_AM_DROPRATE,
  SYS_AMEMTHRESH,
  SYS_CONN_MAX,
  SYS_DROP_ENTRY,
  SYS_DROP_PACKET,
  SCTP_S_ESTABLISHED,
  SCTP_S_INIT,
  SCTP_S_INIT1,
  SYS_SECURE_TCP,
  TCP_S_ESTABLISHED,
  TCP_S_SYN_RECV,
  TCP_S_SYNACK,
} = abi;

const PERIOD_MS = 1000;
const IDLE_MS = 60000;
const EVICT_SCAN = 256;
/** A half-open entry idle less than this goes only when no older one is found (WVS addition). */
const EVICT_GRACE_MS = 200;

function connLimit(st: EngineState): number {
  const m = st.sysctl[SYS_CONN_MAX] >>> 0;
  return m !== 0 && m < st.conns.max ? m : st.conns.max;
}

/** The automatic-mode step of one strategy (0..3); returns whether it is in effect. */
function mode(sysctl: Int32Array, index: number, nomem: boolean): boolean {
  const m = sysctl[index] >>> 0;
  if (m === 1 && nomem) {
    sysctl[index] = 2;
    return true;
  }
  if (m === 2 && !nomem) {
    sysctl[index] = 1;
    return false;
  }
  return m === 3 || (m === 2 && nomem);
}

function updateLevel(st: EngineState): void {
  const ed = st.edge;
  const sysctl = st.sysctl;
  const limit = connLimit(st);
  const live = st.counters[C_CONNS];
  const avail = live >= limit ? 0 : limit - live;
  const am = sysctl[SYS_AMEMTHRESH] >>> 0;
  const nomem = avail < am;
  const dp = sysctl[SYS_DROP_PACKET] >>> 0;
  if (mode(sysctl, SYS_DROP_PACKET, nomem)) {
    if (dp === 3) {
      ed.dropRate = sysctl[SYS_AM_DROPRATE] | 0;
    } else {
      ed.dropRate = Math.floor(am / (am - avail)) | 0;
      ed.dropCounter = ed.dropRate;
    }
  } else {
    ed.dropRate = 0;
  }
  ed.dropEntry = mode(sysctl, SYS_DROP_ENTRY, nomem);
  ed.tcpDir = mode(sysctl, SYS_SECURE_TCP, nomem) ? DIR_DOS : 0;
}

/** Engine ms since entry `c` last saw a packet (its expiry was set to then + its timeout). */
function idleMs(st: EngineState, c: number): number {
  return (st.sched.nowMs + st.conns.timeout[c] - st.conns.expires[c]) | 0;
}

/** todrop_entry: idle >= 60 s and n in_pkts (1..8): dropped every n-th time. */
function todrop(st: EngineState, c: number): boolean {
  const conns = st.conns;
  if (idleMs(st, c) < IDLE_MS) return false;
  const n = conns.inPkts[c];
  if (n === 0 || n > 8) return false;
  const t = st.edge.todrop;
  const left = t[n] - 1;
  if (left > 0) {
    t[n] = left;
    return false;
  }
  t[n] = n;
  return true;
}

function dropConn(st: EngineState, c: number): void {
  st.conns.free(c);
  st.counters[C_CONN_DROPPED]++;
}

/** ip_vs_random_dropentry: one pass over maxConns / 32 slots from the cursor. */
function dropEntries(st: EngineState): void {
  const conns = st.conns;
  const max = conns.max;
  const n = Math.max(1, max >>> 5);
  let c = st.edge.dropCursor;
  for (let i = 0; i < n; i++) {
    const at = c;
    c = c + 1 === max ? 0 : c + 1;
    if (conns.af[at] === 0 || conns.nControl[at] !== 0) continue;
    const state = conns.state[at];
    if ((conns.flags[at] & IP_VS_CONN_F_TEMPLATE) !== 0) {
      const ops = (st.svcs.flags[conns.svc[at]] & IP_VS_SVC_F_ONEPACKET) !== 0;
      if (ops ? todrop(st, at) : (state & IP_VS_CTPL_S_ASSURED) === 0) dropConn(st, at);
      continue;
    }
    const proto = conns.proto[at];
    if (proto === IPPROTO_TCP) {
      if (state === TCP_S_SYN_RECV || state === TCP_S_SYNACK) dropConn(st, at);
      else if (state === TCP_S_ESTABLISHED && todrop(st, at)) dropConn(st, at);
      continue;
    }
    if (proto === IPPROTO_SCTP) {
      if (state === SCTP_S_INIT1 || state === SCTP_S_INIT) dropConn(st, at);
      else if (state === SCTP_S_ESTABLISHED && todrop(st, at)) dropConn(st, at);
      continue;
    }
    if (todrop(st, at)) dropConn(st, at);
  }
  st.edge.dropCursor = c;
}

/**
 * Evicts one half-open TCP entry (IPv6 if `v6Only`) near the eviction cursor: the first idle
 * EVICT_GRACE_MS or more, else the first seen (a client's ACK may be on its way). True if one went.
 */
function evictHalfOpen(st: EngineState, v6Only: boolean): boolean {
  const conns = st.conns;
  const max = conns.max;
  let c = st.edge.evictCursor;
  const n = Math.min(EVICT_SCAN, max);
  let young = -1;
  for (let i = 0; i < n; i++) {
    const at = c;
    c = c + 1 === max ? 0 : c + 1;
    if (conns.af[at] === 0 || conns.proto[at] !== IPPROTO_TCP) continue;
    if (v6Only && conns.af[at] !== AF_INET6) continue;
    if ((conns.flags[at] & IP_VS_CONN_F_TEMPLATE) !== 0 || conns.nControl[at] !== 0) continue;
    const state = conns.state[at];
    if (state !== TCP_S_SYN_RECV && state !== TCP_S_SYNACK) continue;
    if (idleMs(st, at) < EVICT_GRACE_MS) {
      if (young < 0) young = at;
      continue;
    }
    st.edge.evictCursor = c;
    dropConn(st, at);
    return true;
  }
  st.edge.evictCursor = c;
  if (young < 0) return false;
  dropConn(st, young);
  return true;
}

/** Runs the defense if a period has passed (or a defense sysctl was written): batch start. */
export function defenseTick(st: EngineState): void {
  const ed = st.edge;
  const now = st.sched.nowMs;
  const d = (now - ed.defLastMs) | 0;
  if (!ed.defDue && d >= 0 && d < PERIOD_MS) return;
  ed.defDue = false;
  ed.defLastMs = now;
  updateLevel(st);
  if (ed.dropEntry) dropEntries(st);
}

/**
 * For a packet about to create a connection (after the service lookup, before scheduling):
 * drop_packet's countdown, then the connection limit. Returns 0 or a drop reason.
 */
export function defenseAdmit(st: EngineState, af: number): number {
  const ed = st.edge;
  if (ed.dropRate !== 0) {
    ed.dropCounter--;
    if (ed.dropCounter <= 0) {
      ed.dropCounter = ed.dropRate;
      return R_DROP_PACKET;
    }
  }
  // Out of room is pressure now: drop_entry set (1-3) evicts at once.
  const evict = ed.dropEntry || st.sysctl[SYS_DROP_ENTRY] !== 0;
  const limit = connLimit(st);
  if (st.counters[C_CONNS] >= limit) {
    if (evict && evictHalfOpen(st, false)) return 0;
    if (limit < st.conns.max) return R_CONN_FULL;
  } else if (af === AF_INET6 && !st.conns.hasRoom(AF_INET6) && evict) {
    evictHalfOpen(st, true); // no IPv6 address block left: free one
  }
  return 0;
}

/** A defense sysctl was written: the defense runs again at the next batch. */
export function defenseSysctl(st: EngineState, index: number): void {
  if (index >= SYS_AMEMTHRESH && index <= SYS_CONN_MAX) st.edge.defDue = true;
}
