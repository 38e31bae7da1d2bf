// Transmit (ip_vs_xmit.c): the forwarding method stored in the entry picks
// NAT (rewrite), DR (L2 only) or TUN (IPv4/IPv6 encapsulation), in one switch.
// ARCHITECTURE.md step 12 order: every check that can drop (TTL, next hop, MTU,
// tunnel source) runs before the frame is touched; then L3/L4 rewrite with
// incremental checksums, encapsulation, L2, and the TX descriptor.
import {
  AF_INET,
  CN_DADDR,
  CN_DEST,
  CN_DPORT,
  CN_EXT,
  CN_FLAGS,
  CN_VADDR,
  CN_VPORT,
  HEADROOM,
  IPPROTO_IPIP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  PORT_F_ADDR4,
  PORT_F_ADDR6,
  R_MTU_EXCEEDED,
  R_NONE,
  R_NO_NEIGH,
  R_NO_TUN_SRC,
  R_TTL_EXCEEDED,
  SYS_PMTU_DISC,
  TXD_LEN,
  TXD_OFF,
  TXD_PORT,
  TXD_RX,
  TXD_SIZE,
  TXD_SLOT,
  V_DROP,
  V_TX,
} from "./abi";
import { C6_DADDR, C6_VADDR, conn6At } from "./conn";
import { sysctl } from "./ctl";
import { DS_ADDR, DS_AF, destAt } from "./dest";
import {
  NB_MAC,
  NB_PORT,
  PT_ADDR4,
  PT_ADDR6,
  PT_HAS,
  PT_MAC,
  PT_MTU,
  neighDest,
  neighLookup,
  portAt,
} from "./neigh";
import { natEdge } from "./edge";
import { icmpTimeExceeded } from "./icmp_send";
import { ip4FragmentOut, mtuCheck, pmtuRoute } from "./pmtu";
import { Eng, Mem, Pkt } from "./state";
import { copy16, copyMac, store16be } from "./wire/bytes";
import {
  csumFinish,
  csumIp4Header,
  csumPartial,
  csumUpdate128,
  csumUpdate16,
  csumUpdate32,
  csumUpdateStart,
} from "./wire/checksum";
import { ETH_DST, ETH_P_IPV6_WIRE, ETH_P_IP_WIRE, ETH_SRC } from "./wire/ethernet";
import { IP4_CSUM, IP4_HEADER_LEN, IP4_TOS, IP4_TTL, ip4Df } from "./wire/ipv4";
import { IP6_HEADER_LEN, IP6_HOP_LIMIT, ip6TrafficClass } from "./wire/ipv6";
import { TCP_CSUM } from "./wire/tcp";
import { UDP_CSUM, UDP_LEN, udpCsumOut, udpLength } from "./wire/udp";

/** A verdict and reason packed as the per-frame outcome (core.ts). */
@inline export function outcome(verdict: u32, reason: u32): u32 {
  return (verdict << 8) | reason;
}

/**
 * NAT rewrite of the current packet: in -> dst := (daddr, dport), out -> src :=
 * (vaddr, vport). The L4 checksum is updated incrementally (RFC 1624 eqn 3) over
 * the changed address and port words; a UDP checksum of 0 (none) is replaced by
 * a full one. Returns the incremental IPv4 header sum so far (address change).
 */
function natRewrite(e: usize, out: bool, ipSum: u64): u64 {
  const v4 = Pkt.af == AF_INET;
  const l4 = Pkt.l4;
  const addrField = out ? Pkt.saddr : Pkt.daddr;
  const portField = l4 + (out ? 0 : 2);
  const newAddr = v4
    ? e + (out ? CN_VADDR : CN_DADDR)
    : conn6At(load<u32>(e, CN_EXT)) + (out ? C6_VADDR : C6_DADDR);
  const newPort: u32 = load<u16>(e + (out ? CN_VPORT : CN_DPORT));
  const oldPort: u32 = load<u16>(portField);
  const tcp = Pkt.proto == IPPROTO_TCP;
  const csumField = l4 + (tcp ? TCP_CSUM : UDP_CSUM);
  const check: u32 = load<u16>(csumField);

  if (!tcp && check == 0) {
    // UDP without a checksum leaves with a full one (pseudo header + datagram).
    if (v4) {
      ipSum = csumUpdate32(ipSum, load<u32>(addrField), load<u32>(newAddr));
      store<u32>(addrField, load<u32>(newAddr));
    } else {
      copy16(addrField, newAddr);
    }
    store<u16>(portField, <u16>newPort);
    const alen: u32 = v4 ? 4 : 16;
    let s = csumPartial(Pkt.saddr, alen, 0);
    s = csumPartial(Pkt.daddr, alen, s);
    s += <u64>(<u32>Pkt.proto << 8); // the protocol's pseudo-header word, wire order
    s += <u64>load<u16>(l4, UDP_LEN); // UDP length, already in wire order
    s = csumPartial(l4, udpLength(l4), s); // 8 <= length <= l4len (parser)
    store<u16>(csumField, <u16>udpCsumOut(csumFinish(s)));
    return ipSum;
  }

  let s = csumUpdateStart(check);
  if (v4) {
    const oldA = load<u32>(addrField);
    const newA = load<u32>(newAddr);
    s = csumUpdate32(s, oldA, newA);
    ipSum = csumUpdate32(ipSum, oldA, newA);
    store<u32>(addrField, newA);
  } else {
    s = csumUpdate128(s, addrField, newAddr);
    copy16(addrField, newAddr);
  }
  s = csumUpdate16(s, oldPort, newPort);
  store<u16>(portField, <u16>newPort);
  const c = csumFinish(s);
  store<u16>(csumField, <u16>(tcp ? c : udpCsumOut(c)));
  return ipSum;
}

/** Builds the outer IPv4 or IPv6 header at `oh` for a TUN frame (step 12, TUN). */
function encapsulate(oh: usize, outerV4: bool, dest: usize, pt: usize, ttl: u32): void {
  const ip = Pkt.ip;
  const innerV4 = Pkt.af == AF_INET;
  const iplen = Pkt.iplen;
  let tos: u32 = innerV4 ? load<u8>(ip, IP4_TOS) : ip6TrafficClass(ip);
  if ((tos & 3) == 3) tos = (tos & 0xfc) | 2; // ECN CE -> ECT(0)
  const nextProto = innerV4 ? IPPROTO_IPIP : IPPROTO_IPV6;
  if (outerV4) {
    store<u8>(oh, 0x45);
    store<u8>(oh, <u8>tos, 1);
    store16be(oh + 2, iplen + IP4_HEADER_LEN);
    store16be(oh + 4, Eng.ipId);
    Eng.ipId = (Eng.ipId + 1) & 0xffff;
    const df = innerV4 ? ip4Df(ip) && sysctl(SYS_PMTU_DISC) != 0 : true;
    store<u16>(oh, df ? 0x0040 : 0, 6); // DF as a wire-order flags word
    store<u8>(oh, <u8>ttl, 8);
    store<u8>(oh, <u8>nextProto, 9);
    store<u32>(oh, load<u32>(pt, PT_ADDR4), 12);
    store<u32>(oh, load<u32>(dest, DS_ADDR), 16);
    csumIp4Header(oh, IP4_HEADER_LEN);
  } else {
    store<u8>(oh, <u8>(0x60 | (tos >> 4)));
    store<u8>(oh, <u8>((tos & 0x0f) << 4), 1);
    store<u16>(oh, 0, 2);
    store16be(oh + 4, iplen);
    store<u8>(oh, <u8>nextProto, 6);
    store<u8>(oh, <u8>ttl, 7);
    copy16(oh + 8, pt + PT_ADDR6);
    copy16(oh + 24, dest + DS_ADDR);
  }
}

/**
 * Transmits the current packet on entry `e` in direction in (out = false) or
 * out; returns the outcome (TX, or DROP with a reason).
 */
export function xmit(e: usize, out: bool): u32 {
  const ip = Pkt.ip;
  const v4 = Pkt.af == AF_INET;
  const ttl: u32 = v4 ? load<u8>(ip, IP4_TTL) : load<u8>(ip, IP6_HOP_LIMIT);
  if (ttl <= 1) return icmpTimeExceeded(out); // issue 7: time exceeded to the sender

  // Next hop: in -> the real server (its own family; TUN may cross families),
  // out -> the client.
  const fwd = load<u32>(e, CN_FLAGS) & IP_VS_CONN_F_FWD_MASK;
  const destIndex = load<u32>(e, CN_DEST);
  const dest = destAt(destIndex);
  const hopAf: u32 = out ? Pkt.af : load<u8>(dest, DS_AF);
  const nb = out ? neighLookup(hopAf, Pkt.daddr) : neighDest(destIndex, hopAf, dest + DS_ADDR);
  if (nb == 0) return outcome(V_DROP, R_NO_NEIGH);
  const port: u32 = load<u16>(nb, NB_PORT);
  const pt = portAt(port);
  const tun = !out && fwd == IP_VS_CONN_F_TUNNEL;
  // TUN: the path MTU learned from errors about our tunnel packets, if lower (pmtu.ts).
  const portMtu = load<u32>(pt, PT_MTU);
  const mtu = <i64>(tun ? pmtuRoute(destIndex, portMtu) : portMtu);
  const iplen = Pkt.iplen;

  const outerV4 = hopAf == AF_INET;
  let outer: u32 = 0;
  if (tun) outer = outerV4 ? IP4_HEADER_LEN : IP6_HEADER_LEN;
  // Issue 7 (pmtu.ts): too big -> ICMP frag needed / packet too big, or fragment (no DF).
  Pkt.fragMtu = 0;
  if (outer != 0 || <i64>iplen > mtu) {
    const m = mtuCheck(outer, <u32>min<i64>(mtu, 0xffffffff), out);
    if (m != 0) return m;
  }
  if (tun && (<u32>load<u8>(pt, PT_HAS) & (outerV4 ? PORT_F_ADDR4 : PORT_F_ADDR6)) == 0) {
    return outcome(V_DROP, R_NO_TUN_SRC);
  }

  // L3/L4: NAT rewrite, TTL or hop limit - 1, IPv4 header checksum (eqn 3).
  if (v4) {
    let ipSum = csumUpdateStart(load<u16>(ip, IP4_CSUM));
    if (fwd == IP_VS_CONN_F_MASQ) {
      ipSum = Pkt.kind == 0 ? natRewrite(e, out, ipSum) : natEdge(e, out, ipSum);
    }
    const ttlWord: u32 = load<u16>(ip, IP4_TTL); // TTL is the first byte: raw low byte
    ipSum = csumUpdate16(ipSum, ttlWord, ttlWord - 1);
    store<u16>(ip, <u16>(ttlWord - 1), IP4_TTL);
    store<u16>(ip, <u16>csumFinish(ipSum), IP4_CSUM);
  } else {
    if (fwd == IP_VS_CONN_F_MASQ) {
      if (Pkt.kind == 0) natRewrite(e, out, 0);
      else natEdge(e, out, 0);
    }
    store<u8>(ip, <u8>(ttl - 1), IP6_HOP_LIMIT);
  }

  // TUN: the L2 header (with any VLAN tag) moves left by the outer header size.
  let frame = Pkt.frame;
  const l3 = Pkt.l3;
  if (tun) {
    const moved = frame - outer;
    memory.copy(moved, frame, l3);
    frame = moved;
    store<u16>(frame + l3 - 2, <u16>(outerV4 ? ETH_P_IP_WIRE : ETH_P_IPV6_WIRE));
    encapsulate(frame + l3, outerV4, dest, pt, ttl - 1);
  }

  copyMac(frame + ETH_DST, nb + NB_MAC);
  copyMac(frame + ETH_SRC, pt + PT_MAC);

  // At most one TX per RX frame and n <= batch = txCap / 2 (engine slots are for later).
  assert(Eng.nTx < Mem.txCap);
  if (Pkt.fragMtu != 0) return ip4FragmentOut(frame, l3, outer, port); // issue 7
  const t = Mem.txDesc + <usize>Eng.nTx * TXD_SIZE;
  store<u32>(t, Pkt.slot, TXD_SLOT);
  store<u16>(t, <u16>(HEADROOM - outer), TXD_OFF);
  store<u16>(t, <u16>(l3 + iplen + outer), TXD_LEN);
  store<u16>(t, <u16>port, TXD_PORT);
  store<u16>(t, 0, TXD_PORT + 2);
  store<u32>(t, Pkt.rx, TXD_RX);
  Eng.nTx++;
  return outcome(V_TX, R_NONE);
}
