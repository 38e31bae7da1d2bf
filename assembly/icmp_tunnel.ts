// ICMP and ICMPv6 errors about the director's own tunnel packets (ip_vs_core.c ip_vs_in_icmp,
// "Special case for errors for IPIP/UDP/GRE tunnel packets"; spec §4.4 last line, §4.7 last
// bullet). The quote is our outer header (source: the tunnel source of the dest's egress
// port, destination: the real server, protocol 4 or 41) and then the client's packet as we
// sent it. The client's packet is found by the in lookup (client -> VIP:vport) on a live
// TUN entry of that dest. Fragmentation needed / packet too big lowers the dest's path MTU
// (pmtu.ts) and, if the client's packet may not be fragmented (IPv4 DF, any IPv6), sends
// the client the same error with that MTU less the outer header (20 / 40); other errors go
// to the client with the same type and code, or for a 4in6 / 6in4 tunnel as RFC 7915
// translates them. The tunnel error is consumed: DROP icmp_tunnel, the message to the
// client (if any) an extra TX. Unmatched: PASS icmp_tun_unrelated, as icmp_unrelated.
// WVS additions to IPVS: the IPv6 and mixed-family cases (IPVS does IPv4 IPIP only).
import {
  AF_INET,
  AF_INET6,
  CN_DEST,
  CN_FLAGS,
  IPPROTO_IPIP,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_TUNNEL,
  PORT_F_ADDR4,
  PORT_F_ADDR6,
  R_ICMP_BAD_CSUM,
  R_ICMP_TUNNEL,
  R_ICMP_TUN_UNRELATED,
  V_DROP,
  V_PASS,
} from "./abi";
import { NIL, connAt } from "./conn";
import { DS_ADDR, DS_AF, destAt } from "./dest";
import { liveIn } from "./edge";
import { icmpSum, parseQuoted, quotedPorts } from "./icmp";
import { icmpSendAbout } from "./icmp_send";
import { NB_PORT, PT_ADDR4, PT_ADDR6, PT_HAS, PT_MTU, neighDest, portAt } from "./neigh";
import { IP4_MIN_MTU, IP6_MIN_MTU, pmtuLearn, pmtuRoute } from "./pmtu";
import { Pkt } from "./state";
import { outcome } from "./xmit";
import { equal16, load16be } from "./wire/bytes";
import {
  ICMPV6_DEST_UNREACH,
  ICMPV6_PARAMPROB,
  ICMPV6_PKT_TOOBIG,
  ICMPV6_PORT_UNREACH,
  ICMPV6_TIME_EXCEED,
  ICMPV6_UNK_NEXTHDR,
  ICMP_DEST_UNREACH,
  ICMP_FRAG_NEEDED,
  ICMP_PORT_UNREACH,
  ICMP_REST,
  ICMP_TIME_EXCEEDED,
  icmpCode,
  icmpType,
} from "./wire/icmp";
import { IP4_DST, IP4_HEADER_LEN, IP4_SRC, ip4Df } from "./wire/ipv4";
import { IP6_DST, IP6_HEADER_LEN, IP6_SRC } from "./wire/ipv6";

/** RFC 7915 §4.2: the pointer of a translated "protocol unreachable" (IPv6 Next Header). */
const IP6_NEXT_HEADER_POINTER: u32 = 6;

@inline function unrelated(): u32 {
  return outcome(V_PASS, R_ICMP_TUN_UNRELATED);
}

@inline function sameAddr(v4: bool, a: usize, b: usize): bool {
  return v4 ? load<u32>(a) == load<u32>(b) : equal16(a, b);
}

/**
 * The client-family (type << 8 | code) for a tunnel error of the other family (RFC 7915
 * §4.2 IPv4 -> IPv6, §5.2 IPv6 -> IPv4), or 0 where RFC 7915 drops it silently (source
 * quench, parameter problems with a pointer into our outer header, unknown codes). Protocol
 * unreachable and "unrecognized next header" mean the real server does not take this
 * tunnel; they map to each other. Fragmentation needed / packet too big is not asked.
 */
function translate(fromV4: bool, type: u32, code: u32): u32 {
  if (fromV4) {
    if (type == ICMP_TIME_EXCEEDED) return (ICMPV6_TIME_EXCEED << 8) | code;
    if (type != ICMP_DEST_UNREACH) return 0;
    if (code == 2) return (ICMPV6_PARAMPROB << 8) | ICMPV6_UNK_NEXTHDR;
    if (code == 3) return (ICMPV6_DEST_UNREACH << 8) | ICMPV6_PORT_UNREACH;
    // Administratively prohibited (9, 10, 13) and precedence cutoff (15) -> code 1.
    if (code == 9 || code == 10 || code == 13 || code == 15) return (ICMPV6_DEST_UNREACH << 8) | 1;
    // Net / host unreachable, unknown, isolated, TOS (0, 1, 5..8, 11, 12) -> no route (0).
    return code <= 12 ? ICMPV6_DEST_UNREACH << 8 : 0;
  }
  if (type == ICMPV6_TIME_EXCEED) return (ICMP_TIME_EXCEEDED << 8) | code;
  if (type == ICMPV6_PARAMPROB) {
    return code == ICMPV6_UNK_NEXTHDR ? (ICMP_DEST_UNREACH << 8) | 2 : 0; // protocol unreachable
  }
  if (type != ICMPV6_DEST_UNREACH) return 0;
  if (code == 0 || code == 2 || code == 3) return (ICMP_DEST_UNREACH << 8) | 1; // host unreachable
  if (code == 1) return (ICMP_DEST_UNREACH << 8) | 10; // host administratively prohibited
  if (code == ICMPV6_PORT_UNREACH) return (ICMP_DEST_UNREACH << 8) | ICMP_PORT_UNREACH;
  return 0;
}

/**
 * Handles the ICMP (`v4`) or ICMPv6 error at Pkt.l4 whose quote, read by parseQuoted, is an
 * IPIP (protocol 4) or IPv6-in-IP (41) packet (icmp.ts icmpRelay). Returns the outcome.
 */
export function icmpTunnel(v4: bool): u32 {
  // Our outer header as quoted; the client's packet starts where its payload does.
  const tun = Pkt.innerIp;
  const innerV4 = Pkt.innerProto == IPPROTO_IPIP;
  if (!parseQuoted(Pkt.innerL4, Pkt.innerEnd, innerV4) || !quotedPorts()) return unrelated();
  const cip = Pkt.innerIp;
  const cl4 = Pkt.innerL4;
  const af = innerV4 ? AF_INET : AF_INET6;
  // The client's packet went our way (client -> VIP): the in key as it is.
  const slot = liveIn(
    af,
    Pkt.innerProto,
    cip + (innerV4 ? IP4_SRC : IP6_SRC),
    load<u16>(cl4),
    cip + (innerV4 ? IP4_DST : IP6_DST),
    load<u16>(cl4, 2),
  );
  if (slot == NIL) return unrelated();
  const e = connAt(slot);
  if ((load<u32>(e, CN_FLAGS) & IP_VS_CONN_F_FWD_MASK) != IP_VS_CONN_F_TUNNEL) return unrelated();
  // Ours: to this entry's real server, from the tunnel source we use for it, and the
  // error addressed to that source (ip_vs_find_tunnel checks the real server only).
  const dest = load<u32>(e, CN_DEST);
  const d = destAt(dest);
  if (<u32>load<u8>(d, DS_AF) != Pkt.af) return unrelated();
  if (!sameAddr(v4, d + DS_ADDR, tun + (v4 ? IP4_DST : IP6_DST))) return unrelated();
  const nb = neighDest(dest, Pkt.af, d + DS_ADDR);
  if (nb == 0) return unrelated();
  const pt = portAt(load<u16>(nb, NB_PORT));
  if ((<u32>load<u8>(pt, PT_HAS) & (v4 ? PORT_F_ADDR4 : PORT_F_ADDR6)) == 0) return unrelated();
  const ours = pt + (v4 ? PT_ADDR4 : PT_ADDR6);
  if (!sameAddr(v4, ours, tun + (v4 ? IP4_SRC : IP6_SRC)) || !sameAddr(v4, ours, Pkt.daddr)) {
    return unrelated();
  }
  // IPVS checks the checksum once the entry is found, as for the other errors.
  if (icmpSum(v4) != 0xffff) return outcome(V_DROP, R_ICMP_BAD_CSUM);

  const m = Pkt.l4;
  const type = icmpType(m);
  const code = icmpCode(m);
  const info = (load16be(m + ICMP_REST) << 16) | load16be(m + ICMP_REST + 2);
  const len = <u32>(Pkt.innerEnd - cip);
  if (v4 ? type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED : type == ICMPV6_PKT_TOOBIG) {
    // RFC 1191: the next-hop MTU is the low 16 bits; ICMPv6 carries 32.
    const portMtu = load<u32>(pt, PT_MTU);
    pmtuLearn(dest, v4 ? info & 0xffff : info, portMtu, v4, innerV4);
    // The client learns only if it does path MTU discovery (IPv4 DF; IPv6 always).
    if (innerV4 && !ip4Df(cip)) return outcome(V_DROP, R_ICMP_TUNNEL);
    // As ip_vs_in_icmp: the resulting path MTU toward the dest, less our outer header. One
    // the tunnel would refuse anyway (mtuCheck: below 68 / 1280) is not sent.
    const outer = v4 ? IP4_HEADER_LEN : IP6_HEADER_LEN;
    const path = pmtuRoute(dest, portMtu);
    const floor = innerV4 ? IP4_MIN_MTU : IP6_MIN_MTU;
    if (path >= outer + floor) {
      const mtu = path - outer;
      if (innerV4) icmpSendAbout(af, cip, len, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu & 0xffff);
      else icmpSendAbout(af, cip, len, ICMPV6_PKT_TOOBIG, 0, mtu);
    }
    return outcome(V_DROP, R_ICMP_TUNNEL);
  }
  if (innerV4 == v4) {
    icmpSendAbout(af, cip, len, type, code, info); // same type, code and rest (icmp_send)
  } else {
    const t = translate(v4, type, code);
    if (t != 0) {
      const paramProb = t == ((ICMPV6_PARAMPROB << 8) | ICMPV6_UNK_NEXTHDR);
      const pointer = paramProb ? IP6_NEXT_HEADER_POINTER : 0;
      icmpSendAbout(af, cip, len, t >> 8, t & 0xff, pointer);
    }
  }
  return outcome(V_DROP, R_ICMP_TUNNEL);
}
