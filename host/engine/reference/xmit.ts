// Transmit (ARCHITECTURE.md step 12): TTL, NAT rewrite with incremental checksums, next
// hop, MTU, IPIP/IPv6 tunnel encapsulation in the headroom, L2 rewrite, TX descriptor.
// Mirrors ip_vs_xmit.c (ip_vs_nat_xmit, ip_vs_dr_xmit, ip_vs_tunnel_xmit) and
// assembly/xmit.ts: the forwarding kind stored at creation picks the path in one place.
// No allocation. Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import * as tcpProto from "./proto/tcp.ts";
import * as udpProto from "./proto/udp.ts";
import type { EngineState, Packet } from "./state.ts";
import * as bytesWire from "./wire/bytes.ts";
import * as checksumWire from "./wire/checksum.ts";
import * as ethernetWire from "./wire/ethernet.ts";
import * as ipv4Wire from "./wire/ipv4.ts";
import * as ipv6Wire from "./wire/ipv6.ts";
import * as tcpWire from "./wire/tcp.ts";
import { natEdge, PK_L4 } from "./edge.ts";
import { icmpTimeExceeded } from "./icmp_send.ts";
import { ip4FragmentOut, mtuCheck, pmtuRoute } from "./pmtu.ts";

// Hot-path bindings as module-local consts: see state.ts, "Why local consts".
const {
  AF_INET,
  HEADROOM,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  IPPROTO_IPIP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  R_NO_NEIGH,
  R_NO_TUN_SRC,
  R_NONE,
  SYS_PMTU_DISC,
  TXD_LEN,
  TXD_OFF,
  TXD_PORT,
  TXD_RX,
  TXD_SIZE,
  TXD_SLOT,
} = abi;
const { tcpCsumUpdate } = tcpProto;
const { udpCsumUpdate } = udpProto;
const { store16be } = bytesWire;
const { delta16, delta32, finish, sumHeader, update } = checksumWire;
const { ETH_DST, ETH_SRC, ETH_TYPE, ETHERTYPE_IPV4, ETHERTYPE_IPV6, VLAN_HEADER_LEN } =
  ethernetWire;
const {
  IPV4_CHECKSUM,
  IPV4_DF_BYTE,
  IPV4_DST,
  IPV4_FRAG,
  IPV4_HEADER_LEN,
  IPV4_SRC,
  IPV4_TOS,
  IPV4_TTL,
} = ipv4Wire;
const { IPV6_DST, IPV6_HEADER_LEN, IPV6_HOP_LIMIT, IPV6_SRC, trafficClass } = ipv6Wire;
const { TCP_DST_PORT, TCP_SRC_PORT } = tcpWire;

/** ECN field value CE; a tunnel turns it into ECT(0) on the outer header (RFC 6040 "compat"). */
const ECN_CE = 3;

/** Fixes the L4 checksum after NAT changed words worth `delta` (RFC 1624 terms). */
function l4Fixup(st: EngineState, p: Packet, delta: number): void {
  if (p.proto === IPPROTO_TCP) tcpCsumUpdate(st.dv, p.th, delta);
  else udpCsumUpdate(st.dv, p.ip, p.th, p.af === AF_INET, delta);
}

/** Replaces the 4 address words at `at` with words `w` of `src`; returns the RFC 1624 terms. */
function rewrite128(dv: DataView, at: number, src: Uint32Array, w: number): number {
  let delta = 0;
  for (let i = 0; i < 4; i++) {
    const old = dv.getUint32(at + i * 4, true);
    const neu = src[w + i];
    delta += delta32(old, neu);
    dv.setUint32(at + i * 4, neu, true);
  }
  return delta;
}

/**
 * NAT: in → dst := daddr, dport; out → src := vaddr, sport := vport. Fixes the L4 checksum
 * and returns the address terms the IPv4 header checksum still needs (0 for IPv6).
 */
function natRewrite(st: EngineState, p: Packet, c: number, out: boolean): number {
  const dv = st.dv;
  const conns = st.conns;
  const portAt = p.th + (out ? TCP_SRC_PORT : TCP_DST_PORT); // same offsets in UDP
  const oldPort = out ? p.sport : p.dport;
  const newPort = out ? conns.vport[c] : conns.dport[c];
  dv.setUint16(portAt, newPort, true);
  let addrDelta;
  if (p.af === AF_INET) {
    const at = p.ip + (out ? IPV4_SRC : IPV4_DST);
    const neu = out ? conns.vaddr[c] : conns.daddr[c];
    addrDelta = delta32(dv.getUint32(at, true), neu);
    dv.setUint32(at, neu, true);
  } else {
    // The IPv6 block holds caddr, vaddr, daddr (4 words each).
    const w = conns.block[c] * 12 + (out ? 4 : 8);
    addrDelta = rewrite128(dv, p.ip + (out ? IPV6_SRC : IPV6_DST), conns.addr6, w);
  }
  l4Fixup(st, p, addrDelta + delta16(oldPort, newPort));
  return p.af === AF_INET ? addrDelta : 0;
}

/**
 * Prepends the outer IPv4 (20 bytes) or IPv6 (40 bytes) header in the headroom and moves
 * the L2 header (with any VLAN tag) left by as much. `ttl` is the inner TTL after decrement.
 */
function encapsulate(
  st: EngineState,
  p: Packet,
  d: number,
  port: number,
  outer4: boolean,
  ttl: number,
): void {
  const u8 = st.u8;
  const dv = st.dv;
  const ip = p.ip;
  const inner4 = p.af === AF_INET;
  const hdr = outer4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
  const nb = p.base - hdr;
  // The L2 header moves left by `hdr`. Its MACs are rewritten by the caller anyway, so
  // only a VLAN tag (TPID + TCI) is carried over; a 4-byte move beats copyWithin's call.
  if (p.l3 === VLAN_HEADER_LEN) {
    dv.setUint32(nb + ETH_TYPE, dv.getUint32(p.base + ETH_TYPE, true), true);
  }
  store16be(u8, nb + p.l3 - 2, outer4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  const o = ip - hdr;
  let tos = inner4 ? u8[ip + IPV4_TOS] : trafficClass(u8, ip);
  if ((tos & 3) === ECN_CE) tos ^= 1;
  const proto = inner4 ? IPPROTO_IPIP : IPPROTO_IPV6;
  const da = st.dests.addr;
  const dw = d * 4;
  if (outer4) {
    const df = inner4
      ? (u8[ip + IPV4_FRAG] & IPV4_DF_BYTE) !== 0 && st.sysctl[SYS_PMTU_DISC] !== 0
      : true;
    u8[o] = 0x45;
    u8[o + 1] = tos;
    store16be(u8, o + 2, p.iplen + IPV4_HEADER_LEN);
    store16be(u8, o + 4, st.ipId);
    st.ipId = (st.ipId + 1) & 0xffff;
    u8[o + 6] = df ? IPV4_DF_BYTE : 0;
    u8[o + 7] = 0;
    u8[o + 8] = ttl;
    u8[o + 9] = proto;
    dv.setUint16(o + IPV4_CHECKSUM, 0, true);
    dv.setUint32(o + IPV4_SRC, st.ports.addr4[port], true);
    dv.setUint32(o + IPV4_DST, da[dw], true);
    dv.setUint16(o + IPV4_CHECKSUM, finish(sumHeader(dv, o, IPV4_HEADER_LEN)), true);
  } else {
    u8[o] = 0x60 | (tos >>> 4);
    u8[o + 1] = (tos & 0x0f) << 4;
    u8[o + 2] = 0;
    u8[o + 3] = 0;
    store16be(u8, o + 4, p.iplen);
    u8[o + 6] = proto;
    u8[o + 7] = ttl;
    const a6 = st.ports.addr6;
    for (let i = 0; i < 4; i++) {
      dv.setUint32(o + IPV6_SRC + i * 4, a6[port * 4 + i], true);
      dv.setUint32(o + IPV6_DST + i * 4, da[dw + i], true);
    }
  }
}

/**
 * Transmits packet `p` on entry `c` (in, or out for a NAT reply) and writes TX descriptor
 * `tx`. Returns R_NONE, or the drop reason.
 */
export function transmit(
  st: EngineState,
  p: Packet,
  c: number,
  out: boolean,
  rx: number,
  tx: number,
): number {
  const u8 = st.u8;
  const dv = st.dv;
  const ip = p.ip;
  const v4 = p.af === AF_INET;
  const ttl = u8[ip + (v4 ? IPV4_TTL : IPV6_HOP_LIMIT)];
  if (ttl <= 1) return icmpTimeExceeded(st, p, out); // issue 7: time exceeded to the sender

  // Every check comes before the first write, so a dropped frame stays as received.
  const fwd = st.conns.flags[c] & IP_VS_CONN_F_FWD_MASK;
  // Next hop: the client for replies, else the real server (in its own family for TUN).
  const dests = st.dests;
  const d = st.conns.dest[c];
  const neigh = st.neigh;
  let n;
  if (out) {
    n = neigh.lookup(p.af, p.d0, p.d1, p.d2, p.d3);
  } else if (dests.neighGen[d] === neigh.gen) {
    n = dests.neigh[d];
  } else {
    const dw = d * 4;
    const da = dests.addr;
    n = neigh.lookup(dests.af[d], da[dw], da[dw + 1], da[dw + 2], da[dw + 3]);
    dests.neigh[d] = n;
    dests.neighGen[d] = neigh.gen;
  }
  if (n < 0) return R_NO_NEIGH;
  const port = neigh.port[n];
  const tun = fwd === IP_VS_CONN_F_TUNNEL;
  // TUN: the path MTU learned from errors about our tunnel packets, if lower (pmtu.ts).
  const mtu = tun ? pmtuRoute(st, d, st.ports.mtu[port]) : st.ports.mtu[port];
  const outer4 = dests.af[d] === AF_INET;
  let hdr = 0;
  if (tun) hdr = outer4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
  // Issue 7 (pmtu.ts): too big -> ICMP frag needed / packet too big, or fragment (no DF).
  p.fragMtu = 0;
  if (tun || p.iplen > mtu) {
    const mr = mtuCheck(st, p, hdr, mtu, out);
    if (mr !== 0) return mr;
  }
  if (tun && (outer4 ? st.ports.has4[port] : st.ports.has6[port]) === 0) return R_NO_TUN_SRC;

  let hdrDelta = fwd !== IP_VS_CONN_F_MASQ
    ? 0
    : p.kind === PK_L4
    ? natRewrite(st, p, c, out)
    : natEdge(st, p, c, out);
  if (v4) {
    // Little-endian load of the TTL/protocol word: TTL is the low byte (>= 2, no borrow).
    const w = dv.getUint16(ip + IPV4_TTL, true);
    dv.setUint16(ip + IPV4_TTL, w - 1, true);
    hdrDelta += delta16(w, w - 1);
    dv.setUint16(
      ip + IPV4_CHECKSUM,
      update(dv.getUint16(ip + IPV4_CHECKSUM, true), hdrDelta),
      true,
    );
  } else {
    u8[ip + IPV6_HOP_LIMIT] = ttl - 1;
  }
  if (tun) encapsulate(st, p, d, port, outer4, ttl - 1);

  const f = p.base - hdr;
  dv.setUint32(f + ETH_DST, neigh.macLo[n], true);
  dv.setUint16(f + ETH_DST + 4, neigh.macHi[n], true);
  dv.setUint32(f + ETH_SRC, st.ports.macLo[port], true);
  dv.setUint16(f + ETH_SRC + 4, st.ports.macHi[port], true);

  if (p.fragMtu !== 0) return ip4FragmentOut(st, p, f, hdr, port, tx); // issue 7
  const t = st.txDesc + tx * TXD_SIZE;
  dv.setUint32(t + TXD_SLOT, p.slot, true);
  dv.setUint16(t + TXD_OFF, HEADROOM - hdr, true);
  dv.setUint16(t + TXD_LEN, p.l3 + p.iplen + hdr, true);
  dv.setUint16(t + TXD_PORT, port, true);
  dv.setUint32(t + TXD_RX, rx, true);
  return R_NONE;
}
