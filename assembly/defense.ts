// Defense strategies (ip_vs_ctl.c update_defense_level, ip_vs_random_dropentry,
// ip_vs_todrop; ip_vs_conn.c todrop_entry; spec §4.9, §3.4), driven by table pressure: IPVS
// compares free memory with amemthresh, this engine the free entries below the connection
// limit (conn_max, else the table size). Once per second of engine time (at the start of a
// batch): the automatic modes switch on or off; drop_packet sets its rate; drop_entry scans
// 1/32 of the table from a rotating cursor (IPVS: random buckets) and drops half-open TCP
// entries, unassured templates and idle entries with few packets; secure_tcp selects the
// §3.4 state table. When the table (or the IPv6 blocks) has no room and drop_entry is set
// (1-3), a new connection first evicts one half-open TCP entry (a WVS addition: a SYN flood
// fills the table between two scans, and would otherwise starve new clients), an old one
// before one younger than EVICT_GRACE_MS. Established connections are
// never evicted, and the scan drops them only after 60 s idle with at most 8 packets.
import {
  AF_INET6,
  CN_AF,
  CN_EXPIRES,
  CN_FLAGS,
  CN_IN_PKTS,
  CN_N_CONTROL,
  CN_PROTO,
  CN_STATE,
  CN_SVC,
  CN_TIMEOUT,
  CN_USED,
  C_CONNS,
  C_CONN_DROPPED,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IP_VS_CONN_F_TEMPLATE,
  IP_VS_CTPL_S_ASSURED,
  IP_VS_SVC_F_ONEPACKET,
  R_CONN_FULL,
  R_DROP_PACKET,
  SYS_AMEMTHRESH,
  SYS_AM_DROPRATE,
  SYS_CONN_MAX,
  SYS_DROP_ENTRY,
  SYS_DROP_PACKET,
  SCTP_S_ESTABLISHED,
  SCTP_S_INIT,
  SCTP_S_INIT1,
  SYS_SECURE_TCP,
  TCP_S_ESTABLISHED,
  TCP_S_SYNACK,
  TCP_S_SYN_RECV,
  V_DROP,
} from "./abi";
import { connAt, connFree } from "./conn";
import { sysctl } from "./ctl";
import { DIR_DOS } from "./proto/tcp";
import { SV_FLAGS, svcAt } from "./service";
import { Edge, Eng, Mem, Pkt } from "./state";
import { count } from "./stats";

/** Defense runs once per this many ms of engine time (IPVS: every second). */
const PERIOD_MS: u32 = 1000;
/** Entries idle less than this are never dropped by the scan's rule (todrop_entry). */
const IDLE_MS: u32 = 60000;
/** Slots one eviction looks at, at most. */
const EVICT_SCAN: u32 = 256;
/**
 * A half-open entry seen less than this long ago is evicted only when the scan finds no
 * older one: a client's ACK is on its way within a round trip, while a spoofed SYN's entry
 * only ages. (IPVS drops at random; a WVS addition.)
 */
const EVICT_GRACE_MS: i32 = 200;
/** Bytes of the edge region for the 9 todrop countdowns. */
export const TODROP_BYTES: u32 = 64;

@inline function outcome(verdict: u32, reason: u32): u32 {
  return (verdict << 8) | reason;
}

/** The connection limit: conn_max if set and smaller, else the table size. */
@inline function connLimit(): u32 {
  const m = sysctl(SYS_CONN_MAX);
  return m != 0 && m < Mem.maxConns ? m : Mem.maxConns;
}

@inline function liveConns(): u32 {
  return <u32>load<u64>(Mem.counters + (<usize>C_CONNS << 3));
}



/** The engine's own write of a sysctl (the automatic modes switch between 1 and 2). */
@inline function sysctlWrite(index: u32, value: u32): void {
  store<u32>(Mem.sysctls + (<usize>index << 2), value);
}

/** The automatic-mode step of one strategy (0..3); returns whether it is in effect. */
function mode(index: u32, nomem: bool): bool {
  const m = sysctl(index);
  if (m == 1 && nomem) {
    sysctlWrite(index, 2);
    return true;
  }
  if (m == 2 && !nomem) {
    sysctlWrite(index, 1);
    return false;
  }
  return m == 3 || (m == 2 && nomem);
}

/** update_defense_level with table pressure for memory. */
function updateLevel(): void {
  const limit = connLimit();
  const live = liveConns();
  const avail: u32 = live >= limit ? 0 : limit - live;
  const am = sysctl(SYS_AMEMTHRESH);
  const nomem = avail < am;
  // drop_packet: automatic modes drop 1 in amemthresh / (amemthresh - avail), mode 3 1 in am_droprate.
  const dp = sysctl(SYS_DROP_PACKET);
  if (mode(SYS_DROP_PACKET, nomem)) {
    if (dp == 3) {
      Edge.dropRate = <i32>sysctl(SYS_AM_DROPRATE);
    } else {
      Edge.dropRate = <i32>(am / (am - avail));
      Edge.dropCounter = Edge.dropRate;
    }
  } else {
    Edge.dropRate = 0;
  }
  Edge.dropEntry = mode(SYS_DROP_ENTRY, nomem);
  Edge.tcpDir = mode(SYS_SECURE_TCP, nomem) ? DIR_DOS : 0;
}

/** Engine ms since entry `e` last saw a packet (its expiry was set to then + its timeout). */
@inline function idleMs(e: usize): i32 {
  return <i32>(Eng.nowMs + load<u32>(e, CN_TIMEOUT) - load<u32>(e, CN_EXPIRES));
}

/**
 * todrop_entry: an entry idle for 60 s or more with n in_pkts (1..8) is dropped every n-th
 * time the scan meets one with n packets (the countdowns are engine-wide, as IPVS's).
 */
function todrop(e: usize): bool {
  if (idleMs(e) < <i32>IDLE_MS) return false;
  const n = load<u32>(e, CN_IN_PKTS);
  if (n == 0 || n > 8) return false;
  const c = Edge.todrop + (<usize>n << 2);
  const left = load<i32>(c) - 1;
  if (left > 0) {
    store<i32>(c, left);
    return false;
  }
  store<i32>(c, <i32>n);
  return true;
}

function dropConn(slot: u32): void {
  connFree(slot);
  count(C_CONN_DROPPED);
}

/** ip_vs_random_dropentry: one pass over maxConns / 32 slots from the cursor. */
function dropEntries(): void {
  let n = Mem.maxConns >> 5;
  if (n == 0) n = 1;
  let slot = Edge.dropCursor;
  for (let i: u32 = 0; i < n; i++) {
    const e = connAt(slot);
    const at = slot;
    slot = slot + 1 == Mem.maxConns ? 0 : slot + 1;
    if (load<u8>(e, CN_USED) == 0 || load<u16>(e, CN_N_CONTROL) != 0) continue;
    const flags = load<u32>(e, CN_FLAGS);
    const state: u32 = load<u8>(e, CN_STATE);
    if ((flags & IP_VS_CONN_F_TEMPLATE) != 0) {
      // A one-packet service's template goes by the rule; others when not assured.
      const ops = (load<u32>(svcAt(load<u32>(e, CN_SVC)), SV_FLAGS) & IP_VS_SVC_F_ONEPACKET) != 0;
      if (ops ? todrop(e) : (state & IP_VS_CTPL_S_ASSURED) == 0) dropConn(at);
      continue;
    }
    const proto: u32 = load<u8>(e, CN_PROTO);
    if (proto == IPPROTO_TCP) {
      if (state == TCP_S_SYN_RECV || state == TCP_S_SYNACK) dropConn(at);
      else if (state == TCP_S_ESTABLISHED && todrop(e)) dropConn(at);
      continue;
    }
    if (proto == IPPROTO_SCTP) {
      if (state == SCTP_S_INIT1 || state == SCTP_S_INIT) dropConn(at);
      else if (state == SCTP_S_ESTABLISHED && todrop(e)) dropConn(at);
      continue;
    }
    if (todrop(e)) dropConn(at);
  }
  Edge.dropCursor = slot;
}

/**
 * Evicts one half-open TCP entry (SYN_RECV or SYNACK, controlling nothing; an IPv6 one when
 * `v6Only`), looking at up to EVICT_SCAN slots from the eviction cursor: the first one idle
 * for EVICT_GRACE_MS or more, else the first one seen. True when one went.
 */
function evictHalfOpen(v6Only: bool): bool {
  let slot = Edge.evictCursor;
  const n = min<u32>(EVICT_SCAN, Mem.maxConns);
  let young: i32 = -1;
  for (let i: u32 = 0; i < n; i++) {
    const e = connAt(slot);
    const at = slot;
    slot = slot + 1 == Mem.maxConns ? 0 : slot + 1;
    if (load<u8>(e, CN_USED) == 0 || load<u8>(e, CN_PROTO) != IPPROTO_TCP) continue;
    if (v6Only && load<u8>(e, CN_AF) != AF_INET6) continue;
    if ((load<u32>(e, CN_FLAGS) & IP_VS_CONN_F_TEMPLATE) != 0) continue;
    if (load<u16>(e, CN_N_CONTROL) != 0) continue;
    const state: u32 = load<u8>(e, CN_STATE);
    if (state != TCP_S_SYN_RECV && state != TCP_S_SYNACK) continue;
    if (idleMs(e) < EVICT_GRACE_MS) {
      if (young < 0) young = <i32>at;
      continue;
    }
    Edge.evictCursor = slot;
    dropConn(at);
    return true;
  }
  Edge.evictCursor = slot;
  if (young < 0) return false;
  dropConn(<u32>young);
  return true;
}

/** Runs the defense if a period has passed (or a defense sysctl was written): batch start. */
export function defenseTick(): void {
  const d = <i32>(Eng.nowMs - Edge.defLastMs);
  if (!Edge.defDue && d >= 0 && d < <i32>PERIOD_MS) return;
  Edge.defDue = false;
  Edge.defLastMs = Eng.nowMs;
  updateLevel();
  if (Edge.dropEntry) dropEntries();
}

/**
 * For a packet about to create a connection (after the service lookup, before scheduling):
 * drop_packet's countdown, then the connection limit. Returns 0 or a DROP outcome.
 */
export function defenseAdmit(): u32 {
  if (Edge.dropRate != 0) {
    Edge.dropCounter--;
    if (Edge.dropCounter <= 0) {
      Edge.dropCounter = Edge.dropRate;
      return outcome(V_DROP, R_DROP_PACKET);
    }
  }
  // Out of room is pressure now: an automatic drop_entry would switch on at the next second,
  // so it evicts at once (as it does in effect).
  const evict = Edge.dropEntry || sysctl(SYS_DROP_ENTRY) != 0;
  const limit = connLimit();
  if (liveConns() >= limit) {
    if (evict && evictHalfOpen(false)) return 0;
    // At conn_max: refused here. At the table size: the create fails as it always did.
    if (limit < Mem.maxConns) return outcome(V_DROP, R_CONN_FULL);
  } else if (Pkt.af == AF_INET6 && Eng.conn6Top == 0 && evict) {
    evictHalfOpen(true); // no IPv6 address block left: free one
  }
  return 0;
}

/** A defense sysctl was written: the defense runs again at the next batch (IPVS: at once). */
export function defenseSysctl(index: u32): void {
  if (index >= SYS_AMEMTHRESH && index <= SYS_CONN_MAX) Edge.defDue = true;
}

/** Initial state, at init; `todrop` is TODROP_BYTES of the edge region. */
export function defenseReset(todrop: usize): void {
  Edge.todrop = todrop;
  memory.fill(todrop, 0, TODROP_BYTES);
  Edge.defLastMs = 0;
  Edge.defDue = true;
  Edge.dropRate = 0;
  Edge.dropCounter = 0;
  Edge.dropEntry = false;
  Edge.dropCursor = 0;
  Edge.evictCursor = 0;
  Edge.tcpDir = 0;
}
