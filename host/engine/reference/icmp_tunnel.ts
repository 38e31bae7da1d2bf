// ICMP and ICMPv6 errors about the director's own tunnel packets (ip_vs_core.c
// ip_vs_in_icmp, "Special case for errors for IPIP/UDP/GRE tunnel packets"; spec §4.4, §4.7
// last bullet). The quote is our outer header (from the dest's tunnel source to the real
// server, protocol 4 or 41), then the client's packet, found by the in lookup on a live TUN
// entry of that dest. Fragmentation needed / packet too big lowers the dest's path MTU and,
// if the client's packet had DF (IPv6: always), sends the client the error with that MTU
// less the outer header; other errors go to the client with the same type and code, or as
// RFC 7915 translates them across families. The tunnel error is consumed (icmp_tunnel);
// unmatched ones pass (icmp_tun_unrelated). Mirrors assembly/icmp_tunnel.ts.
// Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import { icmpSum, liveEntry, parseQuoted, quotedPorts } from "./icmp.ts";
import { icmpSendAbout } from "./icmp_send.ts";
import { IP4_MIN_MTU, IP6_MIN_MTU, pmtuLearn, pmtuRoute } from "./pmtu.ts";
import type { EngineState, Packet } from "./state.ts";
import * as checksumWire from "./wire/checksum.ts";
import * as icmpWire from "./wire/icmp.ts";
import * as ipv4Wire from "./wire/ipv4.ts";
import * as ipv6Wire from "./wire/ipv6.ts";

const {
  AF_INET,
  AF_INET6,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_TUNNEL,
  IPPROTO_IPIP,
  R_ICMP_BAD_CSUM,
  R_ICMP_TUN_UNRELATED,
  R_ICMP_TUNNEL,
} = abi;
const { fold } = checksumWire;
const {
  ICMP_DEST_UNREACH,
  ICMP_FRAG_NEEDED,
  ICMP_PORT_UNREACH,
  ICMP_REST,
  ICMP_TIME_EXCEEDED,
  ICMPV6_DEST_UNREACH,
  ICMPV6_PKT_TOOBIG,
  ICMPV6_PORT_UNREACH,
  ICMPV6_TIME_EXCEED,
  ICMPV6_PARAMPROB,
  ICMPV6_UNK_NEXTHDR,
} = icmpWire;
const { IPV4_DF_BYTE, IPV4_DST, IPV4_FRAG, IPV4_HEADER_LEN, IPV4_SRC } = ipv4Wire;
const { IPV6_DST, IPV6_HEADER_LEN, IPV6_SRC } = ipv6Wire;

/** RFC 7915 §4.2: the pointer of a translated "protocol unreachable" (IPv6 Next Header). */
const IP6_NEXT_HEADER_POINTER = 6;

/** The 4 (IPv4) or 16 bytes at `a` equal words `w[o..]` (little-endian loads). */
function sameWords(dv: DataView, v4: boolean, a: number, w: Uint32Array, o: number): boolean {
  if (v4) return dv.getUint32(a, true) === w[o];
  for (let i = 0; i < 4; i++) if (dv.getUint32(a + i * 4, true) !== w[o + i]) return false;
  return true;
}

/**
 * The client-family (type << 8 | code) for a tunnel error of the other family (RFC 7915 §4.2,
 * §5.2), or 0 where RFC 7915 drops it. See assembly/icmp_tunnel.ts `translate`.
 */
function translate(fromV4: boolean, type: number, code: number): number {
  if (fromV4) {
    if (type === ICMP_TIME_EXCEEDED) return (ICMPV6_TIME_EXCEED << 8) | code;
    if (type !== ICMP_DEST_UNREACH) return 0;
    if (code === 2) return (ICMPV6_PARAMPROB << 8) | ICMPV6_UNK_NEXTHDR;
    if (code === 3) return (ICMPV6_DEST_UNREACH << 8) | ICMPV6_PORT_UNREACH;
    if (code === 9 || code === 10 || code === 13 || code === 15) {
      return (ICMPV6_DEST_UNREACH << 8) | 1;
    }
    return code <= 12 ? ICMPV6_DEST_UNREACH << 8 : 0;
  }
  if (type === ICMPV6_TIME_EXCEED) return (ICMP_TIME_EXCEEDED << 8) | code;
  if (type === ICMPV6_PARAMPROB) {
    return code === ICMPV6_UNK_NEXTHDR ? (ICMP_DEST_UNREACH << 8) | 2 : 0;
  }
  if (type !== ICMPV6_DEST_UNREACH) return 0;
  if (code === 0 || code === 2 || code === 3) return (ICMP_DEST_UNREACH << 8) | 1;
  if (code === 1) return (ICMP_DEST_UNREACH << 8) | 10;
  if (code === ICMPV6_PORT_UNREACH) return (ICMP_DEST_UNREACH << 8) | ICMP_PORT_UNREACH;
  return 0;
}

/** In lookup of the client's packet at p.innerIp (family `af`); the outer key is restored. */
function clientEntry(st: EngineState, p: Packet, af: number): number {
  const dv = st.dv;
  const ip = p.innerIp;
  const v4 = af === AF_INET;
  const src = ip + (v4 ? IPV4_SRC : IPV6_SRC);
  const dst = ip + (v4 ? IPV4_DST : IPV6_DST);
  const save0 = p.s0, save1 = p.s1, save2 = p.s2, save3 = p.s3;
  const savd0 = p.d0, savd1 = p.d1, savd2 = p.d2, savd3 = p.d3;
  const saveAf = p.af, saveProto = p.proto, saveSport = p.sport, saveDport = p.dport;
  p.af = af;
  p.proto = p.innerProto;
  p.sport = dv.getUint16(p.innerL4, true);
  p.dport = dv.getUint16(p.innerL4 + 2, true);
  p.s0 = dv.getUint32(src, true);
  p.d0 = dv.getUint32(dst, true);
  // IPv4 keys carry zeros in words 1-3, as the parser leaves them (core.ts).
  p.s1 = v4 ? 0 : dv.getUint32(src + 4, true);
  p.s2 = v4 ? 0 : dv.getUint32(src + 8, true);
  p.s3 = v4 ? 0 : dv.getUint32(src + 12, true);
  p.d1 = v4 ? 0 : dv.getUint32(dst + 4, true);
  p.d2 = v4 ? 0 : dv.getUint32(dst + 8, true);
  p.d3 = v4 ? 0 : dv.getUint32(dst + 12, true);
  const c = liveEntry(st, st.conns.inGet(p), st.sched.nowMs);
  p.s0 = save0, p.s1 = save1, p.s2 = save2, p.s3 = save3;
  p.d0 = savd0, p.d1 = savd1, p.d2 = savd2, p.d3 = savd3;
  p.af = saveAf, p.proto = saveProto, p.sport = saveSport, p.dport = saveDport;
  return c;
}

/** Dest `d`'s next hop through the per-dest cache transmit keeps (xmit.ts); -1 if none. */
function destNeigh(st: EngineState, d: number): number {
  const dests = st.dests;
  const neigh = st.neigh;
  if (dests.neighGen[d] === neigh.gen) return dests.neigh[d];
  const dw = d * 4;
  const da = dests.addr;
  const n = neigh.lookup(dests.af[d], da[dw], da[dw + 1], da[dw + 2], da[dw + 3]);
  dests.neigh[d] = n;
  dests.neighGen[d] = neigh.gen;
  return n;
}

/**
 * Handles the ICMP (`v4`) or ICMPv6 error in `p` whose quote, read by parseQuoted, is an IPIP
 * or IPv6-in-IP packet (icmp.ts icmpRelay). Returns the reason (icmp_tunnel: consumed).
 */
export function icmpTunnel(st: EngineState, p: Packet, v4: boolean): number {
  const u8 = st.u8;
  const dv = st.dv;
  const tun = p.innerIp;
  const inner4 = p.innerProto === IPPROTO_IPIP;
  if (!parseQuoted(u8, p, p.innerL4, p.innerEnd, inner4) || !quotedPorts(p)) {
    return R_ICMP_TUN_UNRELATED;
  }
  const cip = p.innerIp;
  const af = inner4 ? AF_INET : AF_INET6;
  const c = clientEntry(st, p, af);
  if (c < 0) return R_ICMP_TUN_UNRELATED;
  const conns = st.conns;
  if ((conns.flags[c] & IP_VS_CONN_F_FWD_MASK) !== IP_VS_CONN_F_TUNNEL) {
    return R_ICMP_TUN_UNRELATED;
  }
  // Ours: to this entry's real server, from the tunnel source we use for it, and the error
  // addressed to that source.
  const d = conns.dest[c];
  const dests = st.dests;
  if (dests.af[d] !== p.af) return R_ICMP_TUN_UNRELATED;
  if (!sameWords(dv, v4, tun + (v4 ? IPV4_DST : IPV6_DST), dests.addr, d * 4)) {
    return R_ICMP_TUN_UNRELATED;
  }
  const n = destNeigh(st, d);
  if (n < 0) return R_ICMP_TUN_UNRELATED;
  const port = st.neigh.port[n];
  const ports = st.ports;
  if ((v4 ? ports.has4[port] : ports.has6[port]) === 0) return R_ICMP_TUN_UNRELATED;
  const ours = v4 ? ports.addr4 : ports.addr6;
  const o = v4 ? port : port * 4;
  if (
    !sameWords(dv, v4, tun + (v4 ? IPV4_SRC : IPV6_SRC), ours, o) ||
    !sameWords(dv, v4, p.ip + (v4 ? IPV4_DST : IPV6_DST), ours, o)
  ) return R_ICMP_TUN_UNRELATED;
  const end = p.innerEnd;
  if (fold(icmpSum(dv, p, v4, end - p.th)) !== 0xffff) return R_ICMP_BAD_CSUM;

  const type = u8[p.th];
  const code = u8[p.th + 1];
  const info = dv.getUint32(p.th + ICMP_REST);
  const len = end - cip;
  if (v4 ? type === ICMP_DEST_UNREACH && code === ICMP_FRAG_NEEDED : type === ICMPV6_PKT_TOOBIG) {
    // RFC 1191: the next-hop MTU is the low 16 bits; ICMPv6 carries 32.
    const portMtu = ports.mtu[port];
    pmtuLearn(st, d, v4 ? info & 0xffff : info, portMtu, v4, inner4);
    if (inner4 && (u8[cip + IPV4_FRAG] & IPV4_DF_BYTE) === 0) return R_ICMP_TUNNEL; // no DF: no PMTUD
    const outer = v4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
    const path = pmtuRoute(st, d, portMtu);
    if (path >= outer + (inner4 ? IP4_MIN_MTU : IP6_MIN_MTU)) {
      const mtu = path - outer;
      if (inner4) {
        icmpSendAbout(st, p, af, cip, len, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu & 0xffff);
      } else {
        icmpSendAbout(st, p, af, cip, len, ICMPV6_PKT_TOOBIG, 0, mtu);
      }
    }
    return R_ICMP_TUNNEL;
  }
  if (inner4 === v4) {
    icmpSendAbout(st, p, af, cip, len, type, code, info); // same type, code and rest
  } else {
    const t = translate(v4, type, code);
    if (t !== 0) {
      const pointer = t === ((ICMPV6_PARAMPROB << 8) | ICMPV6_UNK_NEXTHDR)
        ? IP6_NEXT_HEADER_POINTER
        : 0;
      icmpSendAbout(st, p, af, cip, len, t >> 8, t & 0xff, pointer);
    }
  }
  return R_ICMP_TUNNEL;
}
