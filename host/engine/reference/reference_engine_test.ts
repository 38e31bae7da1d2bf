// Unit tests of the reference engine: rewriting and checksums (verified from scratch),
// encapsulation, TCP state and counts, expiry, conn reuse, schedulers, drop reasons and
// control errors. Frames come from tests/fixtures/packet_builder.ts.
import { SchedContext } from "./sched/context.ts";
import { Packet } from "./state.ts";
import { schedConfig } from "../sched_config.ts";
import assert from "node:assert/strict";
import {
  AF_INET,
  AF_INET6,
  C_CONN_EXPIRED,
  C_CONN_NEW,
  C_CONN_REUSED,
  C_CONNS,
  C_CONNS6,
  C_DROP,
  C_IN_BYTES,
  C_IN_PKTS,
  C_OUT_PKTS,
  C_PASS,
  C_REASON_BASE,
  C_RX,
  C_TX,
  EEXIST,
  EINVAL,
  ENOENT,
  ENOMEM,
  ERANGE,
  ESRCH,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NOOUTPUT,
  IP_VS_CONN_F_TUNNEL,
  IP_VS_DEST_F_AVAILABLE,
  IP_VS_DEST_F_OVERLOAD,
  R_BAD_DESC,
  R_BAD_IHL,
  R_BAD_IP_CSUM,
  R_BAD_IP_VERSION,
  R_BAD_TCP_DOFF,
  R_BAD_TOTLEN,
  R_BAD_UDP_LEN,
  R_CONN_FULL,
  R_DEST_UNAVAILABLE,
  R_FRAG_HELD,
  R_IP6_EXT_CHAIN,
  R_MTU_EXCEEDED,
  R_NO_DEST,
  R_NO_NEIGH,
  R_NO_TUN_SRC,
  R_NONE,
  R_NOT_IP,
  R_NOT_L4,
  R_NOT_VIP,
  R_TCP_NO_SYN,
  R_TRUNC_L2,
  R_TRUNC_L3,
  R_TRUNC_L4,
  R_TTL_EXCEEDED,
  REASON_NAMES,
  SCHED_RR,
  SCHED_WLC,
  SCHED_WRR,
  SYS_EXPIRE_NODEST_CONN,
  T_UDP,
  TCP_S_CLOSE_WAIT,
  TCP_S_ESTABLISHED,
  TCP_S_FIN_WAIT,
  TCP_S_SYN_RECV,
  TCP_S_TIME_WAIT,
  V_DROP,
  V_PASS,
  V_TX,
} from "../abi.gen.ts";
import type { DestSpec, Engine, EngineConfig, ServiceSpec } from "../engine.ts";
import { FrameIo } from "../frames.ts";
import { arpReply, Frame, ipBytes, macBytes } from "../../../tests/fixtures/packet_builder.ts";
import { DestTable } from "./dest.ts";
import { createReferenceEngine } from "./reference_engine.ts";
import { mulGreater } from "./sched/scheduler.ts";
import { wlc } from "./sched/wlc.ts";
import { ServiceTable } from "./service.ts";
import { checksumNaive, delta16, delta32, update } from "./wire/checksum.ts";
import { formatIpv6 } from "./wire/ipv6.ts";

// ---- Topology -----------------------------------------------------------------------

const DIR_MAC = "02:00:00:00:00:fe";
const GW_MAC = "02:00:00:00:00:01";
const RS_MAC = ["02:00:00:00:01:01", "02:00:00:00:01:02", "02:00:00:00:01:03"];
const RS4 = ["198.18.1.1", "198.18.1.2", "198.18.1.3"];
const RS6 = ["2001:2:0:1::1", "2001:2:0:1::2", "2001:2:0:1::3"];
const CLIENT4 = "198.18.0.10";
const CLIENT6 = "2001:2::10";
const VIP4 = "198.18.100.1";
const VIP6 = "2001:2:0:100::1";
const T0 = 1_700_000_000_000_000; // microseconds
const SEC = 1_000_000;

const CONFIG: EngineConfig = {
  maxConns: 64,
  maxConns6: 8,
  maxServices: 8,
  maxDests: 16,
  batch: 16,
  seed: 42,
};

function svc(af: 2 | 10, protocol: number, addr: string, port: number, sched: number): ServiceSpec {
  return {
    af,
    protocol,
    addr: ipBytes(addr),
    port,
    fwmark: 0,
    sched,
    flags: 0,
    timeout: 0,
    netmask: af === AF_INET ? 0xffffffff : 128,
  };
}

function dest(af: 2 | 10, addr: string, port: number, fwd: number, weight = 1): DestSpec {
  return {
    af,
    addr: ipBytes(addr),
    port,
    fwd,
    weight,
    uThreshold: 0,
    lThreshold: 0,
    tunType: 0,
    tunPort: 0,
    tunFlags: 0,
  };
}

/** An engine with one port, a default route per family and the real servers as neighbours. */
function lab(config: EngineConfig = CONFIG, withTunAddrs = true): { e: Engine; io: FrameIo } {
  const e = createReferenceEngine(config);
  assert.equal(
    e.setPort(0, {
      mac: macBytes(DIR_MAC),
      mtu: 1500,
      addr4: withTunAddrs ? ipBytes("198.18.0.254") : undefined,
      addr6: withTunAddrs ? ipBytes("2001:2::fe") : undefined,
    }),
    0,
  );
  assert.equal(e.setNeigh(AF_INET, null, macBytes(GW_MAC), 0), 0);
  assert.equal(e.setNeigh(AF_INET6, null, macBytes(GW_MAC), 0), 0);
  RS4.forEach((a, i) => assert.equal(e.setNeigh(AF_INET, ipBytes(a), macBytes(RS_MAC[i]), 0), 0));
  RS6.forEach((a, i) => assert.equal(e.setNeigh(AF_INET6, ipBytes(a), macBytes(RS_MAC[i]), 0), 0));
  return { e, io: new FrameIo(e) };
}

/** Adds a service and its dests (given in list order: the first ends up at the head). */
function addSvc(e: Engine, spec: ServiceSpec, dests: DestSpec[]): { s: number; d: number[] } {
  const s = e.addService(spec);
  assert.ok(s >= 0, `addService returned ${s}`);
  const d: number[] = [];
  for (let i = dests.length - 1; i >= 0; i--) {
    const r = e.addDest(s, dests[i]);
    assert.ok(r >= 0, `addDest returned ${r}`);
    d.unshift(r);
  }
  assert.deepEqual(e.destList(s), d);
  return { s, d };
}

function tcp4(flags: string, sport = 40000, opts: { ttl?: number; df?: boolean } = {}): Uint8Array {
  return Frame.eth().ipv4({ src: CLIENT4, dst: VIP4, ...opts }).tcp({ sport, dport: 80, flags })
    .payload("hello").build();
}

/** One frame through the engine; returns verdict, reason and the TX frame (if any). */
function one(io: FrameIo, frame: Uint8Array, now = T0, mark = 0) {
  const r = io.run([frame], now, 0, mark);
  return { verdict: r.verdicts[0], reason: r.reasons[0], tx: r.tx[0]?.bytes, port: r.tx[0]?.port };
}

// ---- A tiny from-scratch checksum verifier ---------------------------------------------

/** RFC 1071 one's-complement sum of big-endian words, folded (0xFFFF = verifies). */
function onesSum(...parts: Uint8Array[]): number {
  let s = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 2) s += (p[i] << 8) | (i + 1 < p.length ? p[i + 1] : 0);
  }
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Asserts the IPv4 header at `ip` and its TCP/UDP checksum verify from scratch. */
function assertChecksums(f: Uint8Array, ip: number): void {
  const v4 = f[ip] >> 4 === 4;
  const hl = v4 ? (f[ip] & 15) * 4 : 40;
  const len = v4 ? (f[ip + 2] << 8) | f[ip + 3] : 40 + ((f[ip + 4] << 8) | f[ip + 5]);
  const proto = v4 ? f[ip + 9] : f[ip + 6];
  if (v4) assert.equal(onesSum(f.subarray(ip, ip + hl)), 0xffff, "IPv4 header checksum");
  const l4 = f.subarray(ip + hl, ip + len);
  const src = v4 ? f.subarray(ip + 12, ip + 16) : f.subarray(ip + 8, ip + 24);
  const dst = v4 ? f.subarray(ip + 16, ip + 20) : f.subarray(ip + 24, ip + 40);
  const pseudo = Uint8Array.of(0, proto, l4.length >> 8, l4.length & 0xff);
  assert.equal(onesSum(src, dst, pseudo, l4), 0xffff, `L4 checksum (proto ${proto})`);
}

function ipText(b: Uint8Array): string {
  if (b.length === 4) return b.join(".");
  const w = new Uint32Array(4);
  const dv = new DataView(b.buffer, b.byteOffset, 16);
  for (let i = 0; i < 4; i++) w[i] = dv.getUint32(i * 4, true);
  return formatIpv6(w, 0);
}

function mac(f: Uint8Array, at: number): string {
  return [...f.subarray(at, at + 6)].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

function be16(f: Uint8Array, at: number): number {
  return (f[at] << 8) | f[at + 1];
}

// ---- NAT ------------------------------------------------------------------------------

Deno.test("a NAT IPv4 TCP SYN leaves with the real server as destination and valid checksums", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [dest(AF_INET, RS4[0], 8080, IP_VS_CONN_F_MASQ)]);
  const input = tcp4("S");
  const r = one(io, input);
  assert.equal(r.verdict, V_TX);
  assert.equal(r.reason, R_NONE);
  const f = r.tx!;
  assert.equal(f.length, input.length);
  assert.equal(mac(f, 0), RS_MAC[0]);
  assert.equal(mac(f, 6), DIR_MAC);
  assert.equal(ipText(f.subarray(26, 30)), CLIENT4);
  assert.equal(ipText(f.subarray(30, 34)), RS4[0]);
  assert.equal(f[22], 63, "TTL decremented");
  assert.equal(be16(f, 34), 40000);
  assert.equal(be16(f, 36), 8080);
  assertChecksums(f, 14);
  // Only the destination, TTL and checksums changed; the payload is intact.
  assert.deepEqual(f.subarray(38, 50), input.subarray(38, 50));
  assert.deepEqual(f.subarray(54), input.subarray(54));
  const [c] = e.dumpConns();
  assert.equal(c.index, 0);
  assert.equal(c.caddr, CLIENT4);
  assert.equal(c.vaddr, VIP4);
  assert.equal(c.daddr, RS4[0]);
  assert.equal(c.cport, 40000);
  assert.equal(c.vport, 80);
  assert.equal(c.dport, 8080);
  assert.equal(c.flags, IP_VS_CONN_F_MASQ);
  assert.equal(c.inPkts, 1);
});

Deno.test("a NAT reply from the real server leaves with the VIP as source and valid checksums", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [dest(AF_INET, RS4[0], 8080, IP_VS_CONN_F_MASQ)]);
  one(io, tcp4("S"));
  const reply = Frame.eth({ src: RS_MAC[0], dst: DIR_MAC }).ipv4({ src: RS4[0], dst: CLIENT4 })
    .tcp({ sport: 8080, dport: 40000, flags: "SA" }).payload("world").build();
  const r = one(io, reply, T0 + 1000);
  assert.equal(r.verdict, V_TX);
  const f = r.tx!;
  assert.equal(mac(f, 0), GW_MAC, "client reached through the default route");
  assert.equal(ipText(f.subarray(26, 30)), VIP4);
  assert.equal(ipText(f.subarray(30, 34)), CLIENT4);
  assert.equal(be16(f, 34), 80);
  assert.equal(be16(f, 36), 40000);
  assertChecksums(f, 14);
  const c = e.counters();
  assert.equal(c[C_IN_PKTS], 1);
  assert.equal(c[C_OUT_PKTS], 1);
  assert.equal(e.dumpConns()[0].inPkts, 1, "replies do not count in inPkts");
});

Deno.test("IPv6 NAT rewrites the destination in and the source out with valid checksums", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET6, 6, VIP6, 80, SCHED_RR), [
    dest(AF_INET6, RS6[1], 8080, IP_VS_CONN_F_MASQ),
  ]);
  const syn = Frame.eth().ipv6({ src: CLIENT6, dst: VIP6, hopLimit: 9 })
    .tcp({ sport: 50000, dport: 80, flags: "S" }).build();
  const r = one(io, syn);
  assert.equal(r.verdict, V_TX);
  const f = r.tx!;
  assert.equal(mac(f, 0), RS_MAC[1]);
  assert.equal(f[21], 8, "hop limit decremented");
  assert.equal(ipText(f.subarray(22, 38)), CLIENT6);
  assert.equal(ipText(f.subarray(38, 54)), RS6[1]);
  assert.equal(be16(f, 56), 8080);
  assertChecksums(f, 14);
  const reply = Frame.eth().ipv6({ src: RS6[1], dst: CLIENT6 })
    .tcp({ sport: 8080, dport: 50000, flags: "SA" }).build();
  const o = one(io, reply, T0 + 10);
  assert.equal(o.verdict, V_TX);
  assert.equal(ipText(o.tx!.subarray(22, 38)), VIP6);
  assert.equal(be16(o.tx!, 54), 80);
  assertChecksums(o.tx!, 14);
  const [c] = e.dumpConns();
  assert.equal(c.af, AF_INET6);
  assert.equal(c.caddr, "2001:2::10");
  assert.equal(c.vaddr, "2001:2:0:100::1");
  assert.equal(c.daddr, "2001:2:0:1::2");
  assert.equal(e.counters()[C_CONNS6], 1);
});

Deno.test("a NAT UDP datagram without checksum leaves with a full, valid checksum", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET, 17, VIP4, 53, SCHED_RR), [dest(AF_INET, RS4[2], 5353, IP_VS_CONN_F_MASQ)]);
  const q = Frame.eth().ipv4({ src: CLIENT4, dst: VIP4 }).udp({
    sport: 3333,
    dport: 53,
    zeroChecksum: true,
  })
    .payload("query!").build();
  const r = one(io, q);
  assert.equal(r.verdict, V_TX);
  const f = r.tx!;
  assert.notEqual(be16(f, 40), 0, "a checksum was computed");
  assert.equal(be16(f, 36), 5353);
  assertChecksums(f, 14);
  const [c] = e.dumpConns();
  assert.equal(c.state, 0);
  assert.equal(c.timeout, 300_000);
  assert.equal(e.destCounts(c.dest).inactConns, 1, "UDP entries are never active");
});

Deno.test("IPv4 padding after the total length is not sent", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ)]);
  const syn = Frame.eth().ipv4({ src: CLIENT4, dst: VIP4 }).tcp({ sport: 1, dport: 80, flags: "S" })
    .build();
  const padded = new Uint8Array(64);
  padded.set(syn);
  const r = one(io, padded);
  assert.equal(r.tx!.length, syn.length);
});

// ---- DR and TUN -------------------------------------------------------------------------

Deno.test("DR changes only the MAC addresses, the TTL and the IPv4 header checksum", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [dest(AF_INET, RS4[1], 80, IP_VS_CONN_F_DROUTE)]);
  const input = tcp4("S");
  const f = one(io, input).tx!;
  assert.equal(mac(f, 0), RS_MAC[1]);
  assert.equal(mac(f, 6), DIR_MAC);
  assert.equal(f[22], input[22] - 1);
  assert.deepEqual(f.subarray(26), input.subarray(26), "addresses, ports and L4 untouched");
  assertChecksums(f, 14);
  assert.equal(e.dumpConns()[0].flags, IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT);
});

Deno.test("a changed neighbour takes effect on the next packet of an existing flow", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_DROUTE)]);
  assert.equal(mac(one(io, tcp4("S")).tx!, 0), RS_MAC[0]);
  assert.equal(e.setNeigh(AF_INET, ipBytes(RS4[0]), macBytes("02:00:00:00:09:09"), 0), 0);
  assert.equal(mac(one(io, tcp4("A")).tx!, 0), "02:00:00:00:09:09");
});

Deno.test("TUN wraps IPv4 in IPv4 with the outer fields of ARCHITECTURE.md step 12", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [dest(AF_INET, RS4[2], 80, IP_VS_CONN_F_TUNNEL)]);
  const mk = (sport: number) =>
    Frame.eth({ vlan: 7 }).ipv4({ src: CLIENT4, dst: VIP4, ttl: 30, df: true, tos: 0xbb })
      .tcp({ sport, dport: 80, flags: "S" }).payload("x").build();
  const input = mk(1234);
  const r = io.run([input, mk(1235)], T0);
  assert.deepEqual(r.verdicts, [V_TX, V_TX]);
  const f = r.tx[0].bytes;
  assert.equal(f.length, input.length + 20);
  assert.equal(mac(f, 0), RS_MAC[2]);
  assert.equal(mac(f, 6), DIR_MAC);
  assert.equal(be16(f, 12), 0x8100);
  assert.equal(be16(f, 14), 7, "the VLAN tag moves with the L2 header");
  assert.equal(be16(f, 16), 0x0800);
  const o = 18;
  assert.equal(f[o], 0x45);
  assert.equal(f[o + 1], 0xba, "ECN CE becomes ECT(0), DSCP kept");
  assert.equal(be16(f, o + 2), input.length - 18 + 20);
  assert.equal(be16(f, o + 4), 0, "first IP ID");
  assert.equal(be16(r.tx[1].bytes, o + 4), 1, "the IP ID counter advances");
  assert.equal(f[o + 6], 0x40, "DF copied (pmtu_disc = 1)");
  assert.equal(f[o + 8], 29, "outer TTL = inner TTL after decrement");
  assert.equal(f[o + 9], 4);
  assert.equal(ipText(f.subarray(o + 12, o + 16)), "198.18.0.254");
  assert.equal(ipText(f.subarray(o + 16, o + 20)), RS4[2]);
  assert.equal(onesSum(f.subarray(o, o + 20)), 0xffff, "outer header checksum");
  assert.equal(f[o + 20 + 8], 29, "inner TTL decremented");
  assertChecksums(f, o + 20);
  assert.deepEqual(
    f.subarray(o + 20 + 12),
    input.subarray(18 + 12),
    "inner addresses and L4 intact",
  );
  const [t] = r.tx;
  assert.equal(t.port, 0);
});

Deno.test("TUN wraps IPv6 in IPv6 with traffic class, payload length and hop limit", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET6, 6, VIP6, 80, SCHED_RR), [
    dest(AF_INET6, RS6[0], 80, IP_VS_CONN_F_TUNNEL),
  ]);
  const input = Frame.eth().ipv6({ src: CLIENT6, dst: VIP6, tc: 0x2f, hopLimit: 5 })
    .tcp({ sport: 4321, dport: 80, flags: "S" }).build();
  const f = one(io, input).tx!;
  assert.equal(f.length, input.length + 40);
  assert.equal(be16(f, 12), 0x86dd);
  const o = 14;
  assert.equal(f[o] >> 4, 6);
  assert.equal(((f[o] & 15) << 4) | (f[o + 1] >> 4), 0x2e, "CE turned into ECT(0)");
  assert.equal(f[o + 1] & 15, 0);
  assert.equal(be16(f, o + 2), 0, "flow label 0");
  assert.equal(be16(f, o + 4), input.length - 14);
  assert.equal(f[o + 6], 41);
  assert.equal(f[o + 7], 4);
  assert.equal(ipText(f.subarray(o + 8, o + 24)), "2001:2::fe");
  assert.equal(ipText(f.subarray(o + 24, o + 40)), RS6[0]);
  assert.equal(f[o + 40 + 7], 4, "inner hop limit decremented");
  assertChecksums(f, o + 40);
});

Deno.test("TUN carries an IPv6 service to an IPv4 real server (mixed family)", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET6, 6, VIP6, 80, SCHED_RR), [dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_TUNNEL)]);
  const input = Frame.eth().ipv6({ src: CLIENT6, dst: VIP6 }).tcp({
    sport: 1,
    dport: 80,
    flags: "S",
  })
    .build();
  const f = one(io, input).tx!;
  assert.equal(be16(f, 12), 0x0800);
  assert.equal(f[14 + 9], 41);
  assert.equal(f[14 + 6], 0x40, "DF is set for an inner IPv6 packet");
  assert.equal(mac(f, 0), RS_MAC[0]);
  assert.equal(e.dumpConns()[0].daddr, RS4[0]);
});

// ---- TCP state, counts, expiry, reuse ---------------------------------------------------

Deno.test("a NAT connection goes SYN_RECV, ESTABLISHED, CLOSE_WAIT, TIME_WAIT with its counts", () => {
  const { e, io } = lab();
  const { d } = addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [
    dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ),
  ]);
  const reply = (flags: string) =>
    Frame.eth().ipv4({ src: RS4[0], dst: CLIENT4 }).tcp({ sport: 80, dport: 40000, flags }).build();
  const step = (frame: Uint8Array, state: number, active: number, timeoutS: number) => {
    assert.equal(one(io, frame).verdict, V_TX);
    const [c] = e.dumpConns();
    assert.equal(c.state, state);
    assert.equal(c.timeout, timeoutS * 1000);
    assert.equal(c.expires, (Math.floor(T0 / 1000) + timeoutS * 1000) >>> 0);
    assert.equal(e.destCounts(d[0]).activeConns, active);
    assert.equal(e.destCounts(d[0]).inactConns, 1 - active);
    assert.equal((c.flags & IP_VS_CONN_F_INACTIVE) === 0, active === 1);
  };
  step(tcp4("S"), TCP_S_SYN_RECV, 1, 60);
  step(reply("SA"), TCP_S_SYN_RECV, 1, 60);
  step(tcp4("A"), TCP_S_ESTABLISHED, 1, 900);
  step(tcp4("PA"), TCP_S_ESTABLISHED, 1, 900);
  step(tcp4("FA"), TCP_S_CLOSE_WAIT, 0, 60);
  step(reply("FA"), TCP_S_TIME_WAIT, 0, 120);
  assert.equal(e.dumpConns()[0].inPkts, 4);
});

Deno.test("a DR connection goes to FIN_WAIT on the client's FIN (input-only table)", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_DROUTE)]);
  one(io, tcp4("S"));
  one(io, tcp4("A"));
  assert.equal(e.dumpConns()[0].state, TCP_S_ESTABLISHED);
  one(io, tcp4("FA"));
  assert.equal(e.dumpConns()[0].state, TCP_S_FIN_WAIT);
  one(io, tcp4("A"));
  assert.equal(e.dumpConns()[0].state, TCP_S_FIN_WAIT);
});

Deno.test("setTimeouts changes ESTABLISHED and UDP and leaves zeros alone", () => {
  const { e } = lab();
  e.setTimeouts(100, 0, 20);
  const t = e.timeouts();
  assert.equal(t[TCP_S_ESTABLISHED], 100);
  assert.equal(t[TCP_S_FIN_WAIT], 120);
  assert.equal(t[T_UDP], 20);
  e.setTimeouts(0.5, -3, NaN);
  assert.deepEqual(e.timeouts(), t, "values that floor to 0 change nothing");
});

Deno.test("expire() frees an entry once its timeout has passed, and not before", () => {
  const { e, io } = lab();
  const { d } = addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [
    dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ),
  ]);
  one(io, tcp4("S"));
  assert.equal(e.expire(T0 + 59 * SEC), 0);
  assert.equal(e.dumpConns().length, 1);
  assert.equal(e.expire(T0 + 60 * SEC), 1, "SYN_RECV lasts 60 s");
  assert.deepEqual(e.dumpConns(), []);
  const c = e.counters();
  assert.equal(c[C_CONN_NEW], 1);
  assert.equal(c[C_CONN_EXPIRED], 1);
  assert.equal(c[C_CONNS], 0);
  assert.deepEqual(e.destCounts(d[0]), {
    activeConns: 0,
    inactConns: 0,
    persistConns: 0,
    flags: IP_VS_DEST_F_AVAILABLE,
  });
});

Deno.test("an expired entry met by a lookup is freed and the packet treated as new", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ)]);
  one(io, tcp4("S"));
  const r = one(io, tcp4("A"), T0 + 61 * SEC);
  assert.equal(r.verdict, V_PASS);
  assert.equal(r.reason, R_TCP_NO_SYN);
  assert.equal(e.counters()[C_CONN_EXPIRED], 1);
  assert.deepEqual(e.dumpConns(), []);
});

Deno.test("a SYN on a TIME_WAIT entry reuses it: freed, counted, rescheduled", () => {
  const { e, io } = lab();
  const { d } = addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [
    dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ),
    dest(AF_INET, RS4[1], 80, IP_VS_CONN_F_MASQ),
  ]);
  const reply = (flags: string) =>
    Frame.eth().ipv4({ src: RS4[0], dst: CLIENT4 }).tcp({ sport: 80, dport: 40000, flags }).build();
  one(io, tcp4("S"));
  one(io, tcp4("A"));
  one(io, tcp4("FA"));
  one(io, reply("FA"));
  assert.equal(e.dumpConns()[0].state, TCP_S_TIME_WAIT);
  const r = one(io, tcp4("S"), T0 + SEC);
  assert.equal(r.verdict, V_TX);
  const c = e.counters();
  assert.equal(c[C_CONN_REUSED], 1);
  assert.equal(c[C_CONN_EXPIRED], 1);
  assert.equal(c[C_CONN_NEW], 2);
  const [conn] = e.dumpConns();
  assert.equal(conn.index, 0, "the freed slot is handed out again (LIFO)");
  assert.equal(conn.dest, d[1], "rr moved on to the next dest");
  assert.equal(conn.state, TCP_S_SYN_RECV);
});

Deno.test("a deleted dest drops its packets unless expire_nodest_conn reschedules them", () => {
  const { e, io } = lab();
  const { s, d } = addSvc(e, svc(AF_INET, 17, VIP4, 53, SCHED_RR), [
    dest(AF_INET, RS4[0], 53, IP_VS_CONN_F_MASQ),
  ]);
  const q = Frame.eth().ipv4({ src: CLIENT4, dst: VIP4 }).udp({ sport: 7, dport: 53 }).build();
  one(io, q);
  assert.equal(e.delDest(d[0]), 0);
  assert.equal(one(io, q).reason, R_DEST_UNAVAILABLE);
  assert.equal(e.destCounts(d[0]).inactConns, 1, "the trashed dest keeps its connection");
  const d2 = e.addDest(s, dest(AF_INET, RS4[1], 53, IP_VS_CONN_F_MASQ));
  assert.equal(d2, 1, "slot 0 is still in the trash");
  e.setSysctl(SYS_EXPIRE_NODEST_CONN, 1);
  const r = one(io, q);
  assert.equal(r.verdict, V_TX);
  assert.equal(e.dumpConns()[0].dest, d2);
  assert.equal(e.addDest(s, dest(AF_INET, RS4[2], 53, IP_VS_CONN_F_MASQ)), 0, "trash freed");
});

// ---- Schedulers ----------------------------------------------------------------------

/** Opens `n` UDP flows and returns the real-server index each one went to. */
function picks(io: FrameIo, n: number, first = 1000): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const q = Frame.eth().ipv4({ src: CLIENT4, dst: VIP4 }).udp({ sport: first + i, dport: 53 })
      .build();
    const r = one(io, q);
    assert.equal(r.verdict, V_TX);
    out.push(RS4.indexOf(ipText(r.tx!.subarray(30, 34))));
  }
  return out;
}

const NAMES = "ABC";
const seq = (p: number[]) => p.map((i) => NAMES[i]).join(" ");

Deno.test("wrr with weights 4, 3, 2 picks A A B A B C A B C from a fresh start", () => {
  const { e, io } = lab();
  // Added C, B, A so that the list reads A, B, C; built under rr, then switched to wrr so
  // that initService starts at cw = mw (the spec's worked sequence).
  const spec = svc(AF_INET, 17, VIP4, 53, SCHED_RR);
  addSvc(e, spec, [
    dest(AF_INET, RS4[0], 53, IP_VS_CONN_F_MASQ, 4),
    dest(AF_INET, RS4[1], 53, IP_VS_CONN_F_MASQ, 3),
    dest(AF_INET, RS4[2], 53, IP_VS_CONN_F_MASQ, 2),
  ]);
  assert.equal(e.editService(0, { ...spec, sched: SCHED_WRR }), 0);
  assert.equal(seq(picks(io, 18)), "A A B A B C A B C A A B A B C A B C");
});

Deno.test("wrr built dest by dest starts at cw = 1, then settles into A A B A B C A B C", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET, 17, VIP4, 53, SCHED_WRR), [
    dest(AF_INET, RS4[0], 53, IP_VS_CONN_F_MASQ, 4),
    dest(AF_INET, RS4[1], 53, IP_VS_CONN_F_MASQ, 3),
    dest(AF_INET, RS4[2], 53, IP_VS_CONN_F_MASQ, 2),
  ]);
  assert.equal(seq(picks(io, 12)), "A B C A A B A B C A B C");
});

Deno.test("wrr with weights 4 and 2 picks A A B", () => {
  const { e, io } = lab();
  const spec = svc(AF_INET, 17, VIP4, 53, SCHED_RR);
  addSvc(e, spec, [
    dest(AF_INET, RS4[0], 53, IP_VS_CONN_F_MASQ, 4),
    dest(AF_INET, RS4[1], 53, IP_VS_CONN_F_MASQ, 2),
  ]);
  e.editService(0, { ...spec, sched: SCHED_WRR });
  assert.equal(seq(picks(io, 6)), "A A B A A B");
});

Deno.test("rr cycles in list order, skips weight 0, and steps back when its cursor is deleted", () => {
  const { e, io } = lab();
  const { d } = addSvc(e, svc(AF_INET, 17, VIP4, 53, SCHED_RR), [
    dest(AF_INET, RS4[0], 53, IP_VS_CONN_F_MASQ),
    dest(AF_INET, RS4[1], 53, IP_VS_CONN_F_MASQ),
    dest(AF_INET, RS4[2], 53, IP_VS_CONN_F_MASQ),
  ]);
  assert.equal(seq(picks(io, 4, 100)), "A B C A");
  assert.equal(e.editDest(d[1], dest(AF_INET, RS4[1], 53, IP_VS_CONN_F_MASQ, 0)), d[1]);
  assert.equal(seq(picks(io, 3, 200)), "C A C");
  assert.equal(e.delDest(d[2]), 0); // the cursor: the next pick follows it
  assert.equal(seq(picks(io, 2, 300)), "A A");
});

Deno.test("wlc prefers the lowest connections-to-weight ratio, ties to the list head", () => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET, 17, VIP4, 53, SCHED_WLC), [
    dest(AF_INET, RS4[0], 53, IP_VS_CONN_F_MASQ, 1),
    dest(AF_INET, RS4[1], 53, IP_VS_CONN_F_MASQ, 2),
  ]);
  assert.equal(seq(picks(io, 7)), "A B B A B B A");
});

/** A scheduler context for calling a scheduler's ops directly. */
function ctxOf(): SchedContext {
  const cfg = { maxConns: 1, maxServices: 1, maxDests: 2, batch: 1, seed: 0 };
  return new SchedContext(new Packet(), new Int32Array(8), schedConfig(cfg));
}

Deno.test("wlc weighs an active connection as 256 inactive ones", () => {
  const svcs = new ServiceTable(1);
  const dests = new DestTable(2, svcs);
  dests.linkHead(0, 1);
  dests.linkHead(0, 0); // list: 0, 1
  dests.weight.set([1, 1]);
  dests.active[0] = 1;
  dests.inact[1] = 255;
  assert.equal(wlc.schedule(svcs, dests, 0, ctxOf()), 1, "255 < 256");
  dests.inact[1] = 256;
  assert.equal(wlc.schedule(svcs, dests, 0, ctxOf()), 0, "a tie keeps the earlier dest");
  dests.weight[1] = 2;
  dests.inact[1] = 511;
  assert.equal(wlc.schedule(svcs, dests, 0, ctxOf()), 1, "511 / 2 < 256 / 1");
  dests.weight[0] = 0;
  dests.inact[1] = 100_000;
  assert.equal(wlc.schedule(svcs, dests, 0, ctxOf()), 1, "weight 0 is never picked");
});

Deno.test("mulGreater compares products exactly beyond 2^53", () => {
  const big = 2 ** 40 + 1;
  assert.equal(mulGreater(big, 2 ** 20 + 1, big, 2 ** 20), true);
  assert.equal(mulGreater(big, 2 ** 20, big, 2 ** 20), false);
  assert.equal(mulGreater(2 ** 47 - 1, 2 ** 47 - 3, 2 ** 47 - 2, 2 ** 47 - 2), false);
  assert.equal(mulGreater(2 ** 47 - 2, 2 ** 47 - 2, 2 ** 47 - 1, 2 ** 47 - 3), true);
  assert.equal(mulGreater(3, 4, 2, 5), true);
});

Deno.test("the upper threshold overloads a dest and the lower one releases it", () => {
  const { e, io } = lab();
  const { d } = addSvc(e, svc(AF_INET, 17, VIP4, 53, SCHED_RR), [
    { ...dest(AF_INET, RS4[0], 53, IP_VS_CONN_F_MASQ), uThreshold: 2, lThreshold: 1 },
  ]);
  picks(io, 2);
  assert.equal(e.destCounts(d[0]).flags, IP_VS_DEST_F_AVAILABLE | IP_VS_DEST_F_OVERLOAD);
  const q = Frame.eth().ipv4({ src: CLIENT4, dst: VIP4 }).udp({ sport: 9, dport: 53 }).build();
  assert.equal(one(io, q).reason, R_NO_DEST);
  assert.equal(e.expire(T0 + 301 * SEC), 2);
  assert.equal(e.destCounts(d[0]).flags, IP_VS_DEST_F_AVAILABLE);
});

// ---- Drops and passes ---------------------------------------------------------------

Deno.test("malformed and unwanted frames get their drop or pass reason and counters", async (t) => {
  const { e, io } = lab();
  addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ)]);
  const good = tcp4("S", 5000);
  const mutate = (f: Uint8Array, at: number, v: number) => {
    const c = f.slice();
    c[at] = v;
    return c;
  };
  // Issue 7: a later fragment (offset 8) whose first one has not come is held.
  const frag6 = Frame.eth().ipv6({ src: CLIENT6, dst: VIP6, ext: [{ type: 60 }, { type: 44 }] })
    .tcp({ sport: 1, dport: 80, flags: "S" }).build();
  frag6[14 + 48 + 3] = 0x08;
  const longChain = Frame.eth().ipv6({
    src: CLIENT6,
    dst: VIP6,
    ext: Array.from({ length: 9 }, () => ({ type: 60 })),
  }).tcp({ sport: 1, dport: 80, flags: "S" }).build();
  const badExtLen = mutate(
    Frame.eth().ipv6({ src: CLIENT6, dst: VIP6, ext: [{ type: 0 }] }).tcp({ sport: 1, dport: 80 })
      .build(),
    55,
    200,
  );
  const shortTcp = Frame.eth().ipv4({ src: CLIENT4, dst: VIP4, protocol: 6 }).payload(
    new Uint8Array(10),
  )
    .build();
  const badUdpLen = Frame.eth().ipv4({ src: CLIENT4, dst: VIP4 }).udp({ sport: 1, dport: 53 })
    .build();
  badUdpLen[38] = 0;
  badUdpLen[39] = 4;
  const cases: [string, Uint8Array, number, number][] = [
    ["oversized frame", new Uint8Array(2000), V_DROP, R_BAD_DESC],
    ["runt", new Uint8Array(10), V_DROP, R_TRUNC_L2],
    ["VLAN runt", Uint8Array.of(...new Uint8Array(12), 0x81, 0x00, 0, 1), V_DROP, R_TRUNC_L2],
    ["ARP", arpReply(RS_MAC[0], RS4[0]), V_PASS, R_NOT_IP],
    ["short IPv4", good.slice(0, 30), V_DROP, R_TRUNC_L3],
    ["IP version 5", mutate(good, 14, 0x55), V_DROP, R_BAD_IP_VERSION],
    ["IHL 4", mutate(good, 14, 0x44), V_DROP, R_BAD_IHL],
    ["total length too big", mutate(good, 16, 0x10), V_DROP, R_BAD_TOTLEN],
    ["bad header checksum", mutate(good, 24, good[24] ^ 0xff), V_DROP, R_BAD_IP_CSUM],
    [
      "IPv4 later fragment",
      Frame.eth().ipv4({ src: CLIENT4, dst: VIP4, fragOff: 1, protocol: 6 }).payload(
        new Uint8Array(8),
      )
        .build(),
      V_DROP,
      R_FRAG_HELD,
    ],
    ["IPv6 later fragment", frag6, V_DROP, R_FRAG_HELD],
    ["nine extension headers", longChain, V_DROP, R_IP6_EXT_CHAIN],
    ["extension header past the payload", badExtLen, V_DROP, R_IP6_EXT_CHAIN],
    ["TCP header cut short", shortTcp, V_DROP, R_TRUNC_L4],
    ["TCP data offset 4", mutate(good, 46, 0x40), V_DROP, R_BAD_TCP_DOFF],
    ["UDP length 4", badUdpLen, V_DROP, R_BAD_UDP_LEN],
    [
      "ICMP",
      Frame.eth().ipv4({ src: CLIENT4, dst: VIP4 }).raw(1, new Uint8Array(8)).build(),
      V_PASS,
      R_NOT_L4,
    ],
    [
      "no such service",
      Frame.eth().ipv4({ src: CLIENT4, dst: VIP4 }).tcp({ sport: 1, dport: 81, flags: "S" })
        .build(),
      V_PASS,
      R_NOT_VIP,
    ],
    ["ACK without an entry", tcp4("A", 6000), V_PASS, R_TCP_NO_SYN],
    ["RST without an entry", tcp4("R", 6001), V_PASS, R_TCP_NO_SYN],
    ["TTL 1", tcp4("S", 6002, { ttl: 1 }), V_DROP, R_TTL_EXCEEDED],
  ];
  for (const [name, frame, verdict, reason] of cases) {
    await t.step(`${name} → ${REASON_NAMES[reason]}`, () => {
      const before = e.counters();
      const r = one(io, frame);
      assert.equal(r.reason, reason);
      assert.equal(r.verdict, verdict);
      // Issue 7: TTL 1 sends the client an ICMP time exceeded; nothing else leaves.
      if (reason !== R_TTL_EXCEEDED) assert.equal(r.tx, undefined);
      else assert.equal(r.tx?.[14 + 9], 1, "an ICMP error");
      const after = e.counters();
      assert.equal(after[C_RX] - before[C_RX], 1);
      assert.equal(after[C_REASON_BASE + reason] - before[C_REASON_BASE + reason], 1);
      assert.equal(
        after[verdict === V_DROP ? C_DROP : C_PASS] - before[verdict === V_DROP ? C_DROP : C_PASS],
        1,
      );
    });
  }
  const c = e.counters();
  assert.equal(c[C_RX], c[C_TX] + c[C_DROP] + c[C_PASS]);
  assert.equal(c[C_TX], 0);
});

Deno.test("forwarding failures: no dest, no neighbour, MTU, tunnel source, full table", async (t) => {
  await t.step("a service without dests drops with no_dest", () => {
    const { e, io } = lab();
    addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_WRR), []);
    assert.equal(one(io, tcp4("S")).reason, R_NO_DEST);
  });
  await t.step("a real server with no neighbour and no default route drops with no_neigh", () => {
    const e = createReferenceEngine(CONFIG);
    const io = new FrameIo(e);
    addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [
      dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_DROUTE),
    ]);
    const r = one(io, tcp4("S"));
    assert.equal(r.reason, R_NO_NEIGH);
    assert.equal(e.dumpConns().length, 1, "the entry exists; only the transmit failed");
  });
  await t.step(
    "a DF packet above the port MTU drops with mtu_exceeded, without DF it is fragmented",
    () => {
      const { e, io } = lab();
      e.setPort(0, { mac: macBytes(DIR_MAC), mtu: 100 });
      addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [
        dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_DROUTE),
      ]);
      const big = (df: boolean, sport: number) =>
        Frame.eth().ipv4({ src: CLIENT4, dst: VIP4, df }).tcp({ sport, dport: 80, flags: "S" })
          .payload(new Uint8Array(100)).build();
      assert.equal(one(io, big(true, 1)).reason, R_MTU_EXCEEDED);
      // Issue 7: without DF, two fragments (80 + 60 bytes of a 160-byte packet's payload).
      const r = io.run([big(false, 2)], T0);
      assert.equal(r.verdicts[0], V_TX);
      assert.deepEqual(r.tx.map((x) => x.bytes.length), [14 + 100, 14 + 20 + 40]);
    },
  );
  await t.step("a tunnel from a port without an IPv4 address drops with no_tun_src", () => {
    const { e, io } = lab(CONFIG, false);
    addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [
      dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_TUNNEL),
    ]);
    assert.equal(one(io, tcp4("S")).reason, R_NO_TUN_SRC);
  });
  await t.step(
    "a tunnel packet above MTU - 20 drops with DF, its outer header is fragmented without",
    () => {
      const { e, io } = lab();
      e.setPort(0, { mac: macBytes(DIR_MAC), mtu: 120, addr4: ipBytes("198.18.0.254") });
      addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [
        dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_TUNNEL),
      ]);
      const f = (n: number, sport: number) =>
        Frame.eth().ipv4({ src: CLIENT4, dst: VIP4 }).tcp({ sport, dport: 80, flags: "S" })
          .payload(new Uint8Array(n)).build();
      const df = Frame.eth().ipv4({ src: CLIENT4, dst: VIP4, df: true }).tcp({
        sport: 3,
        dport: 80,
        flags: "S",
      })
        .payload(new Uint8Array(61)).build();
      assert.equal(one(io, df).reason, R_MTU_EXCEEDED, "101 > 100 with DF");
      assert.equal(
        io.run([f(61, 1)], T0).tx.length,
        2,
        "101 > 100 without DF: two outer fragments",
      );
      assert.equal(io.run([f(60, 2)], T0).tx.length, 1, "100 fits");
    },
  );
  await t.step("a full table drops with conn_full; IPv6 also needs a free block", () => {
    const { e, io } = lab({ ...CONFIG, maxConns: 3, maxConns6: 1 });
    addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ)]);
    addSvc(e, svc(AF_INET6, 6, VIP6, 80, SCHED_RR), [
      dest(AF_INET6, RS6[0], 80, IP_VS_CONN_F_MASQ),
    ]);
    const syn6 = (sport: number) =>
      Frame.eth().ipv6({ src: CLIENT6, dst: VIP6 }).tcp({ sport, dport: 80, flags: "S" }).build();
    assert.equal(one(io, syn6(1)).verdict, V_TX);
    assert.equal(one(io, syn6(2)).reason, R_CONN_FULL);
    assert.equal(one(io, tcp4("S", 1)).verdict, V_TX);
    assert.equal(one(io, tcp4("S", 2)).verdict, V_TX);
    assert.equal(one(io, tcp4("S", 3)).reason, R_CONN_FULL);
    assert.deepEqual(e.dumpConns().map((c) => c.index), [0, 1, 2]);
  });
});

Deno.test("a frame dropped in transmit stays in its slot as received", () => {
  const { e, io } = lab();
  e.setPort(0, { mac: macBytes(DIR_MAC), mtu: 40 });
  addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [dest(AF_INET, RS4[0], 8080, IP_VS_CONN_F_MASQ)]);
  const input = tcp4("S", 1, { df: true });
  assert.equal(one(io, input).reason, R_MTU_EXCEEDED);
  const at = io.frameOffset(0);
  assert.deepEqual(new Uint8Array(e.memory, at, input.length), input);
});

Deno.test("a marked packet is scheduled by the fwmark service", () => {
  const { e, io } = lab();
  const s = e.addService({ ...svc(AF_INET, 0, "0.0.0.0", 0, SCHED_RR), fwmark: 7 });
  assert.equal(s, 0);
  assert.equal(e.addDest(s, dest(AF_INET, RS4[0], 0, IP_VS_CONN_F_MASQ)), 0);
  const f = (sport: number) =>
    Frame.eth().ipv4({ src: CLIENT4, dst: "198.18.100.9" }).tcp({ sport, dport: 443, flags: "S" })
      .build();
  const r = one(io, f(1), T0, 7);
  assert.equal(r.verdict, V_TX);
  assert.equal(be16(r.tx!, 36), 443, "dest port 0 keeps the packet's port");
  assert.equal(one(io, f(2), T0, 8).reason, R_NOT_VIP);
});

// ---- Control operations, stats, memory --------------------------------------------------

Deno.test("control operations return indices from LIFO stacks and negative errnos", () => {
  const { e } = lab();
  const a = svc(AF_INET, 6, VIP4, 80, SCHED_RR);
  assert.equal(e.addService(a), 0);
  assert.equal(e.addService(a), -EEXIST);
  assert.equal(e.addService({ ...a, port: 443 }), 1);
  assert.equal(e.addService({ ...a, port: 444, sched: 99 }), -ENOENT);
  assert.equal(e.addService({ ...a, port: 444, af: 3 as 2 }), -EINVAL);
  assert.equal(e.addService({ ...a, port: 444, addr: new Uint8Array(3) }), -EINVAL);
  assert.equal(e.addDest(5, dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ)), -ESRCH);
  assert.equal(e.addDest(0, dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ)), 0);
  assert.equal(e.addDest(0, dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ)), -EEXIST);
  assert.equal(e.addDest(0, dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ, -1)), -ERANGE);
  assert.equal(e.addDest(0, { ...dest(AF_INET, RS4[1], 80, 0), lThreshold: 5 }), -ERANGE);
  assert.equal(e.addDest(0, dest(AF_INET6, RS6[0], 80, IP_VS_CONN_F_MASQ)), -EINVAL);
  assert.equal(e.addDest(0, dest(AF_INET, RS4[1], 80, 7)), -EINVAL);
  assert.equal(e.addDest(0, dest(AF_INET, RS4[1], 80, IP_VS_CONN_F_MASQ)), 1);
  assert.deepEqual(e.destList(0), [1, 0]);
  assert.equal(e.editDest(9, dest(AF_INET, RS4[1], 80, 0)), -ENOENT);
  assert.equal(e.delDest(0), 0);
  assert.equal(e.delDest(0), -ENOENT);
  assert.equal(e.addDest(1, dest(AF_INET, RS4[2], 80, IP_VS_CONN_F_MASQ)), 0, "slot 0 reused");
  assert.equal(e.delService(0), 0);
  assert.equal(e.delService(0), -ESRCH);
  assert.deepEqual(e.destList(0), []);
  assert.equal(e.addService(a), 0, "service slot 0 reused");
  assert.equal(e.addDest(0, dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ)), 1);
  assert.equal(e.setPort(16, { mac: macBytes(DIR_MAC), mtu: 1500 }), -EINVAL);
  assert.equal(e.setNeigh(AF_INET, new Uint8Array(16), macBytes(GW_MAC), 0), -EINVAL);
  const small = createReferenceEngine({ ...CONFIG, maxServices: 1 });
  assert.equal(small.addService(a), 0);
  assert.equal(small.addService({ ...a, port: 1 }), -ENOMEM);
});

Deno.test("service and dest stats count connections, packets and IP bytes", () => {
  const { e, io } = lab();
  const { s, d } = addSvc(e, svc(AF_INET, 6, VIP4, 80, SCHED_RR), [
    dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ),
  ]);
  const syn = tcp4("S");
  one(io, syn);
  one(
    io,
    Frame.eth().ipv4({ src: RS4[0], dst: CLIENT4 }).tcp({ sport: 80, dport: 40000, flags: "SA" })
      .build(),
  );
  const iplen = syn.length - 14;
  assert.deepEqual(e.svcStats(s), {
    conns: 1,
    inPkts: 1,
    outPkts: 1,
    inBytes: iplen,
    outBytes: 40,
  });
  assert.deepEqual(e.destStats(d[0]), e.svcStats(s));
  assert.equal(e.counters()[C_IN_BYTES], iplen);
});

Deno.test("the layout publishes RX, TX and 2 × batch frame slots", () => {
  const e = createReferenceEngine(CONFIG);
  const io = new FrameIo(e);
  assert.equal(io.batch, CONFIG.batch);
  assert.ok(e.memory.byteLength >= io.frameOffset(2 * CONFIG.batch - 1) + 1920);
  assert.equal(e.kind, "ts");
});

Deno.test("incremental checksum updates agree with the naive full sum", () => {
  const bytes = Uint8Array.from({ length: 40 }, (_, i) => (i * 37 + 11) & 0xff);
  bytes[10] = bytes[11] = 0;
  const full = checksumNaive(bytes);
  bytes[10] = full >> 8;
  bytes[11] = full & 0xff;
  const dv = new DataView(bytes.buffer);
  const oldW = dv.getUint32(16, true);
  const old16 = dv.getUint16(22, true);
  dv.setUint32(16, 0xdeadbeef, true);
  dv.setUint16(22, 0x1234, true);
  const check = update(
    dv.getUint16(10, true),
    delta32(oldW, 0xdeadbeef) + delta16(old16, 0x1234),
  );
  dv.setUint16(10, 0, true);
  assert.equal(check, ((c) => ((c & 0xff) << 8) | (c >> 8))(checksumNaive(bytes)));
});
