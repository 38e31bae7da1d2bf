// ICMP and ICMPv6 errors the engine generates (ip_vs_core.c ip_vs_leave, ip_vs_xmit.c
// decrement_ttl and ensure_mtu_is_adequate): port unreachable when no real server is
// available, time exceeded when the TTL runs out, fragmentation needed / packet too big with
// the MTU that did not fit; and errors about the client packet inside a tunnel error
// (icmp_tunnel.ts, icmpSendAbout). Built in the RX frame's engine-owned slot (batch + rx)
// and sent as an extra TX descriptor; the frame itself is dropped with its reason. Never about an
// ICMP error, never to a source that is not a unicast host, rate-limited by one token bucket
// (icmp_msgs_per_sec, icmp_msgs_burst). Source: the packet's destination for in-direction
// packets (the VIP), else the egress port's address. Mirrors assembly/icmp_send.ts.
// Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import { PK_ICMP } from "./edge.ts";
import { FRAG_LATER } from "./frag.ts";
import type { EngineState, Packet } from "./state.ts";
import * as bytesWire from "./wire/bytes.ts";
import * as checksumWire from "./wire/checksum.ts";
import * as ethernetWire from "./wire/ethernet.ts";
import * as icmpWire from "./wire/icmp.ts";
import * as ipv4Wire from "./wire/ipv4.ts";
import * as ipv6Wire from "./wire/ipv6.ts";

const {
  AF_INET,
  C_ICMP_SENT,
  C_ICMP_SUPPRESSED,
  HEADROOM,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  R_MTU_EXCEEDED,
  R_NO_DEST,
  R_TTL_EXCEEDED,
  SLOT_SIZE,
  SYS_ICMP_MSGS_BURST,
  SYS_ICMP_MSGS_PER_SEC,
  TXD_LEN,
  TXD_OFF,
  TXD_PORT,
  TXD_RX,
  TXD_SIZE,
  TXD_SLOT,
} = abi;
const { store16be, swap16 } = bytesWire;
const { finish, sumBytes, sumHeader } = checksumWire;
const { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } = ethernetWire;
const {
  ICMP6_ERROR_MAX,
  ICMP_CHECKSUM,
  ICMP_DEST_UNREACH,
  ICMP_ERROR_MAX,
  ICMP_EXC_TTL,
  ICMP_FRAG_NEEDED,
  ICMP_HEADER_LEN,
  ICMP_PORT_UNREACH,
  ICMP_REST,
  ICMP_TIME_EXCEEDED,
  ICMP_TOS,
  ICMP_TTL,
  ICMPV6_DEST_UNREACH,
  ICMPV6_EXC_HOPLIMIT,
  ICMPV6_PKT_TOOBIG,
  ICMPV6_PORT_UNREACH,
  ICMPV6_TIME_EXCEED,
} = icmpWire;
const { IPV4_CHECKSUM, IPV4_DST, IPV4_HEADER_LEN, IPV4_SRC } = ipv4Wire;
const { IPV6_DST, IPV6_HEADER_LEN, IPV6_SRC } = ipv6Wire;

/** Longest gap the token bucket credits at once (ms): keeps the product exact. */
const REFILL_MAX_MS = 1_000_000;

/** Not 0/8, loopback, multicast, class E, broadcast; not ::, ::1, ff00::/8. */
function unicastHost(u8: Uint8Array, v4: boolean, a: number): boolean {
  const b0 = u8[a];
  if (v4) return b0 !== 0 && b0 !== 127 && b0 < 224;
  if (b0 === 0xff) return false;
  for (let i = 0; i < 15; i++) if (u8[a + i] !== 0) return true;
  return u8[a + 15] > 1;
}

/** Takes one message from the token bucket. */
function tokenTake(st: EngineState): boolean {
  const rate = st.sysctl[SYS_ICMP_MSGS_PER_SEC] >>> 0;
  if (rate === 0) return true;
  const ed = st.edge;
  const now = st.sched.nowMs;
  let gap = (now - ed.icmpLastMs) | 0;
  if (gap < 0) gap = 0;
  const ms = Math.min(gap, REFILL_MAX_MS);
  ed.icmpLastMs = now;
  const cap = (st.sysctl[SYS_ICMP_MSGS_BURST] >>> 0) * 1000;
  const t = Math.min(ed.icmpTokens + ms * rate, cap);
  if (t < 1000) {
    ed.icmpTokens = t;
    return false;
  }
  ed.icmpTokens = t - 1000;
  return true;
}

/** Builds and queues an ICMP or ICMPv6 error about packet `p` (still as received). */
function icmpSend(
  st: EngineState,
  p: Packet,
  out: boolean,
  type: number,
  code: number,
  info: number,
): void {
  // Never an error about an error, nor about a fragment other than the first (RFC 1122).
  if (p.kind === PK_ICMP || p.frag === FRAG_LATER) return;
  icmpEmit(st, p, p.af, p.ip, p.iplen, out, type, code, info);
}

/**
 * Builds and queues an error of family `af` about the packet whose IP header is at `at`, of
 * which `len` bytes may be quoted, to its source. The RX frame's L2 header is the model; its
 * EtherType follows `af` (a tunnel error may be about a packet of the other family).
 */
function icmpEmit(
  st: EngineState,
  p: Packet,
  af: number,
  at: number,
  len: number,
  out: boolean,
  type: number,
  code: number,
  info: number,
): void {
  const u8 = st.u8;
  const dv = st.dv;
  const ctr = st.counters;
  const v4 = af === AF_INET;
  const ipSrc = at + (v4 ? IPV4_SRC : IPV6_SRC);
  const ipDst = at + (v4 ? IPV4_DST : IPV6_DST);
  if (!unicastHost(u8, v4, ipSrc) || !unicastHost(u8, v4, ipDst)) {
    ctr[C_ICMP_SUPPRESSED]++;
    return;
  }
  const n = v4 ? st.neigh.lookup(af, dv.getUint32(ipSrc, true), 0, 0, 0) : st.neigh.lookup(
    af,
    dv.getUint32(ipSrc, true),
    dv.getUint32(ipSrc + 4, true),
    dv.getUint32(ipSrc + 8, true),
    dv.getUint32(ipSrc + 12, true),
  );
  if (n < 0) {
    ctr[C_ICMP_SUPPRESSED]++;
    return;
  }
  const port = st.neigh.port[n];
  const ports = st.ports;
  if (out && (v4 ? ports.has4[port] : ports.has6[port]) === 0) {
    ctr[C_ICMP_SUPPRESSED]++;
    return;
  }
  if (!tokenTake(st)) {
    ctr[C_ICMP_SUPPRESSED]++;
    return;
  }
  const slot = st.batch + p.rx;
  const g = st.slots + slot * SLOT_SIZE + HEADROOM;
  const l3 = p.l3;
  u8.copyWithin(g, p.base, p.base + l3);
  store16be(u8, g + l3 - 2, v4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  dv.setUint32(g, st.neigh.macLo[n], true);
  dv.setUint16(g + 4, st.neigh.macHi[n], true);
  dv.setUint32(g + 6, ports.macLo[port], true);
  dv.setUint16(g + 10, ports.macHi[port], true);
  const ip = g + l3;
  const hlen = v4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
  const most = v4 ? ICMP_ERROR_MAX : ICMP6_ERROR_MAX;
  const quote = Math.min(len, most - hlen - ICMP_HEADER_LEN);
  const mlen = ICMP_HEADER_LEN + quote;
  const m = ip + hlen;
  u8[m] = type;
  u8[m + 1] = code;
  dv.setUint16(m + ICMP_CHECKSUM, 0, true);
  dv.setUint32(m + ICMP_REST, info >>> 0);
  u8.copyWithin(m + ICMP_HEADER_LEN, at, at + quote);
  if (v4) {
    u8[ip] = 0x45;
    u8[ip + 1] = ICMP_TOS;
    store16be(u8, ip + 2, IPV4_HEADER_LEN + mlen);
    store16be(u8, ip + 4, st.edge.icmpId);
    st.edge.icmpId = (st.edge.icmpId + 1) & 0xffff;
    dv.setUint16(ip + 6, 0, true);
    u8[ip + 8] = ICMP_TTL;
    u8[ip + 9] = IPPROTO_ICMP;
    dv.setUint16(ip + IPV4_CHECKSUM, 0, true);
    dv.setUint32(
      ip + IPV4_SRC,
      out ? ports.addr4[port] : dv.getUint32(ipDst, true),
      true,
    );
    dv.setUint32(ip + IPV4_DST, dv.getUint32(ipSrc, true), true);
    dv.setUint16(ip + IPV4_CHECKSUM, finish(sumHeader(dv, ip, IPV4_HEADER_LEN)), true);
    dv.setUint16(m + ICMP_CHECKSUM, finish(sumBytes(dv, m, mlen, 0)), true);
  } else {
    dv.setUint32(ip, 0x60, true); // version 6, traffic class 0, flow label 0
    store16be(u8, ip + 4, mlen);
    u8[ip + 6] = IPPROTO_ICMPV6;
    u8[ip + 7] = ICMP_TTL;
    if (out) {
      const a6 = ports.addr6;
      for (let i = 0; i < 4; i++) dv.setUint32(ip + IPV6_SRC + i * 4, a6[port * 4 + i], true);
    } else {
      u8.copyWithin(ip + IPV6_SRC, ipDst, ipDst + 16);
    }
    u8.copyWithin(ip + IPV6_DST, ipSrc, ipSrc + 16);
    const pseudo = sumBytes(dv, ip + IPV6_SRC, 32, 0) + swap16(mlen) + (IPPROTO_ICMPV6 << 8);
    dv.setUint16(m + ICMP_CHECKSUM, finish(sumBytes(dv, m, mlen, pseudo)), true);
  }
  const t = st.txDesc + (p.tx + st.edge.gen) * TXD_SIZE;
  st.edge.gen++;
  dv.setUint32(t + TXD_SLOT, slot, true);
  dv.setUint16(t + TXD_OFF, HEADROOM, true);
  dv.setUint16(t + TXD_LEN, l3 + hlen + mlen, true);
  dv.setUint16(t + TXD_PORT, port, true);
  dv.setUint16(t + TXD_PORT + 2, 0, true);
  dv.setUint32(t + TXD_RX, p.rx, true);
  ctr[C_ICMP_SENT]++;
}

/**
 * An error about the client packet a tunnel error quotes (icmp_tunnel.ts): family `af`, IP
 * header at `at`, `len` bytes quoted; from the packet's destination (the VIP) to its source.
 * The caller has checked that the packet is TCP or UDP and not a later fragment.
 */
export function icmpSendAbout(
  st: EngineState,
  p: Packet,
  af: number,
  at: number,
  len: number,
  type: number,
  code: number,
  info: number,
): void {
  icmpEmit(st, p, af, at, len, false, type, code, info);
}

/** No real server (ip_vs_leave): port unreachable to the client; returns R_NO_DEST. */
export function icmpPortUnreach(st: EngineState, p: Packet): number {
  if (p.af === AF_INET) icmpSend(st, p, false, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
  else icmpSend(st, p, false, ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, 0);
  return R_NO_DEST;
}

/** TTL or hop limit <= 1 (decrement_ttl): time exceeded to the sender; R_TTL_EXCEEDED. */
export function icmpTimeExceeded(st: EngineState, p: Packet, out: boolean): number {
  if (p.af === AF_INET) icmpSend(st, p, out, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0);
  else icmpSend(st, p, out, ICMPV6_TIME_EXCEED, ICMPV6_EXC_HOPLIMIT, 0);
  return R_TTL_EXCEEDED;
}

/** Too big: fragmentation needed (RFC 1191 next-hop MTU) or packet too big; R_MTU_EXCEEDED. */
export function icmpTooBig(st: EngineState, p: Packet, out: boolean, mtu: number): number {
  if (p.af === AF_INET) icmpSend(st, p, out, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu & 0xffff);
  else icmpSend(st, p, out, ICMPV6_PKT_TOOBIG, 0, mtu);
  return R_MTU_EXCEEDED;
}
