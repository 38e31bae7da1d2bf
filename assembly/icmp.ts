// ICMP and ICMPv6 errors that belong to a connection (ip_vs_core.c ip_vs_in_icmp,
// ip_vs_out_icmp, ip_vs_nat_icmp; spec ipvs-data-plane.md §4.7). The quoted packet is read
// with its addresses and ports swapped and looked up in the table: in direction first (an
// error from the client side about a packet we sent from the VIP), then out (an error from
// a NAT real server's side about a client's packet). The error goes where the connection
// goes, with the entry's forwarding method; for NAT the outer address, the quoted address
// and port and every checksum are rewritten. Counted as a packet of that direction; no
// state change, no timer refresh, no in_pkts (IPVS's __ip_vs_conn_put). Errors about
// anything else, or whose quote cannot be read, are passed (icmp_unrelated). An error whose
// quote is one of our IPIP / IPv6-in-IP packets goes to icmp_tunnel.ts instead.
import {
  AF_INET,
  CN_DADDR,
  CN_DEST,
  CN_DPORT,
  CN_EXT,
  CN_SVC,
  CN_VADDR,
  CN_VPORT,
  IPPROTO_ICMPV6,
  IPPROTO_IPIP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IP_VS_DEST_F_AVAILABLE,
  R_ICMP_BAD_CSUM,
  R_ICMP_UNRELATED,
  R_NOT_L4,
  R_TRUNC_L4,
  V_DROP,
  V_PASS,
} from "./abi";
import { C6_DADDR, C6_VADDR, NIL, conn6At, connAt } from "./conn";
import { DS_FLAGS, destAt } from "./dest";
import { PK_ICMP, liveIn, liveOut } from "./edge";
import { icmpTunnel } from "./icmp_tunnel";
import { Pkt } from "./state";
import { statsPacket } from "./stats";
import { xmit } from "./xmit";
import { copy16, swap16 } from "./wire/bytes";
import {
  csumFinish,
  csumFold,
  csumPartial,
  csumUpdate128,
  csumUpdate16,
  csumUpdate32,
  csumUpdateStart,
} from "./wire/checksum";
import { ICMP_CSUM, ICMP_HEADER_LEN, icmp6IsError, icmpIsRelayedError, icmpType } from "./wire/icmp";
import { IP4_CSUM, IP4_DST, IP4_HEADER_LEN, IP4_SRC, ip4HeaderLen } from "./wire/ipv4";
import {
  IP6_DST,
  IP6_EXT_MAX,
  IP6_EXT_MIN_LEN,
  IP6_HEADER_LEN,
  IP6_NEXT,
  IP6_SRC,
  NEXTHDR_FRAGMENT,
  ip6ExtLen,
  ip6IsSkippableExt,
} from "./wire/ipv6";
import { TCP_CSUM } from "./wire/tcp";
import { UDP_CSUM, udpCsumOut } from "./wire/udp";

/** Bytes of the quoted transport header the lookup needs: the two ports. */
const PORTS_LEN: u32 = 4;

@inline function outcome(verdict: u32, reason: u32): u32 {
  return (verdict << 8) | reason;
}

/**
 * Reads the IP header quoted at `ip` (IPv4 if `v4`), with `end` the end of the ICMP payload,
 * into Pkt.inner*: the header, where its payload starts, its protocol (IPv6 extension headers
 * walked). False when it cannot be read or is a non-first fragment (no transport header).
 */
export function parseQuoted(ip: usize, end: usize, v4: bool): bool {
  const avail = <u32>(end - ip);
  let off: u32;
  let proto: u32;
  if (v4) {
    if (avail < IP4_HEADER_LEN || (<u32>load<u8>(ip) >> 4) != 4) return false;
    off = ip4HeaderLen(ip);
    if (off < IP4_HEADER_LEN || off > avail) return false;
    // A quoted non-first fragment has no transport header (frag offset, low 13 bits).
    if (((<u32>load<u8>(ip, 6) & 0x1f) | <u32>load<u8>(ip, 7)) != 0) return false;
    proto = load<u8>(ip, 9);
  } else {
    if (avail < IP6_HEADER_LEN || (<u32>load<u8>(ip) >> 4) != 6) return false;
    proto = load<u8>(ip, IP6_NEXT);
    off = IP6_HEADER_LEN;
    for (let n: u32 = 0; ; n++) {
      const frag = proto == NEXTHDR_FRAGMENT;
      if (!frag && !ip6IsSkippableExt(proto)) break;
      if (n >= IP6_EXT_MAX || off + IP6_EXT_MIN_LEN > avail) return false;
      const h = ip + off;
      // A fragment header (8 bytes): only a first fragment (offset 0) quotes its ports.
      if (frag && ((<u32>load<u8>(h, 2) << 8 | <u32>load<u8>(h, 3)) & 0xfff8) != 0) return false;
      const hl = frag ? IP6_EXT_MIN_LEN : ip6ExtLen(h);
      if (off + hl > avail) return false;
      proto = load<u8>(h);
      off += hl;
    }
  }
  Pkt.innerIp = ip;
  Pkt.innerL4 = ip + off;
  Pkt.innerEnd = end;
  Pkt.innerProto = proto;
  return true;
}

/** The quote read by parseQuoted is TCP or UDP with at least its two ports. */
export function quotedPorts(): bool {
  const proto = Pkt.innerProto;
  if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return false;
  return Pkt.innerL4 + PORTS_LEN <= Pkt.innerEnd;
}

/** The ICMP (IPv4) or ICMPv6 checksum of the current packet's message, folded (0xFFFF: good). */
@inline export function icmpSum(v4: bool): u32 {
  return csumFold(icmpSumRaw(v4));
}

/** Relays the ICMP error at Pkt.l4 on its connection (core.ts, via edge.ts otherL4). */
export function icmpRelay(): u32 {
  const v4 = Pkt.af == AF_INET;
  if (Pkt.l4len < ICMP_HEADER_LEN) return outcome(V_DROP, R_TRUNC_L4);
  const type = icmpType(Pkt.l4);
  if (v4 ? !icmpIsRelayedError(type) : !icmp6IsError(type)) return outcome(V_PASS, R_NOT_L4);
  const end = Pkt.l4 + Pkt.l4len;
  if (!parseQuoted(Pkt.l4 + ICMP_HEADER_LEN, end, v4)) return outcome(V_PASS, R_ICMP_UNRELATED);
  // An error about one of our own tunnel packets (spec §4.7, last bullet): icmp_tunnel.ts.
  const quoted = Pkt.innerProto;
  if (quoted == IPPROTO_IPIP || quoted == IPPROTO_IPV6) return icmpTunnel(v4);
  if (!quotedPorts()) return outcome(V_PASS, R_ICMP_UNRELATED);
  // The quoted packet went the other way: its destination is our key's source.
  const ip = Pkt.innerIp;
  const l4 = Pkt.innerL4;
  const src = ip + (v4 ? IP4_SRC : IP6_SRC);
  const dst = ip + (v4 ? IP4_DST : IP6_DST);
  const sport: u32 = load<u16>(l4);
  const dport: u32 = load<u16>(l4, 2);
  let out = false;
  let slot = liveIn(Pkt.af, Pkt.innerProto, dst, dport, src, sport);
  if (slot == NIL) {
    slot = liveOut(Pkt.af, Pkt.innerProto, dst, dport, src, sport);
    out = true;
  }
  if (slot == NIL) return outcome(V_PASS, R_ICMP_UNRELATED);
  if (icmpSum(v4) != 0xffff) return outcome(V_DROP, R_ICMP_BAD_CSUM);
  const e = connAt(slot);
  const dest = load<u32>(e, CN_DEST);
  if ((load<u32>(destAt(dest), DS_FLAGS) & IP_VS_DEST_F_AVAILABLE) != 0) {
    statsPacket(load<u32>(e, CN_SVC), dest, out, Pkt.iplen);
  }
  Pkt.kind = PK_ICMP;
  return xmit(e, out);
}

/** Fixes a quoted TCP/UDP checksum, if the quote holds it, for the address and port change. */
function fixQuotedL4(s: u64, at: usize): void {
  const tcp = Pkt.innerProto == IPPROTO_TCP;
  const field = at + (tcp ? TCP_CSUM : UDP_CSUM);
  if (field + 2 > Pkt.innerEnd) return;
  const check: u32 = load<u16>(field);
  if (!tcp && check == 0) return; // no UDP checksum stays none
  const c = csumFinish(s + csumUpdateStart(check));
  store<u16>(field, <u16>(tcp ? c : udpCsumOut(c)));
}

/**
 * NAT of an ICMP error (ip_vs_nat_icmp): in -> outer destination and quoted source become the
 * real server's address, quoted source port its port; out -> outer source and quoted
 * destination become the VIP, quoted destination port the virtual port. The quoted IPv4
 * header checksum and the quoted L4 checksum (when quoted) are updated incrementally, the
 * ICMP checksum recomputed (the message changed). Returns the outer IPv4 header sum.
 */
export function icmpNat(e: usize, out: bool, ipSum: u64): u64 {
  const v4 = Pkt.af == AF_INET;
  const ip = Pkt.innerIp;
  const outerField = out ? Pkt.saddr : Pkt.daddr;
  const innerField = ip + (v4 ? (out ? IP4_DST : IP4_SRC) : (out ? IP6_DST : IP6_SRC));
  const portField = Pkt.innerL4 + (out ? 2 : 0);
  const newPort: u32 = load<u16>(e + (out ? CN_VPORT : CN_DPORT));
  const oldPort: u32 = load<u16>(portField);
  // The change of the quoted pseudo header and port, as RFC 1624 terms (~m + m').
  let s: u64 = 0;
  if (v4) {
    const newA = load<u32>(e + (out ? CN_VADDR : CN_DADDR));
    ipSum = csumUpdate32(ipSum, load<u32>(outerField), newA);
    store<u32>(outerField, newA);
    const oldA = load<u32>(innerField);
    const h = csumUpdate32(csumUpdateStart(load<u16>(ip, IP4_CSUM)), oldA, newA);
    store<u16>(ip, <u16>csumFinish(h), IP4_CSUM);
    s = csumUpdate32(s, oldA, newA);
    store<u32>(innerField, newA);
  } else {
    const newA = conn6At(load<u32>(e, CN_EXT)) + (out ? C6_VADDR : C6_DADDR);
    copy16(outerField, newA);
    s = csumUpdate128(s, innerField, newA);
    copy16(innerField, newA);
  }
  s = csumUpdate16(s, oldPort, newPort);
  fixQuotedL4(s, Pkt.innerL4);
  store<u16>(portField, <u16>newPort);
  const m = Pkt.l4;
  store<u16>(m, 0, ICMP_CSUM);
  store<u16>(m, <u16>csumFinish(icmpSumRaw(v4)), ICMP_CSUM);
  return ipSum;
}

/** The unfolded sum over the message (and, for ICMPv6, its pseudo header). */
function icmpSumRaw(v4: bool): u64 {
  let s: u64 = 0;
  if (!v4) {
    s = csumPartial(Pkt.saddr, 16, 0);
    s = csumPartial(Pkt.daddr, 16, s);
    s += <u64>swap16(Pkt.l4len) + <u64>(IPPROTO_ICMPV6 << 8);
  }
  return csumPartial(Pkt.l4, Pkt.l4len, s);
}
