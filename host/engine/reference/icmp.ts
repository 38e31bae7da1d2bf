// ICMP and ICMPv6 errors that belong to a connection (ip_vs_core.c ip_vs_in_icmp,
// ip_vs_out_icmp, ip_vs_nat_icmp; spec §4.7). The quoted packet's addresses and ports,
// swapped, are the key: in lookup first (an error from the client's side), then out (from a
// NAT real server's side). The error follows the connection with the entry's forwarding
// method; for NAT the outer address, the quoted address and port and the checksums are
// rewritten. Counted as a packet of that direction; no state change, no timer refresh, no
// in_pkts. Anything else is passed (icmp_unrelated). An error whose quote is one of our IPIP /
// IPv6-in-IP packets goes to icmp_tunnel.ts instead. Mirrors assembly/icmp.ts.
// Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import { PK_ICMP } from "./edge.ts";
import { icmpTunnel } from "./icmp_tunnel.ts";
import type { EngineState, Packet } from "./state.ts";
import * as stats from "./stats.ts";
import * as bytesWire from "./wire/bytes.ts";
import * as checksumWire from "./wire/checksum.ts";
import * as icmpWire from "./wire/icmp.ts";
import * as ipv4Wire from "./wire/ipv4.ts";
import * as ipv6Wire from "./wire/ipv6.ts";
import { transmit } from "./xmit.ts";

const {
  AF_INET,
  C_IN_BYTES,
  C_IN_PKTS,
  C_OUT_BYTES,
  C_OUT_PKTS,
  IP_VS_DEST_F_AVAILABLE,
  IPPROTO_ICMPV6,
  IPPROTO_IPIP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  R_ICMP_BAD_CSUM,
  R_ICMP_UNRELATED,
  R_NOT_L4,
  R_TRUNC_L4,
} = abi;
const { countPacket } = stats;
const { swap16 } = bytesWire;
const { delta16, delta32, finish, fold, sumBytes, update } = checksumWire;
const { ICMP_CHECKSUM, ICMP_HEADER_LEN, icmp6IsError, icmpIsRelayedError } = icmpWire;
const { IPV4_CHECKSUM, IPV4_DST, IPV4_HEADER_LEN, IPV4_SRC } = ipv4Wire;
const {
  IPV6_DST,
  IPV6_EXT_DEST_OPTS,
  IPV6_EXT_FRAGMENT,
  IPV6_EXT_HOP_BY_HOP,
  IPV6_EXT_ROUTING,
  IPV6_HEADER_LEN,
  IPV6_MAX_EXT_HEADERS,
  IPV6_NEXT_HEADER,
  IPV6_SRC,
} = ipv6Wire;

const TCP_CHECKSUM = 16;
const UDP_CHECKSUM = 6;

/**
 * Reads the IP header quoted at `ip` (IPv4 if `v4`; `end`: the end of the ICMP payload) into
 * p.inner*: the header, where its payload starts, its protocol. False when it cannot be read
 * or is a non-first fragment.
 */
export function parseQuoted(
  u8: Uint8Array,
  p: Packet,
  ip: number,
  end: number,
  v4: boolean,
): boolean {
  const avail = end - ip;
  let off;
  let proto;
  if (v4) {
    if (avail < IPV4_HEADER_LEN || u8[ip] >>> 4 !== 4) return false;
    off = (u8[ip] & 0x0f) * 4;
    if (off < IPV4_HEADER_LEN || off > avail) return false;
    if (((u8[ip + 6] & 0x1f) | u8[ip + 7]) !== 0) return false;
    proto = u8[ip + 9];
  } else {
    if (avail < IPV6_HEADER_LEN || u8[ip] >>> 4 !== 6) return false;
    proto = u8[ip + IPV6_NEXT_HEADER];
    off = IPV6_HEADER_LEN;
    for (let n = 0;; n++) {
      const frag = proto === IPV6_EXT_FRAGMENT;
      if (
        !frag && proto !== IPV6_EXT_HOP_BY_HOP && proto !== IPV6_EXT_ROUTING &&
        proto !== IPV6_EXT_DEST_OPTS
      ) break;
      if (n >= IPV6_MAX_EXT_HEADERS || off + 8 > avail) return false;
      const h = ip + off;
      if (frag && (((u8[h + 2] << 8) | u8[h + 3]) & 0xfff8) !== 0) return false;
      const hl = frag ? 8 : (u8[h + 1] + 1) * 8;
      if (off + hl > avail) return false;
      proto = u8[h];
      off += hl;
    }
  }
  p.innerIp = ip;
  p.innerL4 = ip + off;
  p.innerEnd = end;
  p.innerProto = proto;
  return true;
}

/** The quote read by parseQuoted is TCP or UDP with at least its two ports. */
export function quotedPorts(p: Packet): boolean {
  const proto = p.innerProto;
  return (proto === IPPROTO_TCP || proto === IPPROTO_UDP) && p.innerL4 + 4 <= p.innerEnd;
}

/** The unfolded sum over the ICMP message (and, for ICMPv6, its pseudo header). */
export function icmpSum(dv: DataView, p: Packet, v4: boolean, len: number): number {
  let s = 0;
  if (!v4) s = sumBytes(dv, p.ip + IPV6_SRC, 32, 0) + swap16(len) + (IPPROTO_ICMPV6 << 8);
  return sumBytes(dv, p.th, len, s);
}

/** Relays the ICMP error in `p` on its connection. Returns R_NONE (TX at p.tx) or a reason. */
export function icmpRelay(st: EngineState, p: Packet): number {
  const u8 = st.u8;
  const dv = st.dv;
  const v4 = p.af === AF_INET;
  const end = p.ip + p.iplen;
  const len = end - p.th;
  if (len < ICMP_HEADER_LEN) return R_TRUNC_L4;
  const type = u8[p.th];
  if (v4 ? !icmpIsRelayedError(type) : !icmp6IsError(type)) return R_NOT_L4;
  if (!parseQuoted(u8, p, p.th + ICMP_HEADER_LEN, end, v4)) return R_ICMP_UNRELATED;
  // An error about one of our own tunnel packets (spec §4.7, last bullet): icmp_tunnel.ts.
  const quoted = p.innerProto;
  if (quoted === IPPROTO_IPIP || quoted === IPPROTO_IPV6) return icmpTunnel(st, p, v4);
  if (!quotedPorts(p)) return R_ICMP_UNRELATED;
  const ip = p.innerIp;
  const l4 = p.innerL4;
  const src = ip + (v4 ? IPV4_SRC : IPV6_SRC);
  const dst = ip + (v4 ? IPV4_DST : IPV6_DST);
  const sport = dv.getUint16(l4, true);
  const dport = dv.getUint16(l4 + 2, true);
  // The quoted packet went the other way: look it up with its ends swapped. The lookups read
  // the key from the Packet, so the outer one is set aside and put back.
  const save0 = p.s0, save1 = p.s1, save2 = p.s2, save3 = p.s3;
  const savd0 = p.d0, savd1 = p.d1, savd2 = p.d2, savd3 = p.d3;
  const saveProto = p.proto, saveSport = p.sport, saveDport = p.dport;
  p.proto = p.innerProto;
  p.sport = dport;
  p.dport = sport;
  if (v4) {
    p.s0 = dv.getUint32(dst, true);
    p.d0 = dv.getUint32(src, true);
  } else {
    p.s0 = dv.getUint32(dst, true);
    p.s1 = dv.getUint32(dst + 4, true);
    p.s2 = dv.getUint32(dst + 8, true);
    p.s3 = dv.getUint32(dst + 12, true);
    p.d0 = dv.getUint32(src, true);
    p.d1 = dv.getUint32(src + 4, true);
    p.d2 = dv.getUint32(src + 8, true);
    p.d3 = dv.getUint32(src + 12, true);
  }
  const conns = st.conns;
  const now = st.sched.nowMs;
  let out = false;
  let c = liveEntry(st, conns.inGet(p), now);
  if (c < 0) {
    c = liveEntry(st, conns.outGet(p), now);
    out = true;
  }
  p.s0 = save0, p.s1 = save1, p.s2 = save2, p.s3 = save3;
  p.d0 = savd0, p.d1 = savd1, p.d2 = savd2, p.d3 = savd3;
  p.proto = saveProto, p.sport = saveSport, p.dport = saveDport;
  if (c < 0) return R_ICMP_UNRELATED;
  if (fold(icmpSum(dv, p, v4, len)) !== 0xffff) return R_ICMP_BAD_CSUM;
  const d = conns.dest[c];
  if ((st.dests.flags[d] & IP_VS_DEST_F_AVAILABLE) !== 0) {
    const ctr = st.counters;
    countPacket(st.dests.stats, d, out, p.iplen);
    countPacket(st.svcs.stats, conns.svc[c], out, p.iplen);
    ctr[out ? C_OUT_PKTS : C_IN_PKTS]++;
    ctr[out ? C_OUT_BYTES : C_IN_BYTES] += p.iplen;
  }
  p.kind = PK_ICMP;
  return transmit(st, p, c, out, p.rx, p.tx);
}

/**
 * An entry found by a lookup that is still alive: an expired one is freed (-1), except one
 * that controls others (an FTP control connection), which the sweep retries instead.
 */
export function liveEntry(st: EngineState, c: number, nowMs: number): number {
  if (c < 0) return -1;
  const conns = st.conns;
  if (!conns.isExpired(c, nowMs) || conns.nControl[c] !== 0) return c;
  conns.free(c);
  return -1;
}

/**
 * NAT of an ICMP error (ip_vs_nat_icmp): in → outer destination and quoted source become the
 * real server's address, quoted source port its port; out → outer source and quoted
 * destination become the VIP, quoted destination port the virtual port. Quoted IPv4 header
 * and L4 checksums (when quoted) are updated incrementally, the ICMP checksum recomputed.
 * Returns the RFC 1624 terms the outer IPv4 header checksum still needs (0 for IPv6).
 */
export function icmpNat(st: EngineState, p: Packet, c: number, out: boolean): number {
  const dv = st.dv;
  const conns = st.conns;
  const v4 = p.af === AF_INET;
  const ip = p.innerIp;
  const outerAt = p.ip + (v4 ? (out ? IPV4_SRC : IPV4_DST) : (out ? IPV6_SRC : IPV6_DST));
  const innerAt = ip + (v4 ? (out ? IPV4_DST : IPV4_SRC) : (out ? IPV6_DST : IPV6_SRC));
  const portAt = p.innerL4 + (out ? 2 : 0);
  const newPort = out ? conns.vport[c] : conns.dport[c];
  const oldPort = dv.getUint16(portAt, true);
  let hdr = 0;
  let delta = 0;
  if (v4) {
    const neu = out ? conns.vaddr[c] : conns.daddr[c];
    hdr = delta32(dv.getUint32(outerAt, true), neu);
    dv.setUint32(outerAt, neu, true);
    const d = delta32(dv.getUint32(innerAt, true), neu);
    dv.setUint16(ip + IPV4_CHECKSUM, update(dv.getUint16(ip + IPV4_CHECKSUM, true), d), true);
    delta += d;
    dv.setUint32(innerAt, neu, true);
  } else {
    const w = conns.block[c] * 12 + (out ? 4 : 8);
    const a6 = conns.addr6;
    for (let i = 0; i < 4; i++) {
      const neu = a6[w + i];
      dv.setUint32(outerAt + i * 4, neu, true);
      delta += delta32(dv.getUint32(innerAt + i * 4, true), neu);
      dv.setUint32(innerAt + i * 4, neu, true);
    }
  }
  delta += delta16(oldPort, newPort);
  const tcp = p.innerProto === IPPROTO_TCP;
  const field = p.innerL4 + (tcp ? TCP_CHECKSUM : UDP_CHECKSUM);
  if (field + 2 <= p.innerEnd) {
    const check = dv.getUint16(field, true);
    if (tcp || check !== 0) {
      const n = update(check, delta);
      dv.setUint16(field, !tcp && n === 0 ? 0xffff : n, true);
    }
  }
  dv.setUint16(portAt, newPort, true);
  const len = p.innerEnd - p.th;
  dv.setUint16(p.th + ICMP_CHECKSUM, 0, true);
  dv.setUint16(p.th + ICMP_CHECKSUM, finish(icmpSum(dv, p, v4, len)), true);
  return hdr;
}
