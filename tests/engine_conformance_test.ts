// One conformance suite, run against every engine (STYLE G15, G19): rows of
// {description, frames in, expected verdict/reason and decoded output}.
// Expected values come from ARCHITECTURE.md and ipvs-data-plane.md, and the
// output is judged by tests/fixtures/decode.ts (full checksum recomputation).
import assert from "node:assert/strict";
import type { Engine } from "../host/engine/engine.ts";
import { FrameIo } from "../host/engine/frames.ts";
import {
  AF_INET,
  C_CONN_EXPIRED,
  C_CONN_NEW,
  C_CONN_REUSED,
  C_DROP,
  C_PASS,
  C_REASON_BASE,
  C_RX,
  C_TX,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NOOUTPUT,
  IP_VS_CONN_F_TUNNEL,
  R_BAD_IHL,
  R_BAD_IP_CSUM,
  R_BAD_IP_VERSION,
  R_BAD_TCP_DOFF,
  R_BAD_TOTLEN,
  R_BAD_UDP_LEN,
  R_FRAG_HELD,
  R_IP6_EXT_CHAIN,
  R_MTU_EXCEEDED,
  R_NO_NEIGH,
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
  TCP_S_CLOSE_WAIT,
  TCP_S_ESTABLISHED,
  TCP_S_SYN_RECV,
  TCP_S_TIME_WAIT,
  TCP_STATE_NAMES,
  V_DROP,
  V_PASS,
  V_TX,
} from "../host/engine/abi.gen.ts";
import { arpReply, Frame } from "./fixtures/packet_builder.ts";
import { checksumsOk, decode } from "./fixtures/decode.ts";
import {
  dest,
  DIRECTOR_MAC,
  ENGINES,
  GW_MAC,
  type Lab,
  RS4,
  RS6,
  RS_MAC,
  setupLab,
  SMALL_CONFIG,
  svc,
  VIP,
} from "./fixtures/lab.ts";

const T0 = 1_700_000_000_000_000; // µs
const SEC = 1_000_000;
const CLIENT = "198.18.0.10";
const CLIENT6 = "2001:2::10";

interface Ctx {
  e: Engine;
  io: FrameIo;
  lab: Lab;
}

async function lab(make: (typeof ENGINES)[number]): Promise<Ctx> {
  const e = await make.create(SMALL_CONFIG);
  return { e, io: new FrameIo(e), lab: setupLab(e) };
}

/** Sends one frame and returns its verdict, reason and the (single) output frame. */
function one(c: Ctx, frame: Uint8Array, now = T0, mark = 0) {
  const r = c.io.run([frame], now, 0, mark);
  return { verdict: r.verdicts[0], reason: r.reasons[0], out: r.tx[0]?.bytes, tx: r.tx };
}

/** A drop with `reason`; `icmp` frames (generated ICMP errors) may leave with it. */
function expectDrop(c: Ctx, frame: Uint8Array, reason: number, what: string, icmp = 0) {
  const r = one(c, frame);
  assert.equal(
    `${r.verdict}/${REASON_NAMES[r.reason]}`,
    `${V_DROP}/${REASON_NAMES[reason]}`,
    what,
  );
  assert.equal(r.tx.length, icmp);
}

const syn4 = (dst: string, dport: number, sport = 40000, src = CLIENT) =>
  Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC }).ipv4({ src, dst, df: true }).tcp({
    sport,
    dport,
    flags: "S",
  });

for (const make of ENGINES) {
  Deno.test(`[${make.name}] NAT: a client SYN is rewritten to the scheduled real server`, async () => {
    const c = await lab(make);
    const r = one(c, syn4(VIP.nat4, 80).build());
    assert.equal(r.verdict, V_TX);
    assert.equal(r.reason, R_NONE);
    const d = decode(r.out!);
    assert.equal(d.dstMac, RS_MAC[0]);
    assert.equal(d.srcMac, DIRECTOR_MAC);
    assert.equal(d.ip!.src, CLIENT);
    assert.equal(d.ip!.dst, RS4[0]);
    assert.equal(d.ip!.ttl, 63);
    assert.equal(d.ip!.l4!.sport, 40000);
    assert.equal(d.ip!.l4!.dport, 8080);
    assert.ok(checksumsOk(r.out!), "checksums verify from scratch");
    const conns = c.e.dumpConns();
    assert.equal(conns.length, 1);
    assert.equal(conns[0].state, TCP_S_SYN_RECV, TCP_STATE_NAMES[conns[0].state]);
    assert.equal(conns[0].flags & 7, IP_VS_CONN_F_MASQ);
    assert.equal(conns[0].flags & IP_VS_CONN_F_INACTIVE, 0, "SYN_RECV counts as active");
    assert.equal(conns[0].timeout, 60_000);
    assert.equal(c.e.counters()[C_CONN_NEW], 1);
  });

  Deno.test(`[${make.name}] NAT: a real-server reply is rewritten back to the VIP`, async () => {
    const c = await lab(make);
    one(c, syn4(VIP.nat4, 80).build());
    const reply = Frame.eth({ src: RS_MAC[0], dst: DIRECTOR_MAC }).ipv4({
      src: RS4[0],
      dst: CLIENT,
    })
      .tcp({ sport: 8080, dport: 40000, flags: "SA" }).payload("x").build();
    const r = one(c, reply, T0 + 1000);
    assert.equal(r.verdict, V_TX);
    const d = decode(r.out!);
    assert.equal(d.dstMac, GW_MAC, "client reached through the default route");
    assert.equal(d.ip!.src, VIP.nat4);
    assert.equal(d.ip!.l4!.sport, 80);
    assert.equal(d.ip!.dst, CLIENT);
    assert.ok(checksumsOk(r.out!));
    const st = c.e.svcStats(c.lab.svc.nat4tcp);
    assert.equal(st.inPkts, 1);
    assert.equal(st.outPkts, 1);
    assert.equal(st.outBytes, 20 + 20 + 1);
  });

  Deno.test(`[${make.name}] TCP states follow IPVS's table through a NAT connection`, async () => {
    const c = await lab(make);
    const cl = (flags: string) =>
      Frame.eth().ipv4({ src: CLIENT, dst: VIP.nat4 }).tcp({ sport: 40000, dport: 80, flags })
        .build();
    const rs = (flags: string) =>
      Frame.eth().ipv4({ src: RS4[0], dst: CLIENT }).tcp({ sport: 8080, dport: 40000, flags })
        .build();
    const state = () => c.e.dumpConns()[0].state;
    one(c, cl("S"));
    assert.equal(state(), TCP_S_SYN_RECV);
    one(c, rs("SA"));
    assert.equal(state(), TCP_S_SYN_RECV);
    one(c, cl("A"));
    assert.equal(state(), TCP_S_ESTABLISHED);
    const d = c.e.destList(c.lab.svc.nat4tcp)[0];
    assert.equal(c.e.destCounts(d).activeConns, 1);
    one(c, cl("FA"));
    assert.equal(state(), TCP_S_CLOSE_WAIT);
    one(c, rs("FA"));
    assert.equal(state(), TCP_S_TIME_WAIT);
    assert.equal(c.e.dumpConns()[0].timeout, 120_000);
    assert.equal(c.e.destCounts(d).activeConns, 0);
    assert.equal(c.e.destCounts(d).inactConns, 1);
  });

  Deno.test(`[${make.name}] a SYN reusing a TIME_WAIT entry is scheduled afresh`, async () => {
    const c = await lab(make);
    const cl = (flags: string) =>
      Frame.eth().ipv4({ src: CLIENT, dst: VIP.nat4 }).tcp({ sport: 40000, dport: 80, flags })
        .build();
    one(c, cl("S"));
    one(c, cl("A"));
    one(c, cl("FA"));
    one(
      c,
      Frame.eth().ipv4({ src: RS4[0], dst: CLIENT }).tcp({ sport: 8080, dport: 40000, flags: "FA" })
        .build(),
    );
    const r = one(c, cl("S"), T0 + SEC);
    assert.equal(r.verdict, V_TX);
    assert.equal(c.e.counters()[C_CONN_REUSED], 1);
    assert.equal(c.e.dumpConns()[0].state, TCP_S_SYN_RECV);
    assert.equal(decode(r.out!).ip!.dst, RS4[1], "rescheduled: wrr moves on to RS 2");
  });

  Deno.test(`[${make.name}] UDP with a zero checksum leaves NAT with a full checksum`, async () => {
    const c = await lab(make);
    const f = Frame.eth().ipv4({ src: CLIENT, dst: VIP.nat4 }).udp({
      sport: 5000,
      dport: 53,
      zeroChecksum: true,
    })
      .payload("query").build();
    const r = one(c, f);
    assert.equal(r.verdict, V_TX);
    const d = decode(r.out!);
    assert.equal(d.ip!.l4!.dport, 5353);
    assert.notEqual(d.ip!.l4!.checksumField, 0);
    assert.ok(checksumsOk(r.out!));
    assert.equal(c.e.dumpConns()[0].timeout, 300_000);
  });

  Deno.test(`[${make.name}] DR rewrites only the MAC addresses and the TTL`, async () => {
    const c = await lab(make);
    const f = syn4(VIP.dr4, 80).payload("abc").build();
    const r = one(c, f);
    assert.equal(r.verdict, V_TX);
    const d = decode(r.out!);
    assert.equal(d.dstMac, RS_MAC[0]);
    assert.equal(d.srcMac, DIRECTOR_MAC);
    assert.equal(d.ip!.dst, VIP.dr4);
    assert.equal(d.ip!.ttl, 63);
    assert.ok(checksumsOk(r.out!));
    assert.equal(r.out!.length, f.length);
    const conn = c.e.dumpConns()[0];
    assert.ok(conn.flags & IP_VS_CONN_F_NOOUTPUT);
    assert.equal(conn.state, TCP_S_SYN_RECV);
  });

  Deno.test(`[${make.name}] TUN encapsulates IPv4 in IPv4 with IPVS's outer header`, async () => {
    const c = await lab(make);
    const f = Frame.eth({ vlan: 42 }).ipv4({
      src: CLIENT,
      dst: VIP.tun4,
      df: true,
      tos: 0x2b,
      ttl: 20,
    })
      .tcp({ sport: 40000, dport: 80, flags: "S" }).build();
    const r = one(c, f);
    assert.equal(r.verdict, V_TX);
    assert.equal(r.out!.length, f.length + 20);
    const d = decode(r.out!);
    assert.equal(d.vlan, 42, "the VLAN tag is kept");
    assert.equal(d.dstMac, RS_MAC[0]);
    assert.equal(d.ip!.src, "198.18.0.254");
    assert.equal(d.ip!.dst, RS4[0]);
    assert.equal(d.ip!.proto, 4);
    assert.equal(d.ip!.ttl, 19, "outer TTL is the inner TTL after decrement");
    assert.ok(d.ip!.df, "DF copied from the inner header");
    assert.equal(d.ip!.tos, 0x2a, "ECN CE becomes ECT(0) outside");
    assert.equal(d.ip!.inner!.dst, VIP.tun4);
    assert.equal(d.ip!.inner!.ttl, 19);
    assert.equal(d.ip!.inner!.tos, 0x2b);
    assert.ok(checksumsOk(r.out!));
    assert.equal(c.e.dumpConns()[0].flags & 7, IP_VS_CONN_F_TUNNEL);
  });

  Deno.test(`[${make.name}] TUN encapsulates IPv6 in IPv6 (next header 41)`, async () => {
    const c = await lab(make);
    const f = Frame.eth().ipv6({ src: CLIENT6, dst: VIP.tun6 }).tcp({
      sport: 40000,
      dport: 80,
      flags: "S",
    })
      .build();
    const r = one(c, f);
    assert.equal(r.verdict, V_TX);
    const d = decode(r.out!);
    assert.equal(d.ethType, 0x86dd);
    assert.equal(d.ip!.src, "2001:2::fe");
    assert.equal(d.ip!.dst, RS6[0]);
    assert.equal(d.ip!.proto, 41);
    assert.equal(d.ip!.ttl, 63);
    assert.equal(d.ip!.inner!.dst, VIP.tun6);
    assert.ok(checksumsOk(r.out!));
  });

  Deno.test(`[${make.name}] IPv6 NAT rewrites address and port with valid checksums`, async () => {
    const c = await lab(make);
    const f = Frame.eth().ipv6({ src: CLIENT6, dst: VIP.nat6 }).tcp({
      sport: 40001,
      dport: 80,
      flags: "S",
    })
      .build();
    const r = one(c, f);
    assert.equal(r.verdict, V_TX);
    const d = decode(r.out!);
    assert.equal(d.ip!.dst, RS6[0]);
    assert.equal(d.ip!.l4!.dport, 8080);
    assert.equal(d.ip!.ttl, 63);
    assert.ok(checksumsOk(r.out!));
    const back = Frame.eth().ipv6({ src: RS6[0], dst: CLIENT6 }).tcp({
      sport: 8080,
      dport: 40001,
      flags: "SA",
    })
      .build();
    const r2 = one(c, back);
    const d2 = decode(r2.out!);
    assert.equal(d2.ip!.src, VIP.nat6);
    assert.equal(d2.ip!.l4!.sport, 80);
    assert.ok(checksumsOk(r2.out!));
  });

  // Built line by line, the service's cw is 1 when the first SYN comes (spec
  // clarification: each added dest runs wrr's update rule), so the first lap
  // is A B C; from then on weights 3:2:1 give A A B A B C.
  Deno.test(`[${make.name}] wrr schedules 3:2:1 as A B C, then A A B A B C`, async () => {
    const c = await lab(make);
    const picks: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = one(c, syn4(VIP.nat4, 80, 30000 + i).build());
      picks.push(decode(r.out!).ip!.dst);
    }
    const n = (a: string) => "ABC"[RS4.indexOf(a)];
    assert.equal(picks.map(n).join(""), "ABCAABABCAAB");
  });

  Deno.test(`[${make.name}] wlc prefers the least loaded real server by weight`, async () => {
    const c = await lab(make);
    const picks: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = one(c, syn4(VIP.dr4, 80, 30000 + i).build());
      picks.push("ABC"[RS_MAC.indexOf(decode(r.out!).dstMac)]);
    }
    assert.equal(picks.join(""), "ABCAB");
  });

  Deno.test(`[${make.name}] rr walks the list and skips weight-0 real servers`, async () => {
    const c = await lab(make);
    const s = c.e.addService(svc(AF_INET, 6, "198.18.100.7", 80, SCHED_RR));
    const ds = RS4.map((a) => c.e.addDest(s, dest(AF_INET, a, 80, IP_VS_CONN_F_MASQ, 1)));
    // List order is newest first: RS3, RS2, RS1. Quiesce RS2.
    assert.ok(c.e.editDest(ds[1], dest(AF_INET, RS4[1], 80, IP_VS_CONN_F_MASQ, 0)) >= 0);
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) {
      picks.push(decode(one(c, syn4("198.18.100.7", 80, 20000 + i).build()).out!).ip!.dst);
    }
    assert.deepEqual(picks, [RS4[2], RS4[0], RS4[2], RS4[0]]);
  });

  Deno.test(`[${make.name}] a firewall-mark service keeps the client's port`, async () => {
    const c = await lab(make);
    const r = one(c, syn4("198.18.100.9", 443).build(), T0, 7);
    assert.equal(r.verdict, V_TX);
    const d = decode(r.out!);
    assert.equal(d.ip!.dst, RS4[0]);
    assert.equal(d.ip!.l4!.dport, 443);
  });

  Deno.test(`[${make.name}] frames that are not ours are passed with a reason`, async () => {
    const c = await lab(make);
    const cases: [string, Uint8Array, number][] = [
      ["ARP", arpReply("02:00:00:00:00:33", "198.18.0.33"), R_NOT_IP],
      ["802.1ad", Frame.eth({ type: 0x88a8 }).payload(new Uint8Array(46)).build(), R_NOT_IP],
      ["no service", syn4(VIP.nat4, 81).build(), R_NOT_VIP],
      [
        "ACK without entry",
        Frame.eth().ipv4({ src: CLIENT, dst: VIP.nat4 }).tcp({ sport: 1, dport: 80, flags: "A" })
          .build(),
        R_TCP_NO_SYN,
      ],
      [
        "RST without entry",
        Frame.eth().ipv4({ src: CLIENT, dst: VIP.nat4 }).tcp({ sport: 1, dport: 80, flags: "R" })
          .build(),
        R_TCP_NO_SYN,
      ],
      [
        "ICMP echo",
        Frame.eth().ipv4({ src: CLIENT, dst: VIP.nat4 }).raw(
          1,
          new Uint8Array([8, 0, 0xf7, 0xfe, 0, 1, 0, 0]),
        ).build(),
        R_NOT_L4,
      ],
    ];
    for (const [what, f, reason] of cases) {
      const r = one(c, f);
      assert.equal(
        `${r.verdict}/${REASON_NAMES[r.reason]}`,
        `${V_PASS}/${REASON_NAMES[reason]}`,
        what,
      );
    }
    assert.equal(c.e.counters()[C_PASS], cases.length);
    assert.equal(c.e.counters()[C_REASON_BASE + R_NOT_IP], 2);
  });

  Deno.test(`[${make.name}] malformed frames are counted drops with named reasons`, async () => {
    const c = await lab(make);
    const good = syn4(VIP.nat4, 80).build();
    const mut = (f: (b: Uint8Array) => void) => {
      const b = good.slice();
      f(b);
      return b;
    };
    expectDrop(c, good.slice(0, 10), R_TRUNC_L2, "short Ethernet");
    expectDrop(c, Frame.eth({ vlan: 3 }).build().slice(0, 16), R_TRUNC_L2, "short VLAN tag");
    expectDrop(c, good.slice(0, 14 + 19), R_TRUNC_L3, "short IPv4");
    expectDrop(c, mut((b) => b[14] = 0x55), R_BAD_IP_VERSION, "IPv4 ethertype, version 5");
    expectDrop(c, mut((b) => b[14] = 0x44), R_BAD_IHL, "IHL 4");
    expectDrop(c, mut((b) => b[14] = 0x4f), R_BAD_IHL, "IHL beyond the frame");
    expectDrop(c, mut((b) => (b[16] = 0xff, b[17] = 0xff)), R_BAD_TOTLEN, "total length lies");
    expectDrop(c, mut((b) => b[24] ^= 1), R_BAD_IP_CSUM, "bad header checksum");
    expectDrop(c, good.slice(0, 14 + 20 + 10), R_BAD_TOTLEN, "frame shorter than total length");
    expectDrop(
      c,
      Frame.eth().ipv4({ src: CLIENT, dst: VIP.nat4 }).raw(6, new Uint8Array(12)).build(),
      R_TRUNC_L4,
      "TCP header cut",
    );
    expectDrop(c, mut((b) => b[14 + 20 + 12] = 0x40), R_BAD_TCP_DOFF, "data offset 4");
    expectDrop(
      c,
      Frame.eth().ipv4({ src: CLIENT, dst: VIP.nat4 }).raw(
        17,
        new Uint8Array([0, 1, 0, 53, 0, 4, 0, 0]),
      ).build(),
      R_BAD_UDP_LEN,
      "UDP length 4",
    );
    // Issue 7: fragments are tracked (tests/edges_frag_test.ts); a later fragment whose first
    // one has not come is held (frag_held), an IPv6 fragment header with offset 0 and M clear
    // is no fragment at all (RFC 6946).
    expectDrop(
      c,
      Frame.eth().ipv4({ src: CLIENT, dst: VIP.nat4, fragOff: 8, protocol: 6 }).payload(
        new Uint8Array(8),
      ).build(),
      R_FRAG_HELD,
      "IPv4 later fragment",
    );
    const frag6 = Frame.eth().ipv6({ src: CLIENT6, dst: VIP.nat6, ext: [{ type: 44 }] }).udp({
      sport: 1,
      dport: 53,
    }).build();
    frag6[14 + 40 + 3] = 0x08; // offset 8 bytes (in units of 8: 1)
    expectDrop(c, frag6, R_FRAG_HELD, "IPv6 later fragment");
    const chain = Array.from({ length: 9 }, () => ({ type: 60, len: 8 }));
    expectDrop(
      c,
      Frame.eth().ipv6({ src: CLIENT6, dst: VIP.nat6, ext: chain }).tcp({
        sport: 1,
        dport: 80,
        flags: "S",
      }).build(),
      R_IP6_EXT_CHAIN,
      "nine extension headers",
    );
    const overrun = Frame.eth().ipv6({ src: CLIENT6, dst: VIP.nat6, ext: [{ type: 0, len: 8 }] })
      .tcp({ sport: 1, dport: 80, flags: "S" }).build();
    overrun[14 + 40 + 1] = 200; // hop-by-hop claims 1608 bytes
    expectDrop(c, overrun, R_IP6_EXT_CHAIN, "extension header overrunning the payload");
    const v6 = Frame.eth().ipv6({ src: CLIENT6, dst: VIP.nat6 }).tcp({
      sport: 1,
      dport: 80,
      flags: "S",
    }).build();
    v6[14 + 4] = 0x7f;
    expectDrop(c, v6, R_BAD_TOTLEN, "IPv6 payload length lies");
    expectDrop(c, v6.slice(0, 14 + 39), R_TRUNC_L3, "short IPv6");
    const cnt = c.e.counters();
    assert.equal(cnt[C_DROP], cnt[C_RX]);
    assert.equal(cnt[C_TX], 0);
    assert.equal(c.e.dumpConns().length, 0, "no malformed frame creates a connection");
  });

  Deno.test(`[${make.name}] IPv6 extension headers are walked to reach TCP`, async () => {
    const c = await lab(make);
    const f = Frame.eth().ipv6({
      src: CLIENT6,
      dst: VIP.nat6,
      ext: [{ type: 0, len: 8 }, { type: 60, len: 16 }],
    })
      .tcp({ sport: 1234, dport: 80, flags: "S" }).build();
    const r = one(c, f);
    assert.equal(r.verdict, V_TX);
    assert.equal(decode(r.out!).ip!.l4!.dport, 8080);
    assert.ok(checksumsOk(r.out!));
  });

  Deno.test(`[${make.name}] TTL 1 is dropped as ttl_exceeded, DF beyond the tunnel MTU as mtu_exceeded`, async () => {
    const c = await lab(make);
    const f = Frame.eth().ipv4({ src: CLIENT, dst: VIP.nat4, ttl: 1 }).tcp({
      sport: 9,
      dport: 80,
      flags: "S",
    }).build();
    // Each drop sends the client an ICMP error (issue 7; tests/edges_conformance_test.ts).
    expectDrop(c, f, R_TTL_EXCEEDED, "TTL 1", 1);
    const big = Frame.eth().ipv4({ src: CLIENT, dst: VIP.tun4, df: true }).tcp({
      sport: 9,
      dport: 80,
      flags: "S",
    })
      .payload(new Uint8Array(1460)).build();
    expectDrop(c, big, R_MTU_EXCEEDED, "1500-byte DF packet into a 1480-byte tunnel", 1);
    const fits = Frame.eth().ipv4({ src: CLIENT, dst: VIP.tun4, df: true }).tcp({
      sport: 10,
      dport: 80,
      flags: "S",
    })
      .payload(new Uint8Array(1440)).build();
    assert.equal(one(c, fits).verdict, V_TX);
  });

  Deno.test(`[${make.name}] without a neighbour or default route the frame is dropped as no_neigh`, async () => {
    const e = await make.create(SMALL_CONFIG);
    const io = new FrameIo(e);
    e.setPort(0, { mac: new Uint8Array([2, 0, 0, 0, 0, 0xfe]), mtu: 1500 });
    const s = e.addService(svc(AF_INET, 6, VIP.nat4, 80, SCHED_RR));
    e.addDest(s, dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_MASQ, 1));
    const r = io.run([syn4(VIP.nat4, 80).build()], T0);
    assert.equal(r.verdicts[0], V_DROP);
    assert.equal(r.reasons[0], R_NO_NEIGH);
  });

  Deno.test(`[${make.name}] idle connections expire after their state's timeout`, async () => {
    const c = await lab(make);
    one(c, syn4(VIP.nat4, 80).build());
    one(c, Frame.eth().ipv4({ src: CLIENT, dst: VIP.nat4 }).udp({ sport: 7, dport: 53 }).build());
    assert.equal(c.e.expire(T0 + 59 * SEC), 0);
    assert.equal(c.e.expire(T0 + 60 * SEC), 1, "SYN_RECV expires after 60 s");
    assert.equal(c.e.dumpConns().length, 1);
    assert.equal(c.e.expire(T0 + 300 * SEC), 1, "UDP expires after 300 s");
    assert.equal(c.e.counters()[C_CONN_EXPIRED], 2);
    for (const d of c.e.destList(c.lab.svc.nat4tcp)) {
      const k = c.e.destCounts(d);
      assert.equal(k.activeConns + k.inactConns, 0);
    }
  });

  Deno.test(`[${make.name}] --set timeouts apply to new state transitions`, async () => {
    const c = await lab(make);
    c.e.setTimeouts(100, 0, 7);
    assert.equal(c.e.timeouts()[1], 100);
    one(c, Frame.eth().ipv4({ src: CLIENT, dst: VIP.nat4 }).udp({ sport: 7, dport: 53 }).build());
    assert.equal(c.e.dumpConns()[0].timeout, 7000);
    assert.equal(c.e.expire(T0 + 7 * SEC), 1);
  });

  Deno.test(`[${make.name}] a removed real server's connections are dropped, new ones go elsewhere`, async () => {
    const c = await lab(make);
    const cl = (flags: string) =>
      Frame.eth().ipv4({ src: CLIENT, dst: VIP.nat4 }).tcp({ sport: 40000, dport: 80, flags })
        .build();
    one(c, cl("S"));
    const d0 = c.e.destList(c.lab.svc.nat4tcp)[0];
    assert.equal(c.e.delDest(d0), 0);
    assert.equal(c.e.destList(c.lab.svc.nat4tcp).length, 2);
    const r = one(c, cl("A"));
    assert.equal(r.verdict, V_DROP);
    assert.equal(REASON_NAMES[r.reason], "dest_unavailable");
    const n = one(c, syn4(VIP.nat4, 80, 40001).build());
    assert.equal(decode(n.out!).ip!.dst, RS4[1]);
  });

  Deno.test(`[${make.name}] the upper threshold sets OVERLOAD and the scheduler skips it`, async () => {
    const c = await lab(make);
    const s = c.lab.svc.dr4tcp;
    const [a] = c.e.destList(s);
    assert.ok(c.e.editDest(a, dest(AF_INET, RS4[0], 80, 3, 3, { uThreshold: 1 })) >= 0);
    const first = one(c, syn4(VIP.dr4, 80, 1).build());
    assert.equal(decode(first.out!).dstMac, RS_MAC[0]);
    assert.ok(c.e.destCounts(a).flags & 2, "OVERLOAD set at total >= u");
    const second = one(c, syn4(VIP.dr4, 80, 2).build());
    assert.notEqual(decode(second.out!).dstMac, RS_MAC[0]);
  });
}
