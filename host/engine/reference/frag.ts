// IPv4 and IPv6 fragments: tracking, not reassembly (spec §4.6; ARCHITECTURE.md issue 7).
// The first fragment goes through the pipeline with its L4 header; its outcome is kept
// under (af, src, dst, id, protocol) for FRAG_TIMEOUT s in a 4-way set-associative table of
// FRAG_TRACK entries (a full set replaces its oldest), and the datagram's other fragments
// follow it (TX on the same entry, address-only NAT; or the same pass; or dropped). Early
// fragments wait in FRAG_HOLD engine-owned slots until their first one comes (frag_held),
// else are freed after FRAG_TIMEOUT. Mirrors assembly/frag.ts. Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import { PK_ADDR, PK_FRAG1, PK_L4 } from "./edge.ts";
import type { EngineState, Packet } from "./state.ts";
import { countPacket } from "./stats.ts";
import * as checksumWire from "./wire/checksum.ts";
import { transmit } from "./xmit.ts";

const {
  AF_INET,
  C_IN_BYTES,
  C_IN_PKTS,
  C_OUT_BYTES,
  C_OUT_PKTS,
  FRAG_HOLD,
  FRAG_TIMEOUT,
  FRAG_TRACK,
  HEADROOM,
  IP_VS_DEST_F_AVAILABLE,
  IPPROTO_TCP,
  IPPROTO_UDP,
  R_DEST_UNAVAILABLE,
  R_FRAG_HELD,
  R_FRAGMENT,
  R_NONE,
  R_NOT_L4,
  REASON_PASS_MASK,
  SLOT_SIZE,
} = abi;
const { delta16, delta32, update } = checksumWire;

export const FRAG_FIRST = 1;
export const FRAG_LATER = 2;
const WAYS = 4;
const SET_MASK = FRAG_TRACK / WAYS - 1;
const KIND_TX = 1;
const KIND_PASS = 2;
const KIND_DROP = 3;
const HELD = 1;
const SENT = 2;

/** The fragment state of the reference engine (hung off EdgeState). */
export class FragState {
  readonly kind = new Uint8Array(FRAG_TRACK);
  readonly af = new Uint8Array(FRAG_TRACK);
  readonly proto = new Uint8Array(FRAG_TRACK);
  readonly out = new Uint8Array(FRAG_TRACK);
  readonly id = new Uint32Array(FRAG_TRACK);
  readonly expires = new Uint32Array(FRAG_TRACK);
  readonly conn = new Int32Array(FRAG_TRACK);
  readonly cport = new Uint16Array(FRAG_TRACK);
  readonly xport = new Uint16Array(FRAG_TRACK);
  readonly reason = new Uint8Array(FRAG_TRACK);
  readonly src = new Uint32Array(FRAG_TRACK * 4);
  readonly dst = new Uint32Array(FRAG_TRACK * 4);
  readonly hState = new Uint8Array(FRAG_HOLD);
  readonly hAf = new Uint8Array(FRAG_HOLD);
  readonly hProto = new Uint8Array(FRAG_HOLD);
  readonly hL3 = new Uint8Array(FRAG_HOLD);
  readonly hId = new Uint32Array(FRAG_HOLD);
  readonly hExpires = new Uint32Array(FRAG_HOLD);
  readonly hLen = new Uint16Array(FRAG_HOLD);
  readonly hL4 = new Uint16Array(FRAG_HOLD);
  readonly hSrc = new Uint32Array(FRAG_HOLD * 4);
  readonly hDst = new Uint32Array(FRAG_HOLD * 4);
  /** The current fragment's source and destination words as received. */
  readonly key = new Uint32Array(8);
  held = 0;
  sent = 0;
  lastMs = 0;
}

function expired(now: number, at: number): boolean {
  return ((now - at) | 0) >= 0;
}

/** IPv4: a fragment (MF or an offset). */
export function frag4Note(u8: Uint8Array, dv: DataView, p: Packet, ip: number): void {
  p.frag = (((u8[ip + 6] << 8) | u8[ip + 7]) & 0x1fff) === 0 ? FRAG_FIRST : FRAG_LATER;
  p.fragId = dv.getUint16(ip + 4, true);
  p.kind = p.frag === FRAG_FIRST ? PK_FRAG1 : PK_ADDR;
}

/** IPv6 fragment header at `h`: true for a non-first fragment. Atomic fragments are none. */
export function frag6Note(u8: Uint8Array, dv: DataView, p: Packet, h: number): boolean {
  const w = (u8[h + 2] << 8) | u8[h + 3];
  const offset = w & 0xfff8;
  if (offset === 0 && (w & 1) === 0) return false;
  p.frag = offset === 0 ? FRAG_FIRST : FRAG_LATER;
  p.fragId = dv.getUint32(h + 4, true);
  p.fragProto = u8[h];
  p.kind = p.frag === FRAG_FIRST ? PK_FRAG1 : PK_ADDR;
  return offset !== 0;
}

/** After the IP header: keeps the key as received; true for a non-first fragment. */
export function fragNoted(st: EngineState, p: Packet): boolean {
  if (p.af === AF_INET) p.fragProto = p.proto;
  const k = st.edge.frag.key;
  k[0] = p.s0, k[1] = p.s1, k[2] = p.s2, k[3] = p.s3;
  k[4] = p.d0, k[5] = p.d1, k[6] = p.d2, k[7] = p.d3;
  return p.frag === FRAG_LATER;
}

/** The first way of the key's set (the same hash as assembly/frag.ts). */
function setOf(st: EngineState, p: Packet): number {
  const k = st.edge.frag.key;
  const v4 = p.af === AF_INET;
  let h = Math.imul(p.fragId, 0x9e3779b1);
  h ^= v4 ? k[0] : k[3];
  h = Math.imul(h, 0x85ebca77);
  h ^= (v4 ? k[4] : k[7]) ^ (p.fragProto << 24) ^ p.af;
  h ^= h >>> 15;
  return (h & SET_MASK) * WAYS;
}

function keyIs(f: FragState, t: number, p: Packet): boolean {
  const k = f.key;
  const o = t * 4;
  return f.af[t] === p.af && f.proto[t] === p.fragProto && f.id[t] === p.fragId &&
    f.src[o] === k[0] && f.src[o + 1] === k[1] && f.src[o + 2] === k[2] && f.src[o + 3] === k[3] &&
    f.dst[o] === k[4] && f.dst[o + 1] === k[5] && f.dst[o + 2] === k[6] && f.dst[o + 3] === k[7];
}

function heldIs(f: FragState, h: number, p: Packet): boolean {
  const k = f.key;
  const o = h * 4;
  return f.hAf[h] === p.af && f.hProto[h] === p.fragProto && f.hId[h] === p.fragId &&
    f.hSrc[o] === k[0] && f.hSrc[o + 1] === k[1] && f.hSrc[o + 2] === k[2] &&
    f.hSrc[o + 3] === k[3] && f.hDst[o] === k[4] && f.hDst[o + 1] === k[5] &&
    f.hDst[o + 2] === k[6] && f.hDst[o + 3] === k[7];
}

function trackFind(st: EngineState, p: Packet): number {
  const f = st.edge.frag;
  const now = st.sched.nowMs;
  const set = setOf(st, p);
  for (let t = set; t < set + WAYS; t++) {
    if (f.kind[t] !== 0 && !expired(now, f.expires[t]) && keyIs(f, t, p)) return t;
  }
  return -1;
}

function trackPut(
  st: EngineState,
  p: Packet,
  kind: number,
  conn: number,
  out: boolean,
  reason: number,
): void {
  const f = st.edge.frag;
  const now = st.sched.nowMs;
  const set = setOf(st, p);
  let victim = set;
  let best = 0x7fffffff;
  for (let t = set; t < set + WAYS; t++) {
    const left = (f.expires[t] - now) | 0;
    if (f.kind[t] === 0 || left <= 0 || keyIs(f, t, p)) {
      victim = t;
      break;
    }
    if (left < best) {
      best = left;
      victim = t;
    }
  }
  const t = victim;
  f.kind[t] = kind;
  f.af[t] = p.af;
  f.proto[t] = p.fragProto;
  f.out[t] = out ? 1 : 0;
  f.id[t] = p.fragId;
  f.expires[t] = (now + FRAG_TIMEOUT * 1000) >>> 0;
  f.conn[t] = conn;
  f.cport[t] = out ? p.dport : p.sport;
  f.xport[t] = out ? p.sport : p.dport;
  f.reason[t] = reason;
  f.src.set(f.key.subarray(0, 4), t * 4);
  f.dst.set(f.key.subarray(4, 8), t * 4);
}

/** A later fragment on entry `c`: stats, timer, transmit (address-only NAT) at TX `tx`. */
function forward(st: EngineState, p: Packet, c: number, out: boolean, tx: number): number {
  const conns = st.conns;
  const d = conns.dest[c];
  if ((st.dests.flags[d] & IP_VS_DEST_F_AVAILABLE) === 0) return R_DEST_UNAVAILABLE;
  const ctr = st.counters;
  countPacket(st.dests.stats, d, out, p.iplen);
  countPacket(st.svcs.stats, conns.svc[c], out, p.iplen);
  ctr[out ? C_OUT_PKTS : C_IN_PKTS]++;
  ctr[out ? C_OUT_BYTES : C_IN_BYTES] += p.iplen;
  conns.expires[c] = (st.sched.nowMs + conns.timeout[c]) >>> 0;
  p.kind = PK_ADDR;
  return transmit(st, p, c, out, p.rx, tx);
}

function trackedConn(st: EngineState, t: number): number {
  const f = st.edge.frag;
  const conns = st.conns;
  const c = f.conn[t];
  if (c < 0 || conns.af[c] === 0 || conns.cport[c] !== f.cport[t]) return -1;
  if ((f.out[t] ? conns.dport[c] : conns.vport[c]) !== f.xport[t]) return -1;
  return c;
}

function holdExpire(st: EngineState): void {
  const f = st.edge.frag;
  const now = st.sched.nowMs;
  for (let i = 0; i < FRAG_HOLD && f.held > 0; i++) {
    if (f.hState[i] === HELD && expired(now, f.hExpires[i])) {
      f.hState[i] = 0;
      f.held--;
    }
  }
}

function hold(st: EngineState, p: Packet): number {
  const f = st.edge.frag;
  if (f.held >= FRAG_HOLD) holdExpire(st);
  let i = 0;
  while (i < FRAG_HOLD && f.hState[i] !== 0) i++;
  if (i === FRAG_HOLD) return R_FRAGMENT;
  const len = p.l3 + p.iplen;
  const at = st.slots + (st.batch * 2 + i) * SLOT_SIZE + HEADROOM;
  st.u8.copyWithin(at, p.base, p.base + len);
  f.hState[i] = HELD;
  f.hAf[i] = p.af;
  f.hProto[i] = p.fragProto;
  f.hL3[i] = p.l3;
  f.hId[i] = p.fragId;
  f.hExpires[i] = (st.sched.nowMs + FRAG_TIMEOUT * 1000) >>> 0;
  f.hLen[i] = len;
  f.hL4[i] = p.th - p.ip;
  f.hSrc.set(f.key.subarray(0, 4), i * 4);
  f.hDst.set(f.key.subarray(4, 8), i * 4);
  f.held++;
  return R_FRAG_HELD;
}

/** A non-first fragment (edge.ts otherL4): follow, hold, pass or drop. R_NONE is TX at p.tx. */
export function fragLater(st: EngineState, p: Packet): number {
  const pr = p.fragProto;
  if (pr !== IPPROTO_TCP && pr !== IPPROTO_UDP) return R_NOT_L4;
  const t = trackFind(st, p);
  if (t < 0) return hold(st, p);
  const f = st.edge.frag;
  if (f.kind[t] === KIND_PASS) return f.reason[t];
  const c = f.kind[t] === KIND_TX ? trackedConn(st, t) : -1;
  if (c < 0) return R_FRAGMENT;
  return forward(st, p, c, f.out[t] !== 0, p.tx);
}

/** Points `p` at held fragment `i` to send it. */
function loadHeld(st: EngineState, p: Packet, i: number): void {
  const f = st.edge.frag;
  const dv = st.dv;
  const l3 = f.hL3[i];
  const v4 = f.hAf[i] === AF_INET;
  p.slot = st.batch * 2 + i;
  p.base = st.slots + p.slot * SLOT_SIZE + HEADROOM;
  p.l3 = l3;
  p.ip = p.base + l3;
  p.iplen = f.hLen[i] - l3;
  p.th = p.ip + f.hL4[i];
  p.frag = FRAG_LATER;
  const s = p.ip + (v4 ? 12 : 8), d = p.ip + (v4 ? 16 : 24);
  p.s0 = dv.getUint32(s, true);
  p.d0 = dv.getUint32(d, true);
  p.s1 = v4 ? 0 : dv.getUint32(s + 4, true);
  p.s2 = v4 ? 0 : dv.getUint32(s + 8, true);
  p.s3 = v4 ? 0 : dv.getUint32(s + 12, true);
  p.d1 = v4 ? 0 : dv.getUint32(d + 4, true);
  p.d2 = v4 ? 0 : dv.getUint32(d + 8, true);
  p.d3 = v4 ? 0 : dv.getUint32(d + 12, true);
}

/**
 * After a first fragment's outcome `reason` (R_NONE: transmitted): remember it and send (or
 * free) the held fragments of the same datagram, as TX descriptors after the frame's own.
 */
export function fragFirst(st: EngineState, p: Packet, reason: number): number {
  const f = st.edge.frag;
  const k = f.key;
  const conns = st.conns;
  let kind = KIND_DROP;
  let c = -1;
  let out = false;
  if (reason === R_NONE) {
    // The entry it went on, looked up with the addresses as received.
    const s0 = p.s0, s1 = p.s1, s2 = p.s2, s3 = p.s3, d0 = p.d0, d1 = p.d1, d2 = p.d2, d3 = p.d3;
    p.s0 = k[0], p.s1 = k[1], p.s2 = k[2], p.s3 = k[3];
    p.d0 = k[4], p.d1 = k[5], p.d2 = k[6], p.d3 = k[7];
    c = conns.inGet(p);
    if (c < 0) {
      c = conns.outGet(p);
      out = true;
    }
    p.s0 = s0, p.s1 = s1, p.s2 = s2, p.s3 = s3, p.d0 = d0, p.d1 = d1, p.d2 = d2, p.d3 = d3;
    if (c >= 0) kind = KIND_TX;
  } else if (reason < 32 && ((REASON_PASS_MASK >>> reason) & 1) !== 0) {
    kind = KIND_PASS;
  }
  trackPut(st, p, kind, c, out, reason);
  if (f.held > 0) {
    for (let i = 0; i < FRAG_HOLD; i++) {
      if (f.hState[i] !== HELD || !heldIs(f, i, p)) continue;
      f.held--;
      f.hState[i] = 0;
      if (kind !== KIND_TX) continue;
      loadHeld(st, p, i);
      const tx = p.tx + (reason === R_NONE ? 1 : 0) + st.edge.gen;
      if (forward(st, p, c, out, tx) === R_NONE) {
        st.edge.gen++;
        f.hState[i] = SENT;
        f.sent++;
      }
    }
  }
  p.kind = PK_L4;
  p.frag = 0;
  return reason;
}

/** At the start of a batch: slots sent in the last one are free again; timeouts. */
export function fragBatch(st: EngineState): void {
  const f = st.edge.frag;
  if (f.sent > 0) {
    for (let i = 0; i < FRAG_HOLD; i++) if (f.hState[i] === SENT) f.hState[i] = 0;
    f.sent = 0;
  }
  const now = st.sched.nowMs;
  if (f.held > 0 && ((now - f.lastMs) >>> 0) >= 1000) {
    f.lastMs = now;
    holdExpire(st);
  }
}

/**
 * NAT of a fragment: a later one (PK_ADDR) has its address rewritten only; a first one
 * (PK_FRAG1) its port too, the L4 checksum updated incrementally (a UDP 0 stays 0). Returns
 * the RFC 1624 terms the IPv4 header checksum still needs (0 for IPv6).
 */
export function fragNat(st: EngineState, p: Packet, c: number, out: boolean): number {
  const dv = st.dv;
  const conns = st.conns;
  const v4 = p.af === AF_INET;
  const at = p.ip + (out ? (v4 ? 12 : 8) : (v4 ? 16 : 24));
  let hdr = 0;
  let delta = 0;
  if (v4) {
    const neu = out ? conns.vaddr[c] : conns.daddr[c];
    hdr = delta32(dv.getUint32(at, true), neu);
    delta = hdr;
    dv.setUint32(at, neu, true);
  } else {
    const w = conns.block[c] * 12 + (out ? 4 : 8);
    for (let i = 0; i < 4; i++) {
      const neu = conns.addr6[w + i];
      delta += delta32(dv.getUint32(at + i * 4, true), neu);
      dv.setUint32(at + i * 4, neu, true);
    }
  }
  if (p.kind !== PK_FRAG1) return hdr;
  const portAt = p.th + (out ? 0 : 2);
  const neu = out ? conns.vport[c] : conns.dport[c];
  delta += delta16(dv.getUint16(portAt, true), neu);
  dv.setUint16(portAt, neu, true);
  const tcp = p.proto === IPPROTO_TCP;
  const cs = p.th + (tcp ? 16 : 6);
  const check = dv.getUint16(cs, true);
  if (!tcp && check === 0) return hdr;
  const n = update(check, delta);
  dv.setUint16(cs, !tcp && n === 0 ? 0xffff : n, true);
  return hdr;
}
