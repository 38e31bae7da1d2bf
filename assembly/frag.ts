// IPv4 and IPv6 fragments (spec §4.6; IPVS sees reassembled IPv4 and, for IPv6, lets later
// fragments follow the first one's entry). Policy: tracking, not reassembly. The first
// fragment (offset 0) goes through the pipeline with its L4 header (ports rewritten, the L4
// checksum updated incrementally; a UDP checksum of 0 stays 0, the datagram not being whole
// here); its outcome is kept under (af, src, dst, id, protocol) for FRAG_TIMEOUT seconds in
// a FRAG_TRACK-entry 4-way set-associative table (a full set replaces its oldest entry). The
// other fragments follow: TX on the same entry (NAT rewrites the address only), or the same
// pass, or a drop (fragment). A fragment that comes before its first one is copied into one
// of FRAG_HOLD engine-owned slots (frag_held) and sent in the batch that brings the first
// one, or freed after FRAG_TIMEOUT; with all of them taken it is dropped (fragment).
// Fragments of protocols the engine does not balance are passed (not_l4). Memory is fixed:
// FRAG_TRACK × 64 + FRAG_HOLD × (64 + SLOT_SIZE) bytes.
import {
  AF_INET,
  CN_CPORT,
  CN_DADDR,
  CN_DEST,
  CN_DPORT,
  CN_EXPIRES,
  CN_EXT,
  CN_SVC,
  CN_TIMEOUT,
  CN_USED,
  CN_VADDR,
  CN_VPORT,
  FRAG_HOLD,
  FRAG_TIMEOUT,
  FRAG_TRACK,
  HEADROOM,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IP_VS_DEST_F_AVAILABLE,
  R_DEST_UNAVAILABLE,
  R_FRAGMENT,
  R_FRAG_HELD,
  R_NOT_L4,
  SLOT_SIZE,
  V_DROP,
  V_PASS,
  V_TX,
} from "./abi";
import { C6_DADDR, C6_VADDR, NIL, conn6At, connAt, connInGet, connOutGet } from "./conn";
import { DS_FLAGS, destAt } from "./dest";
import { PK_ADDR, PK_FRAG1, PK_L4 } from "./edge";
import { Edge, Eng, Mem, Pkt } from "./state";
import { statsPacket } from "./stats";
import { xmit } from "./xmit";
import { copy16, equal16, load16be } from "./wire/bytes";
import {
  csumFinish,
  csumUpdate128,
  csumUpdate16,
  csumUpdate32,
  csumUpdateStart,
} from "./wire/checksum";
import { TCP_CSUM } from "./wire/tcp";
import { UDP_CSUM, udpCsumOut } from "./wire/udp";

export const FRAG_FIRST: u32 = 1;
export const FRAG_LATER: u32 = 2;

// ---- Tracking entry (FT_SIZE bytes) ----------------------------------------------------
//  0 kind u8 (0 free, KIND_*) | 1 af | 2 proto | 3 out | 4 id u32 (raw) | 8 expires (ms)
// 12 conn slot | 16 cport | 18 vport (in) or dport (out) | 20 reason u8 | 24 src | 40 dst
const FT_SIZE: u32 = 64;
const WAYS: u32 = 4;
const SET_MASK: u32 = FRAG_TRACK / WAYS - 1;
const KIND_TX: u8 = 1;
const KIND_PASS: u8 = 2;
const KIND_DROP: u8 = 3;

// ---- Held fragment (FH_SIZE bytes); its frame is in slot 2 × batch + i -------------------
//  0 state u8 (0 free, 1 held, 2 sent this batch) | 1 af | 2 proto | 3 l3 | 4 id | 8 expires
// 12 frame length u16 | 14 payload offset from the IP header u16 | 16 src | 32 dst
const FH_SIZE: u32 = 64;
const HELD: u8 = 1;
const SENT: u8 = 2;

/** Edge region bytes: the table, the held records, the current key (2 × 16). */
export const FRAG_BYTES: u32 = FRAG_TRACK * FT_SIZE + FRAG_HOLD * FH_SIZE + 32;

@inline function outcome(verdict: u32, reason: u32): u32 {
  return (verdict << 8) | reason;
}

@inline function holdAt(i: u32): usize {
  return Edge.fragHold + <usize>i * FH_SIZE;
}

@inline function holdSlot(i: u32): u32 {
  return Mem.batch * 2 + i;
}

@inline function expired(at: u32): bool {
  return <i32>(Eng.nowMs - at) >= 0;
}

/** IPv4: a fragment (MF or an offset): FRAG_FIRST or FRAG_LATER. Called by the parser. */
export function frag4Note(ip: usize): void {
  Pkt.frag = (load16be(ip + 6) & 0x1fff) == 0 ? FRAG_FIRST : FRAG_LATER;
  Pkt.fragId = load<u16>(ip, 4);
  Pkt.kind = Pkt.frag == FRAG_FIRST ? PK_FRAG1 : PK_ADDR;
}

/**
 * IPv6: the fragment header at `h`. Returns true for a non-first fragment (the header walk
 * stops there). An atomic fragment (offset 0, M clear, RFC 6946) is no fragment.
 */
export function frag6Note(h: usize): bool {
  const w = load16be(h + 2);
  const offset = w & 0xfff8;
  if (offset == 0 && (w & 1) == 0) return false;
  Pkt.frag = offset == 0 ? FRAG_FIRST : FRAG_LATER;
  Pkt.fragId = load<u32>(h, 4);
  Pkt.fragProto = load<u8>(h);
  Pkt.kind = Pkt.frag == FRAG_FIRST ? PK_FRAG1 : PK_ADDR;
  return offset != 0;
}

/** After the IP header is parsed: keeps the key as received. True for a non-first fragment. */
export function fragNoted(): bool {
  const v4 = Pkt.af == AF_INET;
  if (v4) Pkt.fragProto = Pkt.proto;
  const k = Edge.fragKey;
  memory.fill(k, 0, 32);
  memory.copy(k, Pkt.saddr, v4 ? 4 : 16);
  memory.copy(k + 16, Pkt.daddr, v4 ? 4 : 16);
  return Pkt.frag == FRAG_LATER;
}

/** The set of (af, src, dst, id, protocol), hashed the same way by both engines. */
function setOf(): usize {
  const k = Edge.fragKey;
  const v4 = Pkt.af == AF_INET;
  let h: u32 = Pkt.fragId * 0x9e3779b1;
  h ^= load<u32>(k + (v4 ? 0 : 12));
  h = h * 0x85ebca77;
  h ^= load<u32>(k + (v4 ? 16 : 28)) ^ (Pkt.fragProto << 24) ^ Pkt.af;
  h ^= h >> 15;
  return Edge.fragTrack + <usize>((h & SET_MASK) * WAYS) * FT_SIZE;
}

@inline function keyIs(t: usize, src: usize, dst: usize): bool {
  return load<u8>(t, 1) == Pkt.af && load<u8>(t, 2) == Pkt.fragProto &&
    load<u32>(t, 4) == Pkt.fragId && equal16(t + 24, src) && equal16(t + 40, dst);
}

/** True when held record `h` is a fragment of the current datagram. */
@inline function heldIs(h: usize): bool {
  const k = Edge.fragKey;
  return load<u8>(h, 1) == Pkt.af && load<u8>(h, 2) == Pkt.fragProto &&
    load<u32>(h, 4) == Pkt.fragId && equal16(h + 16, k) && equal16(h + 32, k + 16);
}

/** The live tracking entry of the current fragment, or 0. */
function trackFind(): usize {
  const k = Edge.fragKey;
  let t = setOf();
  for (let w: u32 = 0; w < WAYS; w++, t += FT_SIZE) {
    if (load<u8>(t) != 0 && !expired(load<u32>(t, 8)) && keyIs(t, k, k + 16)) return t;
  }
  return 0;
}

/** Records the first fragment's outcome: the entry with its key, or a set's oldest way. */
function trackPut(kind: u8, conn: u32, out: bool, reason: u32): void {
  const k = Edge.fragKey;
  const set = setOf();
  let victim: usize = 0;
  let best: i32 = i32.MAX_VALUE;
  let t = set;
  for (let w: u32 = 0; w < WAYS; w++, t += FT_SIZE) {
    const left = <i32>(load<u32>(t, 8) - Eng.nowMs);
    if (load<u8>(t) == 0 || left <= 0 || keyIs(t, k, k + 16)) {
      victim = t;
      break;
    }
    if (left < best) {
      best = left;
      victim = t;
    }
  }
  store<u8>(victim, kind);
  store<u8>(victim, <u8>Pkt.af, 1);
  store<u8>(victim, <u8>Pkt.fragProto, 2);
  store<u8>(victim, out ? 1 : 0, 3);
  store<u32>(victim, Pkt.fragId, 4);
  store<u32>(victim, Eng.nowMs + FRAG_TIMEOUT * 1000, 8);
  store<u32>(victim, conn, 12);
  store<u16>(victim, <u16>(out ? Pkt.dport : Pkt.sport), 16);
  store<u16>(victim, <u16>(out ? Pkt.sport : Pkt.dport), 18);
  store<u8>(victim, <u8>reason, 20);
  copy16(victim + 24, k);
  copy16(victim + 40, k + 16);
}

/** A later fragment on entry `e` (direction `out`): stats, timer, transmit (address only). */
function forward(e: usize, out: bool): u32 {
  const dest = load<u32>(e, CN_DEST);
  if ((load<u32>(destAt(dest), DS_FLAGS) & IP_VS_DEST_F_AVAILABLE) == 0) {
    return outcome(V_DROP, R_DEST_UNAVAILABLE);
  }
  statsPacket(load<u32>(e, CN_SVC), dest, out, Pkt.iplen);
  store<u32>(e, Eng.nowMs + load<u32>(e, CN_TIMEOUT), CN_EXPIRES);
  Pkt.kind = PK_ADDR;
  return xmit(e, out);
}

/** The tracked entry of `t` if it is still the connection the first fragment went on. */
function trackedConn(t: usize): usize {
  const e = connAt(load<u32>(t, 12));
  const out = load<u8>(t, 3) != 0;
  if (load<u8>(e, CN_USED) == 0 || load<u16>(e, CN_CPORT) != load<u16>(t, 16)) return 0;
  if (load<u16>(e + (out ? CN_DPORT : CN_VPORT)) != load<u16>(t, 18)) return 0;
  return e;
}

/** Frees held fragments that timed out. */
function holdExpire(): void {
  for (let i: u32 = 0; i < FRAG_HOLD && Edge.fragHeld > 0; i++) {
    const h = holdAt(i);
    if (load<u8>(h) == HELD && expired(load<u32>(h, 8))) {
      store<u8>(h, 0);
      Edge.fragHeld--;
    }
  }
}

/** Copies the current (non-first) fragment into a free held slot. */
function hold(): u32 {
  if (Edge.fragHeld >= FRAG_HOLD) holdExpire();
  let i: u32 = 0;
  while (i < FRAG_HOLD && load<u8>(holdAt(i)) != 0) i++;
  if (i == FRAG_HOLD) return outcome(V_DROP, R_FRAGMENT);
  const h = holdAt(i);
  const len = Pkt.l3 + Pkt.iplen;
  memory.copy(Mem.slots + <usize>holdSlot(i) * SLOT_SIZE + HEADROOM, Pkt.frame, len);
  store<u8>(h, HELD);
  store<u8>(h, <u8>Pkt.af, 1);
  store<u8>(h, <u8>Pkt.fragProto, 2);
  store<u8>(h, <u8>Pkt.l3, 3);
  store<u32>(h, Pkt.fragId, 4);
  store<u32>(h, Eng.nowMs + FRAG_TIMEOUT * 1000, 8);
  store<u16>(h, <u16>len, 12);
  store<u16>(h, <u16>(Pkt.l4 - Pkt.ip), 14);
  copy16(h + 16, Edge.fragKey);
  copy16(h + 32, Edge.fragKey + 16);
  Edge.fragHeld++;
  return outcome(V_DROP, R_FRAG_HELD);
}

/** A non-first fragment (core.ts via edge.ts otherL4): follow, hold, pass or drop. */
export function fragLater(): u32 {
  const p = Pkt.fragProto;
  if (p != IPPROTO_TCP && p != IPPROTO_UDP) return outcome(V_PASS, R_NOT_L4);
  const t = trackFind();
  if (t == 0) return hold();
  const kind = load<u8>(t);
  if (kind == KIND_PASS) return outcome(V_PASS, load<u8>(t, 20));
  const e = kind == KIND_TX ? trackedConn(t) : 0;
  if (e == 0) return outcome(V_DROP, R_FRAGMENT);
  return forward(e, load<u8>(t, 3) != 0);
}

/** Points Pkt at held fragment `i` (its frame in its slot) to send it. */
function loadHeld(i: u32, h: usize): void {
  const f = Mem.slots + <usize>holdSlot(i) * SLOT_SIZE + HEADROOM;
  const l3: u32 = load<u8>(h, 3);
  const v4 = load<u8>(h, 1) == AF_INET;
  Pkt.frame = f;
  Pkt.slot = holdSlot(i);
  Pkt.l3 = l3;
  Pkt.ip = f + l3;
  Pkt.iplen = <u32>load<u16>(h, 12) - l3;
  Pkt.l4 = Pkt.ip + load<u16>(h, 14);
  Pkt.l4len = Pkt.iplen - load<u16>(h, 14);
  Pkt.saddr = Pkt.ip + (v4 ? 12 : 8);
  Pkt.daddr = Pkt.ip + (v4 ? 16 : 24);
  Pkt.frag = FRAG_LATER;
}

/**
 * After a first fragment's outcome `v` (core.ts frame): remember it, and send (or free) the
 * fragments of the same datagram that came before it. Returns `v`.
 */
export function fragFirst(v: u32): u32 {
  const verdict = v >> 8;
  const k = Edge.fragKey;
  let kind = KIND_DROP;
  let conn = NIL;
  let out = false;
  if (verdict == V_TX) {
    // The entry the fragment went on, looked up with the addresses as they came in.
    conn = connInGet(Pkt.af, Pkt.proto, k, Pkt.sport, k + 16, Pkt.dport);
    if (conn == NIL) {
      conn = connOutGet(Pkt.af, Pkt.proto, k, Pkt.sport, k + 16, Pkt.dport);
      out = true;
    }
    if (conn != NIL) kind = KIND_TX;
  } else if (verdict == V_PASS) {
    kind = KIND_PASS;
  }
  trackPut(kind, conn, out, v & 0xff);
  if (Edge.fragHeld > 0) {
    const e = kind == KIND_TX ? connAt(conn) : 0;
    for (let i: u32 = 0; i < FRAG_HOLD; i++) {
      const h = holdAt(i);
      if (load<u8>(h) != HELD || !heldIs(h)) continue;
      Edge.fragHeld--;
      store<u8>(h, 0);
      if (e == 0) continue;
      loadHeld(i, h);
      if ((forward(e, out) >> 8) == V_TX) {
        store<u8>(h, SENT);
        Edge.fragSent++;
      }
    }
  }
  Pkt.kind = PK_L4;
  Pkt.frag = 0;
  return v;
}

/** At the start of a batch: held slots sent in the last one are free again; timeouts. */
export function fragBatch(): void {
  if (Edge.fragSent > 0) {
    for (let i: u32 = 0; i < FRAG_HOLD; i++) {
      if (load<u8>(holdAt(i)) == SENT) store<u8>(holdAt(i), 0);
    }
    Edge.fragSent = 0;
  }
  if (Edge.fragHeld > 0 && <u32>(Eng.nowMs - Edge.fragLastMs) >= 1000) {
    Edge.fragLastMs = Eng.nowMs;
    holdExpire();
  }
}

/**
 * NAT of a fragment (xmit.ts via edge.ts natEdge): a later one (PK_ADDR) has its address
 * rewritten only, in -> destination := real server, out -> source := VIP; a first one
 * (PK_FRAG1) its port too, with the L4 checksum updated incrementally (it covers the whole
 * datagram, and the change is the same); a UDP checksum of 0 stays 0. Returns the IPv4
 * header sum.
 */
export function fragNat(e: usize, out: bool, ipSum: u64): u64 {
  const v4 = Pkt.af == AF_INET;
  const field = out ? Pkt.saddr : Pkt.daddr;
  const newA = v4 ? e + (out ? CN_VADDR : CN_DADDR) : conn6At(load<u32>(e, CN_EXT)) + (out ? C6_VADDR : C6_DADDR);
  let s: u64 = 0;
  if (v4) {
    const a = load<u32>(field);
    const b = load<u32>(newA);
    ipSum = csumUpdate32(ipSum, a, b);
    s = csumUpdate32(s, a, b);
    store<u32>(field, b);
  } else {
    s = csumUpdate128(s, field, newA);
    copy16(field, newA);
  }
  if (Pkt.kind != PK_FRAG1) return ipSum;
  const l4 = Pkt.l4;
  const portField = l4 + (out ? 0 : 2);
  const newPort: u32 = load<u16>(e + (out ? CN_VPORT : CN_DPORT));
  s = csumUpdate16(s, load<u16>(portField), newPort);
  store<u16>(portField, <u16>newPort);
  const tcp = Pkt.proto == IPPROTO_TCP;
  const csum = l4 + (tcp ? TCP_CSUM : UDP_CSUM);
  const check: u32 = load<u16>(csum);
  if (!tcp && check == 0) return ipSum;
  const c = csumFinish(s + csumUpdateStart(check));
  store<u16>(csum, <u16>(tcp ? c : udpCsumOut(c)));
  return ipSum;
}

/** Initial state, at init; `at` is FRAG_BYTES of the edge region. */
export function fragReset(at: usize): void {
  Edge.fragTrack = at;
  Edge.fragHold = at + <usize>FRAG_TRACK * FT_SIZE;
  Edge.fragKey = Edge.fragHold + <usize>FRAG_HOLD * FH_SIZE;
  memory.fill(at, 0, FRAG_BYTES);
  Edge.fragHeld = 0;
  Edge.fragSent = 0;
  Edge.fragLastMs = 0;
}
