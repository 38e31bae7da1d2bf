// ICMP and ICMPv6 errors the engine generates (ip_vs_core.c ip_vs_leave, ip_vs_xmit.c
// decrement_ttl and ensure_mtu_is_adequate, which call icmp_send / icmpv6_send): port
// unreachable when no real server is available, time exceeded when the TTL runs out,
// fragmentation needed / packet too big with the MTU that did not fit, and the errors about
// the client packet inside a tunnel error (icmp_tunnel.ts, icmpSendAbout). The error is built
// in the engine-owned frame slot of the RX frame (batch + rx) and sent as an extra TX
// descriptor; the frame itself is dropped with its reason as before.
// Rules (Linux icmp_send): never about an ICMP error or a non-first fragment, never to a
// source that is not a unicast host, at most icmp_msgs_per_sec (burst icmp_msgs_burst) in
// all. Source address: the offending packet's destination when it was addressed to us (in
// direction: the VIP), else the address of the port the error leaves by (out direction).
import {
  AF_INET,
  C_ICMP_SENT,
  C_ICMP_SUPPRESSED,
  HEADROOM,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  PORT_F_ADDR4,
  PORT_F_ADDR6,
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
  V_DROP,
} from "./abi";
import { sysctl } from "./ctl";
import { PK_ICMP } from "./edge";
import { FRAG_LATER } from "./frag";
import { NB_MAC, NB_PORT, PT_ADDR4, PT_ADDR6, PT_HAS, PT_MAC, neighLookup, portAt } from "./neigh";
import { Edge, Eng, Mem, Pkt } from "./state";
import { count } from "./stats";
import { copy16, copyMac, store16be, swap16 } from "./wire/bytes";
import { csumFinish, csumIp4Header, csumPartial } from "./wire/checksum";
import { ETH_DST, ETH_P_IPV6_WIRE, ETH_P_IP_WIRE, ETH_SRC } from "./wire/ethernet";
import {
  ICMP6_ERROR_MAX,
  ICMPV6_DEST_UNREACH,
  ICMPV6_EXC_HOPLIMIT,
  ICMPV6_PKT_TOOBIG,
  ICMPV6_PORT_UNREACH,
  ICMPV6_TIME_EXCEED,
  ICMP_CSUM,
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
} from "./wire/icmp";
import { IP4_DST, IP4_HEADER_LEN, IP4_SRC } from "./wire/ipv4";
import { IP6_DST, IP6_HEADER_LEN, IP6_SRC } from "./wire/ipv6";

/** Longest gap the token bucket credits at once (ms): keeps the product exact. */
const REFILL_MAX_MS: u32 = 1000000;

@inline function dropOutcome(reason: u32): u32 {
  return (V_DROP << 8) | reason;
}

/**
 * True when `a` may receive an error, or be the destination of a packet we answer: not
 * 0/8, loopback, multicast, class E or broadcast (IPv4); not ::, ::1 or ff00::/8 (IPv6).
 */
function unicastHost(v4: bool, a: usize): bool {
  const b0: u32 = load<u8>(a);
  if (v4) return b0 != 0 && b0 != 127 && b0 < 224;
  if (b0 == 0xff) return false;
  const hi = load<u64>(a);
  const lo = load<u64>(a, 8);
  // In little-endian loads ::1 has its 1 in the top byte of the second word.
  return !(hi == 0 && (lo == 0 || lo == (<u64>1 << 56)));
}

/** Takes one message from the token bucket (thousandths of a message per ms × rate). */
function tokenTake(): bool {
  const rate = sysctl(SYS_ICMP_MSGS_PER_SEC);
  if (rate == 0) return true;
  let gap = <i32>(Eng.nowMs - Edge.icmpLastMs);
  if (gap < 0) gap = 0;
  const ms = min<u32>(<u32>gap, REFILL_MAX_MS);
  Edge.icmpLastMs = Eng.nowMs;
  const cap = <u64>sysctl(SYS_ICMP_MSGS_BURST) * 1000;
  let t = Edge.icmpTokens + <u64>ms * <u64>rate;
  if (t > cap) t = cap;
  if (t < 1000) {
    Edge.icmpTokens = t;
    return false;
  }
  Edge.icmpTokens = t - 1000;
  return true;
}

/**
 * Builds and queues an ICMP (IPv4) or ICMPv6 error about the current packet, which must
 * still be as received. `info` is the 32-bit field after the checksum (an MTU or 0).
 */
function icmpSend(out: bool, type: u32, code: u32, info: u32): void {
  // Never an error about an error, nor about a fragment other than the first (RFC 1122).
  if (Pkt.kind == PK_ICMP || Pkt.frag == FRAG_LATER) return;
  icmpEmit(Pkt.af, Pkt.ip, Pkt.iplen, out, type, code, info);
}

/**
 * Builds and queues an error of family `af` about the packet whose IP header is at `ip`, of
 * which `len` bytes may be quoted, to its source. The RX frame's L2 header is the model; its
 * EtherType follows `af` (a tunnel error may be about a packet of the other family).
 */
function icmpEmit(af: u32, ip0: usize, len: u32, out: bool, type: u32, code: u32, info: u32): void {
  const v4 = af == AF_INET;
  const saddr = ip0 + (v4 ? IP4_SRC : IP6_SRC);
  const daddr = ip0 + (v4 ? IP4_DST : IP6_DST);
  if (!unicastHost(v4, saddr) || !unicastHost(v4, daddr)) {
    count(C_ICMP_SUPPRESSED);
    return;
  }
  const nb = neighLookup(af, saddr);
  if (nb == 0) {
    count(C_ICMP_SUPPRESSED);
    return;
  }
  const port: u32 = load<u16>(nb, NB_PORT);
  const pt = portAt(port);
  let src = daddr;
  if (out) {
    if ((<u32>load<u8>(pt, PT_HAS) & (v4 ? PORT_F_ADDR4 : PORT_F_ADDR6)) == 0) {
      count(C_ICMP_SUPPRESSED);
      return;
    }
    src = pt + (v4 ? PT_ADDR4 : PT_ADDR6);
  }
  if (!tokenTake()) {
    count(C_ICMP_SUPPRESSED);
    return;
  }
  const slot = Mem.batch + Pkt.rx;
  const g = Mem.slots + <usize>slot * SLOT_SIZE + HEADROOM;
  const l3 = Pkt.l3;
  // The request's L2 header shape (an 802.1Q tag stays), addressed back to the sender.
  memory.copy(g, Pkt.frame, l3);
  store<u16>(g + l3 - 2, <u16>(v4 ? ETH_P_IP_WIRE : ETH_P_IPV6_WIRE));
  copyMac(g + ETH_DST, nb + NB_MAC);
  copyMac(g + ETH_SRC, pt + PT_MAC);
  const ip = g + l3;
  const hlen = v4 ? IP4_HEADER_LEN : IP6_HEADER_LEN;
  const most = v4 ? ICMP_ERROR_MAX : ICMP6_ERROR_MAX;
  let quote = len;
  if (hlen + ICMP_HEADER_LEN + quote > most) quote = most - hlen - ICMP_HEADER_LEN;
  const mlen = ICMP_HEADER_LEN + quote;
  const m = ip + hlen;
  store<u8>(m, <u8>type);
  store<u8>(m, <u8>code, 1);
  store<u16>(m, 0, ICMP_CSUM);
  store16be(m + ICMP_REST, info >> 16);
  store16be(m + ICMP_REST + 2, info & 0xffff);
  memory.copy(m + ICMP_HEADER_LEN, ip0, quote);
  if (v4) {
    store<u8>(ip, 0x45);
    store<u8>(ip, <u8>ICMP_TOS, 1);
    store16be(ip + 2, IP4_HEADER_LEN + mlen);
    store16be(ip + 4, Edge.icmpId);
    Edge.icmpId = (Edge.icmpId + 1) & 0xffff;
    store<u16>(ip, 0, 6);
    store<u8>(ip, <u8>ICMP_TTL, 8);
    store<u8>(ip, <u8>IPPROTO_ICMP, 9);
    store<u32>(ip + IP4_SRC, load<u32>(src));
    store<u32>(ip + IP4_DST, load<u32>(saddr));
    csumIp4Header(ip, IP4_HEADER_LEN);
    store<u16>(m, <u16>csumFinish(csumPartial(m, mlen, 0)), ICMP_CSUM);
  } else {
    store<u32>(ip, 0x60); // version 6, traffic class 0, flow label 0
    store16be(ip + 4, mlen);
    store<u8>(ip, <u8>IPPROTO_ICMPV6, 6);
    store<u8>(ip, <u8>ICMP_TTL, 7);
    copy16(ip + IP6_SRC, src);
    copy16(ip + IP6_DST, saddr);
    // Pseudo header: addresses, the 32-bit length and next header (wire-order words).
    let s = csumPartial(ip + IP6_SRC, 32, 0);
    s += <u64>swap16(mlen) + <u64>(IPPROTO_ICMPV6 << 8);
    store<u16>(m, <u16>csumFinish(csumPartial(m, mlen, s)), ICMP_CSUM);
  }
  const t = Mem.txDesc + <usize>Eng.nTx * TXD_SIZE;
  store<u32>(t, slot, TXD_SLOT);
  store<u16>(t, <u16>HEADROOM, TXD_OFF);
  store<u16>(t, <u16>(l3 + hlen + mlen), TXD_LEN);
  store<u16>(t, <u16>port, TXD_PORT);
  store<u16>(t, 0, TXD_PORT + 2);
  store<u32>(t, Pkt.rx, TXD_RX);
  Eng.nTx++;
  count(C_ICMP_SENT);
}

/**
 * An error about the client packet a tunnel error quotes (icmp_tunnel.ts): family `af`, IP
 * header at `ip`, `len` bytes quoted; from the packet's destination (the VIP) to its source.
 * The caller has checked that the packet is TCP or UDP and not a later fragment.
 */
export function icmpSendAbout(af: u32, ip: usize, len: u32, type: u32, code: u32, info: u32): void {
  icmpEmit(af, ip, len, false, type, code, info);
}

/** No real server (ip_vs_leave): port unreachable to the client; DROP no_dest. */
export function icmpPortUnreach(): u32 {
  if (Pkt.af == AF_INET) icmpSend(false, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
  else icmpSend(false, ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, 0);
  return dropOutcome(R_NO_DEST);
}

/** TTL or hop limit <= 1 (decrement_ttl): time exceeded to the sender; DROP ttl_exceeded. */
export function icmpTimeExceeded(out: bool): u32 {
  if (Pkt.af == AF_INET) icmpSend(out, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0);
  else icmpSend(out, ICMPV6_TIME_EXCEED, ICMPV6_EXC_HOPLIMIT, 0);
  return dropOutcome(R_TTL_EXCEEDED);
}

/**
 * Too big for the path (ensure_mtu_is_adequate): fragmentation needed with the next-hop MTU
 * (RFC 1191: the low 16 bits), or packet too big with it; DROP mtu_exceeded.
 */
export function icmpTooBig(out: bool, mtu: u32): u32 {
  if (Pkt.af == AF_INET) icmpSend(out, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu & 0xffff);
  else icmpSend(out, ICMPV6_PKT_TOOBIG, 0, mtu);
  return dropOutcome(R_MTU_EXCEEDED);
}

/** Resets the generator's state at init: a full bucket, the IP ID at 0. */
export function icmpSendReset(): void {
  Edge.icmpTokens = <u64>sysctl(SYS_ICMP_MSGS_BURST) * 1000;
  Edge.icmpLastMs = 0;
  Edge.icmpId = 0;
}
