// Path MTU at transmit (ip_vs_xmit.c ensure_mtu_is_adequate, __mtu_check_toobig_v6, the
// tunnel MTU of ip_vs_tunnel_xmit): too big and not to be fragmented (IPv4 with DF, IPv6)
// → fragmentation needed / packet too big with the MTU; IPv4 that may be fragmented (no DF,
// IPv4 tunnels with pmtu_disc = 0, ICMP errors whose DF IPVS ignores) → two fragments, the
// second in the frame's engine-owned slot as an extra TX descriptor. Only an option-less
// IPv4 header is fragmented (a tunnel's outer header, or the packet's own). Decided before
// transmit writes a byte. The learned path MTU toward a tunnel dest (pmtuLearn, pmtuRoute)
// lowers the port MTU for TUN: it comes from fragmentation needed / packet too big about our
// own tunnel packets (icmp_tunnel.ts). Mirrors assembly/pmtu.ts. Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import { PK_ICMP } from "./edge.ts";
import { icmpTooBig } from "./icmp_send.ts";
import type { EngineState, Packet } from "./state.ts";
import * as bytesWire from "./wire/bytes.ts";
import * as checksumWire from "./wire/checksum.ts";

const {
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
} = abi;
const { load16be, store16be } = bytesWire;
const { finish, sumHeader } = checksumWire;

export const IP4_MIN_MTU = 68;
export const IP6_MIN_MTU = 1280;
const IP4_MF = 0x2000;
const IP4_OFFSET_MASK = 0x1fff;
const IP4_HEADER_LEN = 20;
const IP6_HEADER_LEN = 40;

/**
 * How long a learned path MTU lasts (ms): Linux's ip_rt_mtu_expires, 10 minutes, measured as
 * unsigned elapsed engine time (u32 ms) since it was learned or confirmed; reading an expired
 * entry clears it (see assembly/pmtu.ts for the wrap-around this leaves).
 */
export const PMTU_EXPIRE_MS = 600_000;
/** Linux's min_pmtu default (512 + 20 + 20): no IPv4 path is believed to be smaller. */
const PMTU_MIN4 = 552;

/** The MTU toward dest `d` through a port of MTU `mtu`: lowered by a live learned PMTU. */
export function pmtuRoute(st: EngineState, d: number, mtu: number): number {
  const dests = st.dests;
  const learned = dests.pmtu[d];
  if (learned === 0) return mtu;
  if (((st.sched.nowMs - dests.pmtuAt[d]) >>> 0) >= PMTU_EXPIRE_MS) {
    dests.pmtu[d] = 0; // expired: forgotten
    return mtu;
  }
  return Math.min(learned, mtu);
}

/**
 * Learns `reported` as the path MTU toward dest `d` (port MTU `mtu`, outer header of family
 * `outer4`, client packets of family `inner4`): only ever lowers it (an equal report renews
 * it); counted as C_PMTU_LEARNED. Lower reports count as the floor: 552 / 1280 for the outer
 * family, and at least what carries a smallest client path (see assembly/pmtu.ts).
 */
export function pmtuLearn(
  st: EngineState,
  d: number,
  reported: number,
  mtu: number,
  outer4: boolean,
  inner4: boolean,
): void {
  const outer = outer4 ? IP4_HEADER_LEN : IP6_HEADER_LEN;
  const floor = Math.max(
    outer4 ? PMTU_MIN4 : IP6_MIN_MTU,
    outer + (inner4 ? IP4_MIN_MTU : IP6_MIN_MTU),
  );
  const m = Math.max(reported, floor);
  if (m > pmtuRoute(st, d, mtu)) return;
  st.dests.pmtu[d] = m;
  st.dests.pmtuAt[d] = st.sched.nowMs;
  st.counters[C_PMTU_LEARNED]++;
}

/** True when `payload` bytes behind an `hl`-byte header fit two fragments of `mtu`. */
function twoFragments(mtu: number, hl: number, payload: number): boolean {
  if (mtu < hl + 8) return false;
  const first = ((mtu - hl) >>> 3) << 3;
  return payload - first <= mtu - hl;
}

/**
 * The MTU check of step 12 (`outer` > 0: a tunnel with that outer header). Returns 0 (fits,
 * or p.fragMtu set) or R_MTU_EXCEEDED after any ICMP error that is due.
 */
export function mtuCheck(
  st: EngineState,
  p: Packet,
  outer: number,
  mtu: number,
  out: boolean,
): number {
  p.fragMtu = 0;
  const iplen = p.iplen;
  const v4 = p.af === AF_INET;
  const relay = p.kind === PK_ICMP;
  const df = v4 && (st.u8[p.ip + 6] & 0x40) !== 0;
  if (outer !== 0) {
    if (mtu < outer) return R_MTU_EXCEEDED;
    const tmtu = mtu - outer;
    if (!v4) {
      if (tmtu < IP6_MIN_MTU) return R_MTU_EXCEEDED;
      if (iplen <= tmtu) return 0;
      return relay ? R_MTU_EXCEEDED : icmpTooBig(st, p, out, tmtu);
    }
    if (tmtu < IP4_MIN_MTU) return R_MTU_EXCEEDED;
    const outer4 = outer === IP4_HEADER_LEN;
    const noCheck = outer4 && st.sysctl[SYS_PMTU_DISC] === 0;
    if (iplen <= tmtu) return 0;
    if (!noCheck && df && !relay) return icmpTooBig(st, p, out, tmtu);
    // A held fragment being sent (frag.ts) has no free engine slot: no fragmenting it.
    if (!outer4 || !twoFragments(mtu, IP4_HEADER_LEN, iplen) || p.slot >= st.batch) {
      return R_MTU_EXCEEDED;
    }
    p.fragMtu = mtu;
    return 0;
  }
  if (iplen <= mtu) return 0;
  if (!v4) return relay ? R_MTU_EXCEEDED : icmpTooBig(st, p, out, mtu);
  if (df && !relay) return icmpTooBig(st, p, out, mtu);
  const hl = (st.u8[p.ip] & 0x0f) * 4;
  if (hl !== IP4_HEADER_LEN || !twoFragments(mtu, hl, iplen - hl) || p.slot >= st.batch) {
    return R_MTU_EXCEEDED;
  }
  p.fragMtu = mtu;
  return 0;
}

function txDesc(
  st: EngineState,
  at: number,
  slot: number,
  off: number,
  len: number,
  port: number,
  rx: number,
): void {
  const dv = st.dv;
  const t = st.txDesc + at * TXD_SIZE;
  dv.setUint32(t + TXD_SLOT, slot, true);
  dv.setUint16(t + TXD_OFF, off, true);
  dv.setUint16(t + TXD_LEN, len, true);
  dv.setUint16(t + TXD_PORT, port, true);
  dv.setUint16(t + TXD_PORT + 2, 0, true);
  dv.setUint32(t + TXD_RX, rx, true);
}

/**
 * Writes the two fragments of the finished frame at `frame` (IPv4 header at `frame + l3`,
 * `outer` bytes of headroom used) to MTU p.fragMtu, with TX descriptors `tx` and the next.
 * DF is cleared in both; the second keeps the original MF and takes the next offset.
 */
export function ip4FragmentOut(
  st: EngineState,
  p: Packet,
  frame: number,
  outer: number,
  port: number,
  tx: number,
): number {
  const u8 = st.u8;
  const dv = st.dv;
  const l3 = p.l3;
  const ip = frame + l3;
  const hl = (u8[ip] & 0x0f) * 4;
  const total = load16be(u8, ip + 2);
  const first = ((p.fragMtu - hl) >>> 3) << 3;
  const rest = total - hl - first;
  const word = load16be(u8, ip + 6);
  const offset = word & IP4_OFFSET_MASK;
  const slot2 = st.batch + p.rx;
  const g = st.slots + slot2 * SLOT_SIZE + HEADROOM;
  u8.copyWithin(g, frame, ip + hl);
  u8.copyWithin(g + l3 + hl, ip + hl + first, ip + hl + first + rest);
  const ip2 = g + l3;
  store16be(u8, ip2 + 2, hl + rest);
  store16be(u8, ip2 + 6, (word & IP4_MF) | (offset + (first >>> 3)));
  dv.setUint16(ip2 + 10, 0, true);
  dv.setUint16(ip2 + 10, finish(sumHeader(dv, ip2, hl)), true);
  store16be(u8, ip + 2, hl + first);
  store16be(u8, ip + 6, IP4_MF | offset);
  dv.setUint16(ip + 10, 0, true);
  dv.setUint16(ip + 10, finish(sumHeader(dv, ip, hl)), true);
  txDesc(st, tx, p.slot, HEADROOM - outer, l3 + hl + first, port, p.rx);
  txDesc(st, tx + 1, slot2, HEADROOM, l3 + hl + rest, port, p.rx);
  st.edge.gen++;
  return R_NONE;
}
