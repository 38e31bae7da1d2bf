// The per-frame pipeline of ARCHITECTURE.md, steps 1-12, and the expiry sweep: parse,
// connection lookup (in, then out), conn reuse, service lookup and scheduling, TCP/UDP
// state and timeouts, transmit. Mirrors ip_vs_core.c (ip_vs_in / ip_vs_out) and
// assembly/core.ts. Every frame ends as exactly one of TX, DROP reason or PASS reason.
// Nothing here allocates or throws. Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import { HINT_CHUNK } from "./conn.ts";
import * as tcpProto from "./proto/tcp.ts";
import * as registry from "./sched/registry.ts";
import type { EngineState, Packet } from "./state.ts";
import * as stats from "./stats.ts";
import * as bytesWire from "./wire/bytes.ts";
import * as checksumWire from "./wire/checksum.ts";
import * as ethernetWire from "./wire/ethernet.ts";
import * as ipv4Wire from "./wire/ipv4.ts";
import * as ipv6Wire from "./wire/ipv6.ts";
import * as tcpWire from "./wire/tcp.ts";
import * as udpWire from "./wire/udp.ts";
import * as xmit from "./xmit.ts";
import { persistAssure, persistAttach, persistSchedule, tplTouch } from "./persist.ts";
import { syncPacket } from "./sync.ts";
import { packetService } from "./service.ts";
import { EDGE_CONTINUE, edgeBatch, edgeFrame, edgeParsed, OTHER_L4 } from "./edge.ts";
import { sctpMayCreate, sctpStateTransition } from "./proto/sctp.ts";
import { frag4Note, frag6Note, fragFirst, fragNoted } from "./frag.ts";
import { appNoCport } from "./app.ts";
import { appPacket } from "./app_ftp.ts";
import { icmpPortUnreach } from "./icmp_send.ts";
import { defenseAdmit } from "./defense.ts";

// Hot-path bindings as module-local consts: see state.ts, "Why local consts".
const {
  AF_INET,
  AF_INET6,
  C_CONN_NEW,
  C_CONN_REUSED,
  C_CONNS,
  C_DROP,
  C_IN_BYTES,
  C_IN_PKTS,
  C_OUT_BYTES,
  C_OUT_PKTS,
  C_PASS,
  C_REASON_BASE,
  C_RX,
  C_TX,
  HEADROOM,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NOOUTPUT,
  IP_VS_CONN_F_ONE_PACKET,
  IP_VS_DEST_F_AVAILABLE,
  IP_VS_SVC_F_ONEPACKET,
  IP_VS_SVC_F_PERSISTENT,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  MAX_FRAME,
  NO_DEST,
  R_BAD_DESC,
  R_BAD_IHL,
  R_BAD_IP_CSUM,
  R_BAD_IP_VERSION,
  R_BAD_TCP_DOFF,
  R_BAD_TOTLEN,
  R_BAD_UDP_LEN,
  R_CONN_FULL,
  R_DEST_UNAVAILABLE,
  R_FTP_DATA,
  R_IP6_EXT_CHAIN,
  R_NO_DEST,
  R_NONE,
  R_NOT_IP,
  REASON_PASS_MASK,
  R_NOT_VIP,
  R_SCTP_NO_INIT,
  R_TCP_NO_SYN,
  R_TRUNC_L2,
  R_TRUNC_L3,
  R_TRUNC_L4,
  RXD_LEN,
  RXD_MARK,
  RXD_REASON,
  RXD_SIZE,
  RXD_SLOT,
  RXD_VERDICT,
  S_CONNS,
  SLOT_SIZE,
  STATS_WORDS,
  SYS_CONN_REUSE_MODE,
  SYS_EXPIRE_NODEST_CONN,
  SYS_SLOPPY_TCP,
  T_NEW,
  T_UDP,
  TCP_S_CLOSE,
  TCP_S_FIN_WAIT,
  TCP_S_TIME_WAIT,
  V_DROP,
  V_PASS,
  V_TX,
} = abi;
const { DIR_IN, DIR_IN_ONLY, DIR_OUT, TCP_ACTIVE, tcpNextState } = tcpProto;
const { SCHEDULERS } = registry;
const { countPacket } = stats;
const { load16be } = bytesWire;
const { fold, sumHeader } = checksumWire;
const {
  ETH_HEADER_LEN,
  ETH_TYPE,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_VLAN,
  VLAN_HEADER_LEN,
  VLAN_INNER_TYPE,
} = ethernetWire;
const {
  IPV4_DST,
  IPV4_FRAG,
  IPV4_FRAG_OFF_MASK,
  IPV4_HEADER_LEN,
  IPV4_MF,
  IPV4_PROTOCOL,
  IPV4_SRC,
  IPV4_TOTAL_LEN,
} = ipv4Wire;
const {
  IPV6_DST,
  IPV6_EXT_DEST_OPTS,
  IPV6_EXT_FRAGMENT,
  IPV6_EXT_HOP_BY_HOP,
  IPV6_EXT_ROUTING,
  IPV6_HEADER_LEN,
  IPV6_MAX_EXT_HEADERS,
  IPV6_NEXT_HEADER,
  IPV6_PAYLOAD_LEN,
  IPV6_SRC,
} = ipv6Wire;
const {
  TCP_ACK_FLAG,
  TCP_DATA_OFF,
  TCP_DST_PORT,
  TCP_FLAGS,
  TCP_HEADER_LEN,
  TCP_RST,
  TCP_SRC_PORT,
  TCP_SYN,
} = tcpWire;
const { UDP_HEADER_LEN, UDP_LENGTH } = udpWire;
const { transmit } = xmit;

/** Source port 20 (FTP data) as loaded from the wire (little-endian u16 of wire bytes). */
const FTP_DATA_WIRE = 20 << 8;

/** IPv4 (step 3). Returns the L4 length, or -reason. */
function parseIpv4(u8: Uint8Array, dv: DataView, p: Packet, l3len: number): number {
  const ip = p.ip;
  if (l3len < IPV4_HEADER_LEN) return -R_TRUNC_L3;
  const vihl = u8[ip];
  if (vihl >>> 4 !== 4) return -R_BAD_IP_VERSION;
  const hl = (vihl & 0x0f) * 4;
  if (hl < IPV4_HEADER_LEN || hl > l3len) return -R_BAD_IHL;
  const tot = load16be(u8, ip + IPV4_TOTAL_LEN);
  if (tot < hl || tot > l3len) return -R_BAD_TOTLEN;
  if (fold(sumHeader(dv, ip, hl)) !== 0xffff) return -R_BAD_IP_CSUM;
  // Issue 7: fragments are tracked (frag.ts).
  if ((load16be(u8, ip + IPV4_FRAG) & (IPV4_MF | IPV4_FRAG_OFF_MASK)) !== 0) {
    frag4Note(u8, dv, p, ip);
  }
  p.af = AF_INET;
  p.proto = u8[ip + IPV4_PROTOCOL];
  p.iplen = tot;
  p.th = ip + hl;
  p.s0 = dv.getUint32(ip + IPV4_SRC, true);
  p.d0 = dv.getUint32(ip + IPV4_DST, true);
  // Keys use word 0 for IPv4; zeroing the rest lets both families share the lookups.
  p.s1 = 0;
  p.s2 = 0;
  p.s3 = 0;
  p.d1 = 0;
  p.d2 = 0;
  p.d3 = 0;
  return tot - hl;
}

/** IPv6 (step 4), walking hop-by-hop, routing and destination-options headers. */
function parseIpv6(u8: Uint8Array, dv: DataView, p: Packet, l3len: number): number {
  const ip = p.ip;
  if (l3len < IPV6_HEADER_LEN) return -R_TRUNC_L3;
  if (u8[ip] >>> 4 !== 6) return -R_BAD_IP_VERSION;
  const plen = load16be(u8, ip + IPV6_PAYLOAD_LEN);
  const end = IPV6_HEADER_LEN + plen;
  if (plen === 0 || end > l3len) return -R_BAD_TOTLEN;
  let nh = u8[ip + IPV6_NEXT_HEADER];
  let off = IPV6_HEADER_LEN;
  for (let n = 0;; n++) {
    if (nh === IPV6_EXT_FRAGMENT) {
      // Issue 7 (frag.ts): a fragment header counts as an extension header; the walk goes
      // on after it for a first fragment and stops for a later one.
      if (n === IPV6_MAX_EXT_HEADERS || off + 8 > end) return -R_IP6_EXT_CHAIN;
      const later = frag6Note(u8, dv, p, ip + off);
      nh = u8[ip + off];
      off += 8;
      if (later) break;
      continue;
    }
    if (nh !== IPV6_EXT_HOP_BY_HOP && nh !== IPV6_EXT_ROUTING && nh !== IPV6_EXT_DEST_OPTS) break;
    if (n === IPV6_MAX_EXT_HEADERS) return -R_IP6_EXT_CHAIN;
    // Every such header is at least 8 bytes; checking that first keeps the length read inside.
    if (off + 8 > end) return -R_IP6_EXT_CHAIN;
    const len = (u8[ip + off + 1] + 1) * 8;
    if (off + len > end) return -R_IP6_EXT_CHAIN;
    nh = u8[ip + off];
    off += len;
  }
  p.af = AF_INET6;
  p.proto = nh;
  p.iplen = end;
  p.th = ip + off;
  p.s0 = dv.getUint32(ip + IPV6_SRC, true);
  p.s1 = dv.getUint32(ip + IPV6_SRC + 4, true);
  p.s2 = dv.getUint32(ip + IPV6_SRC + 8, true);
  p.s3 = dv.getUint32(ip + IPV6_SRC + 12, true);
  p.d0 = dv.getUint32(ip + IPV6_DST, true);
  p.d1 = dv.getUint32(ip + IPV6_DST + 4, true);
  p.d2 = dv.getUint32(ip + IPV6_DST + 8, true);
  p.d3 = dv.getUint32(ip + IPV6_DST + 12, true);
  return end - off;
}

/** Steps 2-5: fills `st.pkt` for the frame at p.base; returns R_NONE or the reason. */
function parse(st: EngineState, p: Packet, len: number): number {
  const u8 = st.u8;
  const dv = st.dv;
  if (len < ETH_HEADER_LEN) return R_TRUNC_L2;
  let type = load16be(u8, p.base + ETH_TYPE);
  let l3 = ETH_HEADER_LEN;
  if (type === ETHERTYPE_VLAN) {
    if (len < VLAN_HEADER_LEN) return R_TRUNC_L2;
    type = load16be(u8, p.base + VLAN_INNER_TYPE);
    l3 = VLAN_HEADER_LEN;
  }
  p.l3 = l3;
  p.ip = p.base + l3;
  let l4len;
  if (type === ETHERTYPE_IPV4) l4len = parseIpv4(u8, dv, p, len - l3);
  else if (type === ETHERTYPE_IPV6) l4len = parseIpv6(u8, dv, p, len - l3);
  else return R_NOT_IP;
  if (l4len < 0) return -l4len;
  if (p.frag !== 0 && fragNoted(st, p)) return OTHER_L4; // issue 7: a later fragment

  const th = p.th;
  if (p.proto === IPPROTO_TCP) {
    if (l4len < TCP_HEADER_LEN) return R_TRUNC_L4;
    const doff = (u8[th + TCP_DATA_OFF] >>> 4) * 4;
    if (doff < TCP_HEADER_LEN || doff > l4len) return R_BAD_TCP_DOFF;
    p.tcpFlags = u8[th + TCP_FLAGS];
  } else if (p.proto === IPPROTO_UDP) {
    if (l4len < UDP_HEADER_LEN) return R_TRUNC_L4;
    const ulen = load16be(u8, th + UDP_LENGTH);
    // A first fragment holds only the start of the datagram (issue 7).
    if (ulen < UDP_HEADER_LEN || (ulen > l4len && p.frag === 0)) return R_BAD_UDP_LEN;
    p.tcpFlags = 0;
  } else {
    return OTHER_L4; // issue 7: ICMP errors and the other protocols (edge.ts)
  }
  p.sport = dv.getUint16(th + TCP_SRC_PORT, true);
  p.dport = dv.getUint16(th + TCP_DST_PORT, true);
  return R_NONE;
}

/** Step 7: a SYN may reuse an entry whose connection is over (conn_reuse_mode, §3.6). */
function reusable(st: EngineState, p: Packet, c: number): boolean {
  const mode = st.sysctl[SYS_CONN_REUSE_MODE];
  if (mode === 0 || p.proto !== IPPROTO_TCP) return false;
  if ((p.tcpFlags & (TCP_SYN | TCP_ACK_FLAG)) !== TCP_SYN) return false;
  const conns = st.conns;
  if (conns.nControl[c] !== 0) return false;
  const s = conns.state[c];
  return s === TCP_S_TIME_WAIT || s === TCP_S_CLOSE ||
    ((mode & 2) !== 0 && s === TCP_S_FIN_WAIT && (conns.flags[c] & IP_VS_CONN_F_NOOUTPUT) !== 0);
}

/** Steps 9-10: service lookup, schedule, create. Returns the entry, or -reason. */
function newConn(st: EngineState, p: Packet, mark: number, nowMs: number): number {
  const svcs = st.svcs;
  const s = packetService(st, p, mark);
  if (s < 0) return -R_NOT_VIP;
  if (p.proto === IPPROTO_TCP) {
    const f = p.tcpFlags;
    if ((f & TCP_RST) !== 0 || ((f & TCP_SYN) === 0 && st.sysctl[SYS_SLOPPY_TCP] === 0)) {
      return -R_TCP_NO_SYN;
    }
  } else if (p.proto === IPPROTO_SCTP && !sctpMayCreate(st, p)) {
    return -R_SCTP_NO_INIT; // issue 7: SCTP is scheduled on INIT (proto/sctp.ts)
  }
  // Issue 7: drop_packet and the connection limit (defense.ts), before scheduling.
  const a = defenseAdmit(st, p.af);
  if (a !== 0) return -a;
  // ip_vs_schedule: FTP data (source port 20) is never scheduled.
  if (p.sport === FTP_DATA_WIRE) return -R_FTP_DATA;
  const dests = st.dests;
  const sflags = svcs.flags[s];
  const svcPort = svcs.portW[s];
  const persistent = (sflags & IP_VS_SVC_F_PERSISTENT) !== 0;
  const tc = st.templates;
  let d;
  if (persistent) {
    d = persistSchedule(st, p, s, nowMs);
    if (d === NO_DEST) return -(tc.err === R_NO_DEST ? icmpPortUnreach(st, p) : tc.err);
  } else {
    tc.tpl = -1;
    // A non-persistent, non-fwmark service takes only its own port (FTP and port-zero
    // fallbacks end here).
    if (svcs.fwmark[s] === 0 && p.dport !== svcPort) return -R_NO_DEST;
    d = SCHEDULERS[svcs.sched[s]].schedule(svcs, dests, s, st.sched);
    if (d === NO_DEST) return -icmpPortUnreach(st, p); // ip_vs_leave: port unreachable
  }
  const conns = st.conns;
  if (!conns.hasRoom(p.af)) {
    if (tc.tpl >= 0) tplTouch(st, tc.tpl, nowMs);
    return -R_CONN_FULL;
  }
  // The dest's port for packets to the service port (any port when the dest has none);
  // persistent port-zero, fwmark and FTP-data connections keep the client's port.
  const dportW = dests.port[d] !== 0 && (!persistent || p.dport === svcPort)
    ? dests.portW[d]
    : p.dport;
  const fwd = dests.fwd[d];
  const flags = fwd | IP_VS_CONN_F_INACTIVE |
    (fwd === IP_VS_CONN_F_MASQ ? 0 : IP_VS_CONN_F_NOOUTPUT) |
    ((sflags & IP_VS_SVC_F_ONEPACKET) !== 0 && p.proto === IPPROTO_UDP
      ? IP_VS_CONN_F_ONE_PACKET
      : 0);
  const c = conns.create(p, d, dportW, flags, s);
  conns.timeout[c] = st.timeoutMs[T_NEW];
  dests.bind(d);
  st.counters[C_CONN_NEW]++;
  svcs.stats[s * STATS_WORDS + S_CONNS]++;
  dests.stats[d * STATS_WORDS + S_CONNS]++;
  if (tc.tpl >= 0) persistAttach(st, c, nowMs);
  return c;
}

/**
 * Step 7: with expire_nodest_conn, a new-connection segment (SYN without ACK) that hits an
 * entry whose dest has weight 0 is rescheduled (ip_vs_in, spec §3.6).
 */
function nodestReschedule(st: EngineState, p: Packet, c: number): boolean {
  if (st.sysctl[SYS_EXPIRE_NODEST_CONN] === 0 || p.proto !== IPPROTO_TCP) return false;
  if ((p.tcpFlags & (TCP_SYN | TCP_ACK_FLAG)) !== TCP_SYN) return false;
  return st.dests.weight[st.conns.dest[c]] === 0 && st.conns.nControl[c] === 0;
}

/** Step 11: stats, state and timeout on entry `c`, then transmit (step 12). */
function onPacket(
  st: EngineState,
  p: Packet,
  c: number,
  out: boolean,
  rx: number,
  tx: number,
  nowMs: number,
): number {
  const conns = st.conns;
  const dests = st.dests;
  const d = conns.dest[c];
  if ((dests.flags[d] & IP_VS_DEST_F_AVAILABLE) !== 0) {
    const ctr = st.counters;
    countPacket(dests.stats, d, out, p.iplen);
    countPacket(st.svcs.stats, conns.svc[c], out, p.iplen);
    ctr[out ? C_OUT_PKTS : C_IN_PKTS]++;
    ctr[out ? C_OUT_BYTES : C_IN_BYTES] += p.iplen;
  }
  let timeout;
  if (p.proto === IPPROTO_TCP) {
    const flags = conns.flags[c];
    const dir = out ? DIR_OUT : (flags & IP_VS_CONN_F_NOOUTPUT) !== 0 ? DIR_IN_ONLY : DIR_IN;
    const old = conns.state[c];
    const ns = tcpNextState(dir + st.edge.tcpDir, p.tcpFlags, old); // + DIR_DOS: secure_tcp
    if (TCP_ACTIVE[old] !== TCP_ACTIVE[ns]) {
      const active = TCP_ACTIVE[ns] !== 0;
      dests.setActive(d, active);
      conns.flags[c] = active ? flags & ~IP_VS_CONN_F_INACTIVE : flags | IP_VS_CONN_F_INACTIVE;
    }
    conns.state[c] = ns;
    timeout = st.timeoutMs[ns];
  } else if (p.proto === IPPROTO_SCTP) {
    timeout = sctpStateTransition(st, p, c, out); // issue 7
  } else {
    timeout = st.timeoutMs[T_UDP];
  }
  persistAssure(st, c, out);
  conns.timeout[c] = timeout;
  if (!out && conns.inPkts[c] !== 0xffffffff) conns.inPkts[c]++;
  conns.expires[c] = (nowMs + timeout) >>> 0;
  // Connection sync, master side (ip_vs_in calls ip_vs_sync_conn for in packets).
  if (!out && st.sync.master) syncPacket(st, c, nowMs);
  // Issue 7: the FTP helper (app_ftp.ts): sequence adjustment, commands and replies.
  const a = appPacket(st, p, c, out);
  if (a !== 0) return a;
  return transmit(st, p, c, out, rx, tx);
}

/** One frame, steps 1-12. Returns R_NONE (transmitted as TX descriptor `tx`) or the reason. */
function handleFrame(st: EngineState, rx: number, tx: number, nowMs: number): number {
  edgeFrame(st.pkt); // issue 7: no fragment, plain NAT, until the parser says otherwise
  const dv = st.dv;
  const desc = st.rxDesc + rx * RXD_SIZE;
  const slot = dv.getUint32(desc + RXD_SLOT, true);
  const len = dv.getUint16(desc + RXD_LEN, true);
  if (slot >= st.batch || len > MAX_FRAME) return R_BAD_DESC;
  const p = st.pkt;
  p.slot = slot;
  p.rx = rx;
  p.tx = tx;
  p.base = st.slots + slot * SLOT_SIZE + HEADROOM;
  const r0 = parse(st, p, len);
  if (r0 !== R_NONE) {
    // Issue 7: ICMP, later fragments, AH/ESP, SCTP (edge.ts); SCTP goes on with the rest.
    const r = edgeParsed(st, p, r0);
    if (r !== EDGE_CONTINUE) return r;
  }

  const conns = st.conns;
  let c = conns.inGet(p);
  // Issue 7: an expired entry that controls others (FTP) stays until the sweep.
  if (c >= 0 && conns.isExpired(c, nowMs) && conns.nControl[c] === 0) {
    conns.free(c);
    c = -1;
  }
  if (c < 0 && conns.noCport !== 0) c = appNoCport(st, p); // issue 7: FTP passive data
  if (c >= 0) {
    if (nodestReschedule(st, p, c)) {
      conns.free(c);
      c = -1;
    } else if (reusable(st, p, c)) {
      conns.free(c);
      st.counters[C_CONN_REUSED]++;
      c = -1;
    } else if ((st.dests.flags[conns.dest[c]] & IP_VS_DEST_F_AVAILABLE) === 0) {
      if (st.sysctl[SYS_EXPIRE_NODEST_CONN] === 0) return R_DEST_UNAVAILABLE;
      conns.free(c);
      c = -1;
    }
  } else {
    c = conns.outGet(p);
    if (c >= 0 && conns.isExpired(c, nowMs) && conns.nControl[c] === 0) {
      conns.free(c);
      c = -1;
    }
    if (c >= 0) return onPacket(st, p, c, true, rx, tx, nowMs);
  }
  if (c < 0) {
    c = newConn(st, p, dv.getUint32(desc + RXD_MARK, true), nowMs);
    if (c < 0) return -c;
    const r = onPacket(st, p, c, false, rx, tx, nowMs);
    // One-packet scheduling: the entry goes as soon as its packet has been handled.
    if ((conns.flags[c] & IP_VS_CONN_F_ONE_PACKET) !== 0) conns.free(c);
    return r;
  }
  return onPacket(st, p, c, false, rx, tx, nowMs);
}

/**
 * Lookup hints for RX descriptors [from, to) (at most HINT_CHUNK), the TS side of the WASM
 * engine's batch prefetch (ARCHITECTURE.md, "Batch prefetch"): a quick, unchecked look at
 * each frame's headers gives its lookup keys, and ConnTable.hintWalk loads the chains' nodes
 * for all of them at once, so that their cache misses overlap. Nothing it reads decides
 * anything; every offset stays inside the frame's slot.
 */
function prefetch(st: EngineState, from: number, to: number): void {
  const u8 = st.u8, dv = st.dv, conns = st.conns;
  for (let i = from; i < to; i++) {
    const k = i - from;
    const desc = st.rxDesc + i * RXD_SIZE;
    const slot = dv.getUint32(desc + RXD_SLOT, true);
    if (slot >= st.batch) {
      conns.hintNone(k);
      continue;
    }
    const f = st.slots + slot * SLOT_SIZE + HEADROOM;
    let type = load16be(u8, f + ETH_TYPE);
    let ip = f + ETH_HEADER_LEN;
    if (type === ETHERTYPE_VLAN) {
      type = load16be(u8, f + VLAN_INNER_TYPE);
      ip = f + VLAN_HEADER_LEN;
    }
    if (type === ETHERTYPE_IPV4) {
      const th = ip + (u8[ip] & 0x0f) * 4;
      // A SYN usually opens a connection: both lookups miss, and in this engine the hint
      // only added its own cost (bench "new connections, NAT SYN": 483 ns a frame with,
      // 387 without; WASM, whose bucket heads miss too, gains: 323 -> 234).
      if (u8[ip + IPV4_PROTOCOL] === IPPROTO_TCP && (u8[th + TCP_FLAGS] & TCP_SYN) !== 0) {
        conns.hintNone(k);
        continue;
      }
      conns.hint(
        k,
        true,
        u8[ip + IPV4_PROTOCOL],
        dv.getUint32(ip + IPV4_SRC, true),
        0,
        0,
        0,
        dv.getUint16(th + TCP_SRC_PORT, true),
        dv.getUint32(ip + IPV4_DST, true),
        0,
        0,
        0,
        dv.getUint16(th + TCP_DST_PORT, true),
      );
    } else if (type === ETHERTYPE_IPV6) {
      const th = ip + IPV6_HEADER_LEN; // extension headers are rare: no walk
      const s = ip + IPV6_SRC, d = ip + IPV6_DST;
      conns.hint(
        k,
        false,
        u8[ip + IPV6_NEXT_HEADER],
        dv.getUint32(s, true),
        dv.getUint32(s + 4, true),
        dv.getUint32(s + 8, true),
        dv.getUint32(s + 12, true),
        dv.getUint16(th + TCP_SRC_PORT, true),
        dv.getUint32(d, true),
        dv.getUint32(d + 4, true),
        dv.getUint32(d + 8, true),
        dv.getUint32(d + 12, true),
        dv.getUint16(th + TCP_DST_PORT, true),
      );
    } else {
      conns.hintNone(k);
    }
  }
  conns.hintWalk(to - from);
}

/** Live entries from which the lookup hints run (the WASM engine's threshold). */
const PREFETCH_MIN_CONNS = 8192;

/** Processes RX descriptors [0, n); returns the number of TX descriptors written. */
export function processBatch(st: EngineState, n: number, now: number): number {
  const nowMs = Math.floor(now / 1000) >>> 0;
  st.sched.nowMs = nowMs;
  edgeBatch(st); // issue 7: the defense strategies once a second, held fragments (edge.ts)
  const count = n > st.batch ? st.batch : n > 0 ? Math.floor(n) : 0;
  const u8 = st.u8;
  const ctr = st.counters;
  let nTx = 0;
  const hints = ctr[C_CONNS] >= PREFETCH_MIN_CONNS;
  for (let i = 0; i < count; i++) {
    if (hints && i % HINT_CHUNK === 0) prefetch(st, i, Math.min(i + HINT_CHUNK, count));
    ctr[C_RX]++;
    let reason = handleFrame(st, i, nTx, nowMs);
    // Issue 7: a first fragment's outcome, for its other fragments (frag.ts).
    if (st.pkt.frag !== 0) reason = fragFirst(st, st.pkt, reason);
    const desc = st.rxDesc + i * RXD_SIZE;
    if (reason === R_NONE) {
      ctr[C_TX]++;
      u8[desc + RXD_VERDICT] = V_TX;
      nTx++;
    } else {
      // REASON_PASS_MASK (abi.ts) names the pass reasons; every pass reason is below 32.
      const pass = reason < 32 && ((REASON_PASS_MASK >>> reason) & 1) !== 0;
      ctr[pass ? C_PASS : C_DROP]++;
      ctr[C_REASON_BASE + reason]++;
      u8[desc + RXD_VERDICT] = pass ? V_PASS : V_DROP;
    }
    // Issue 7: TX descriptors the frame wrote besides its own (ICMP errors, fragments).
    nTx += st.edge.gen;
    st.edge.gen = 0;
    u8[desc + RXD_REASON] = reason;
  }
  return nTx;
}

/**
 * Frees idle connections among `budget` slots from the expiry cursor (0: the whole table;
 * ARCHITECTURE.md, Expiry); returns how many. `budget` is an integer in [0, 2^32).
 */
export function expire(st: EngineState, now: number, budget: number): number {
  const nowMs = Math.floor(now / 1000) >>> 0;
  st.sched.nowMs = nowMs;
  const n = st.conns.expire(nowMs, budget);
  // The schedulers' timers (lblc/lblcr cache GC), in service order.
  const svcs = st.svcs;
  for (let s = 0; s < svcs.max; s++) {
    if (svcs.isLive(s)) SCHEDULERS[svcs.sched[s]].tick?.(svcs, st.dests, s, st.sched);
  }
  return n;
}
