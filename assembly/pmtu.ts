// Path MTU at transmit (ip_vs_xmit.c ensure_mtu_is_adequate, __mtu_check_toobig_v6, the
// tunnel MTU of ip_vs_tunnel_xmit): a packet that does not fit the egress port's MTU (the
// tunnel MTU, port MTU - 20 or - 40, for TUN) is refused with fragmentation needed / packet
// too big when it may not be fragmented (IPv4 with DF, any IPv6), and fragmented when it
// may (IPv4 without DF; IPv4 tunnels with pmtu_disc = 0; ICMP errors, whose DF IPVS ignores).
// Fragmenting makes at most two fragments: the first stays in the frame's slot, the second
// goes to the frame's engine-owned slot (batch + rx) as a second TX descriptor. Only an
// IPv4 header without options is fragmented: the outer header of an IPv4 tunnel, or the
// packet's own. Everything here is decided before xmit writes a byte.
// The learned path MTU toward a tunnel dest (pmtuLearn, pmtuRoute) lowers the port MTU for
// TUN: it comes from fragmentation needed / packet too big about our own tunnel packets
// (icmp_tunnel.ts), as ipv4_update_pmtu / ip6_update_pmtu keep it on the route to the RS.
import {
  AF_INET,
  C_PMTU_LEARNED,
  HEADROOM,
  R_MTU_EXCEEDED,
  R_NONE,
  SLOT_SIZE,
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
import { sysctl } from "./ctl";
import { DS_PMTU, DS_PMTU_AT, destAt } from "./dest";
import { PK_ICMP } from "./edge";
import { icmpTooBig } from "./icmp_send";
import { Eng, Mem, Pkt } from "./state";
import { count } from "./stats";
import { load16be, store16be } from "./wire/bytes";
import { csumIp4Header } from "./wire/checksum";
import { IP4_HEADER_LEN, ip4Df, ip4HeaderLen, ip4TotalLen } from "./wire/ipv4";
import { IP6_HEADER_LEN } from "./wire/ipv6";

/** Smallest MTU an IPv4 / IPv6 path may have (RFC 791 §3.2 "68 octets", RFC 8200 §5). */
export const IP4_MIN_MTU: u32 = 68;
export const IP6_MIN_MTU: u32 = 1280;
const IP4_MF: u32 = 0x2000;
const IP4_OFFSET_MASK: u32 = 0x1fff;

/**
 * How long a learned path MTU lasts (ms): Linux's ip_rt_mtu_expires, 10 minutes. It is
 * measured as unsigned elapsed engine time since it was learned or confirmed, so an entry
 * nobody reads for 2^32 ms (49.7 days) could look fresh for another 10 minutes; every read
 * of an expired entry clears it, which keeps that to dests that saw no tunnel packet at all.
 */
export const PMTU_EXPIRE_MS: u32 = 600000;
/** Linux's min_pmtu default (512 + 20 + 20): no IPv4 path is believed to be smaller. */
const PMTU_MIN4: u32 = 552;

/** The MTU toward dest `dest` through a port of MTU `mtu`: lowered by a live learned PMTU. */
export function pmtuRoute(dest: u32, mtu: u32): u32 {
  const d = destAt(dest);
  const learned = load<u32>(d, DS_PMTU);
  if (learned == 0) return mtu;
  if (Eng.nowMs - load<u32>(d, DS_PMTU_AT) >= PMTU_EXPIRE_MS) {
    store<u32>(d, 0, DS_PMTU); // expired: forgotten
    return mtu;
  }
  return min<u32>(learned, mtu);
}

/**
 * Learns `reported` as the path MTU toward dest `dest` (port MTU `mtu`, outer header of
 * family `outerV4`, client packets of family `innerV4`): only ever lowers it (an equal
 * report renews it), as __ip_rt_update_pmtu ignores a larger MTU; the clock starts again.
 * Counted as C_PMTU_LEARNED. Lower reports count as the floor: the outer family's smallest
 * path (552 as Linux's min_pmtu, against forged tiny MTUs; 1280), and never less than the
 * tunnel needs to carry a smallest client path (outer + 68 / 1280): mtuCheck refuses every
 * packet below that, and one forged error would stop all traffic to the dest. (Linux has
 * no such floor: an IPv6-in-IPv6 path below 1320 stops it.)
 */
export function pmtuLearn(dest: u32, reported: u32, mtu: u32, outerV4: bool, innerV4: bool): void {
  const outer = outerV4 ? IP4_HEADER_LEN : IP6_HEADER_LEN;
  const carry = outer + (innerV4 ? IP4_MIN_MTU : IP6_MIN_MTU);
  const floor = max<u32>(outerV4 ? PMTU_MIN4 : IP6_MIN_MTU, carry);
  const m = max<u32>(reported, floor);
  if (m > pmtuRoute(dest, mtu)) return;
  const d = destAt(dest);
  store<u32>(d, m, DS_PMTU);
  store<u32>(d, Eng.nowMs, DS_PMTU_AT);
  count(C_PMTU_LEARNED);
}

/** A held fragment being sent (frag.ts): its frame's engine slot is taken, so no fragmenting. */
@inline function held(): bool {
  return Pkt.slot >= Mem.batch;
}

@inline function drop(): u32 {
  return (V_DROP << 8) | R_MTU_EXCEEDED;
}

/**
 * True when `payload` bytes behind a `hl`-byte header fit two fragments of `mtu`: the first
 * carries the largest multiple of 8 that fits, the second the rest.
 */
@inline function twoFragments(mtu: u32, hl: u32, payload: u32): bool {
  if (mtu < hl + 8) return false;
  const first = ((mtu - hl) >> 3) << 3;
  return payload - first <= mtu - hl;
}

/**
 * The MTU check of step 12 for the current packet going out of a port of MTU `mtu` (`outer`
 * > 0: a tunnel with an outer header of that size). Returns 0 (fits, or Pkt.fragMtu set to
 * fragment it) or a DROP mtu_exceeded outcome, after an ICMP error where one is due.
 */
export function mtuCheck(outer: u32, mtu: u32, out: bool): u32 {
  Pkt.fragMtu = 0;
  const iplen = Pkt.iplen;
  const v4 = Pkt.af == AF_INET;
  const relay = Pkt.kind == PK_ICMP;
  if (outer != 0) {
    if (mtu < outer) return drop();
    const tmtu = mtu - outer;
    if (!v4) {
      if (tmtu < IP6_MIN_MTU) return drop();
      if (iplen <= tmtu) return 0;
      return relay ? drop() : icmpTooBig(out, tmtu);
    }
    if (tmtu < IP4_MIN_MTU) return drop();
    const outer4 = outer == IP4_HEADER_LEN;
    // pmtu_disc = 0: an IPv4 tunnel does no MTU check; the outer header is fragmented.
    const noCheck = outer4 && sysctl(SYS_PMTU_DISC) == 0;
    if (iplen <= tmtu) return 0;
    if (!noCheck && ip4Df(Pkt.ip) && !relay) return icmpTooBig(out, tmtu);
    if (!outer4 || !twoFragments(mtu, IP4_HEADER_LEN, iplen) || held()) return drop();
    Pkt.fragMtu = mtu;
    return 0;
  }
  if (iplen <= mtu) return 0;
  if (!v4) return relay ? drop() : icmpTooBig(out, mtu);
  if (ip4Df(Pkt.ip) && !relay) return icmpTooBig(out, mtu);
  const hl = ip4HeaderLen(Pkt.ip);
  if (hl != IP4_HEADER_LEN || !twoFragments(mtu, hl, iplen - hl) || held()) return drop();
  Pkt.fragMtu = mtu;
  return 0;
}

/**
 * Writes the two fragments of the finished frame at `frame` (IPv4 header at `frame + l3`,
 * `outer` bytes of headroom used) to MTU Pkt.fragMtu, and their TX descriptors on `port`.
 * DF is cleared in both; the second keeps the original MF and takes the next offset.
 */
export function ip4FragmentOut(frame: usize, l3: u32, outer: u32, port: u32): u32 {
  const ip = frame + l3;
  const hl = ip4HeaderLen(ip);
  const total = ip4TotalLen(ip);
  const first = ((Pkt.fragMtu - hl) >> 3) << 3;
  const rest = total - hl - first;
  const word = load16be(ip + 6);
  const offset = word & IP4_OFFSET_MASK;
  const slot2 = Mem.batch + Pkt.rx;
  const g = Mem.slots + <usize>slot2 * SLOT_SIZE + HEADROOM;
  memory.copy(g, frame, l3 + hl);
  memory.copy(g + l3 + hl, ip + hl + first, rest);
  const ip2 = g + l3;
  store16be(ip2 + 2, hl + rest);
  store16be(ip2 + 6, (word & IP4_MF) | (offset + (first >> 3)));
  csumIp4Header(ip2, hl);
  store16be(ip + 2, hl + first);
  store16be(ip + 6, IP4_MF | offset);
  csumIp4Header(ip, hl);
  txDesc(Pkt.slot, HEADROOM - outer, l3 + hl + first, port);
  txDesc(slot2, HEADROOM, l3 + hl + rest, port);
  return (V_TX << 8) | R_NONE;
}

function txDesc(slot: u32, off: u32, len: u32, port: u32): void {
  const t = Mem.txDesc + <usize>Eng.nTx * TXD_SIZE;
  store<u32>(t, slot, TXD_SLOT);
  store<u16>(t, <u16>off, TXD_OFF);
  store<u16>(t, <u16>len, TXD_LEN);
  store<u16>(t, <u16>port, TXD_PORT);
  store<u16>(t, 0, TXD_PORT + 2);
  store<u32>(t, Pkt.rx, TXD_RX);
  Eng.nTx++;
}
