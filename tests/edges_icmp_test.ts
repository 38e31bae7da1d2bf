// Issue 7, ICMP: table rows run through both engines. Errors about a connection are relayed
// in both directions with the quoted packet NATed and every checksum valid (judged from
// scratch by tests/fixtures/icmp_builder.ts); the engines generate port unreachable, time
// exceeded, fragmentation needed / packet too big with the right MTU, and fragment IPv4
// without DF. Spec: ipvs-data-plane.md §4.6, §4.7, §1.0; ARCHITECTURE.md issue 7 decisions.
import assert from "node:assert/strict";
import { FrameIo } from "../host/engine/frames.ts";
import {
  AF_INET,
  AF_INET6,
  C_ICMP_SENT,
  C_ICMP_SUPPRESSED,
  C_IN_PKTS,
  C_OUT_PKTS,
  C_PMTU_LEARNED,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  REASON_NAMES,
  SCHED_RR,
  SYS_ICMP_MSGS_BURST,
  SYS_ICMP_MSGS_PER_SEC,
  SYS_PMTU_DISC,
  V_DROP,
  V_PASS,
  V_TX,
} from "../host/engine/abi.gen.ts";
import { checksum, Frame, ipBytes } from "./fixtures/packet_builder.ts";
import { checksumsOk, decode } from "./fixtures/decode.ts";
import {
  decodeIcmpError,
  echoRequest,
  ICMP,
  ICMP6,
  icmpError,
  ipOf,
} from "./fixtures/icmp_builder.ts";
import {
  dest,
  DIRECTOR_MAC,
  ENGINES,
  GW_MAC,
  RS4,
  RS6,
  RS_MAC,
  setupLab,
  SMALL_CONFIG,
  svc,
  VIP,
} from "./fixtures/lab.ts";

const T0 = 1_700_000_000_000_000;
const CL4 = "198.18.0.10";
const CL6 = "2001:2::10";
const PORT4 = "198.18.0.254";
const PORT6 = "2001:2::fe";
const ROUTER4 = "198.18.0.77";
const ROUTER6 = "2001:2::77";

async function lab(make: (typeof ENGINES)[number]) {
  const e = await make.create(SMALL_CONFIG);
  const l = setupLab(e);
  const io = new FrameIo(e);
  let now = T0;
  const run = (f: Uint8Array) => {
    now += 1000;
    const r = io.run([f], now);
    return { verdict: r.verdicts[0], why: REASON_NAMES[r.reasons[0]], tx: r.tx };
  };
  return { e, lab: l, io, run };
}

const v6 = (a: string) => a.includes(":");
const eth = (src = GW_MAC) => Frame.eth({ src, dst: DIRECTOR_MAC });
const ipTo = (f: Frame, src: string, dst: string, o: { ttl?: number; df?: boolean } = {}) =>
  v6(src)
    ? f.ipv6({ src, dst, hopLimit: o.ttl ?? 64 })
    : f.ipv4({ src, dst, ttl: o.ttl ?? 64, df: o.df });

/** A client SYN to `vip`:80 from `cl`:`sport`. */
const syn = (cl: string, vip: string, sport: number, o: { ttl?: number; df?: boolean } = {}) =>
  ipTo(eth(), cl, vip, o).tcp({ sport, dport: 80, flags: "S", seq: 1000 }).build();

// ---- Generated errors ------------------------------------------------------------------

interface GenRow {
  what: string;
  /** Sets the lab up, then returns the offending frame. */
  frame: (e: Awaited<ReturnType<typeof lab>>) => Uint8Array;
  reason: string;
  type: number;
  code: number;
  info: number;
  /** Outer source and destination of the error. */
  from: string;
  to: string;
}

const GEN: GenRow[] = [
  {
    what: "TTL 1 to a NAT VIP: time exceeded from the VIP",
    frame: () => syn(CL4, VIP.nat4, 4001, { ttl: 1 }),
    reason: "ttl_exceeded",
    type: ICMP.TIME_EXCEEDED,
    code: 0,
    info: 0,
    from: VIP.nat4,
    to: CL4,
  },
  {
    what: "hop limit 1 to an IPv6 DR VIP: ICMPv6 time exceeded from the VIP",
    frame: () => syn(CL6, VIP.dr6, 4002, { ttl: 1 }),
    reason: "ttl_exceeded",
    type: ICMP6.TIME_EXCEED,
    code: 0,
    info: 0,
    from: VIP.dr6,
    to: CL6,
  },
  {
    what: "DF 1500 bytes into an IPv4 tunnel: fragmentation needed, MTU 1480",
    frame: () =>
      ipTo(eth(), CL4, VIP.tun4, { df: true }).tcp({ sport: 4003, dport: 80, flags: "S" }).payload(
        new Uint8Array(1460),
      ).build(),
    reason: "mtu_exceeded",
    type: ICMP.DEST_UNREACH,
    code: ICMP.FRAG_NEEDED,
    info: 1480,
    from: VIP.tun4,
    to: CL4,
  },
  {
    what: "IPv6 1500 bytes into an IPv6 tunnel: packet too big, MTU 1460",
    frame: () =>
      ipTo(eth(), CL6, VIP.tun6).tcp({ sport: 4004, dport: 80, flags: "S" }).payload(
        new Uint8Array(1440),
      ).build(),
    reason: "mtu_exceeded",
    type: ICMP6.PKT_TOOBIG,
    code: 0,
    info: 1460,
    from: VIP.tun6,
    to: CL6,
  },
  {
    what: "DF over the port MTU through NAT: fragmentation needed, MTU 1500",
    frame: () =>
      ipTo(eth(), CL4, VIP.nat4, { df: true }).tcp({ sport: 4005, dport: 80, flags: "S" }).payload(
        new Uint8Array(1500),
      ).build(),
    reason: "mtu_exceeded",
    type: ICMP.DEST_UNREACH,
    code: ICMP.FRAG_NEEDED,
    info: 1500,
    from: VIP.nat4,
    to: CL4,
  },
  {
    what: "no real server with weight > 0: port unreachable from the VIP",
    frame: (c) => {
      for (const d of c.e.destList(c.lab.svc.nat4tcp)) {
        c.e.editDest(d, { ...c.lab.dests.get(d)!.spec, weight: 0 });
      }
      return syn(CL4, VIP.nat4, 4006);
    },
    reason: "no_dest",
    type: ICMP.DEST_UNREACH,
    code: ICMP.PORT_UNREACH,
    info: 0,
    from: VIP.nat4,
    to: CL4,
  },
  {
    what: "no real server, IPv6: ICMPv6 port unreachable",
    frame: (c) => {
      for (const d of c.e.destList(c.lab.svc.nat6tcp)) {
        c.e.editDest(d, { ...c.lab.dests.get(d)!.spec, weight: 0 });
      }
      return syn(CL6, VIP.nat6, 4007);
    },
    reason: "no_dest",
    type: ICMP6.DEST_UNREACH,
    code: ICMP6.PORT_UNREACH,
    info: 0,
    from: VIP.nat6,
    to: CL6,
  },
  {
    what: "a NAT reply with TTL 1: time exceeded to the real server from the port address",
    frame: (c) => {
      c.run(syn(CL4, VIP.nat4, 4008));
      return ipTo(eth(RS_MAC[0]), RS4[0], CL4, { ttl: 1 }).tcp({
        sport: 8080,
        dport: 4008,
        flags: "SA",
      }).build();
    },
    reason: "ttl_exceeded",
    type: ICMP.TIME_EXCEEDED,
    code: 0,
    info: 0,
    from: PORT4,
    to: RS4[0],
  },
  {
    what: "an IPv6 NAT reply with hop limit 1: from the port's IPv6 address",
    frame: (c) => {
      c.run(syn(CL6, VIP.nat6, 4009));
      const rs = decode(c.run(syn(CL6, VIP.nat6, 4010)).tx[0].bytes).ip!.dst;
      return ipTo(eth(RS_MAC[0]), rs, CL6, { ttl: 1 }).tcp({
        sport: 8080,
        dport: 4010,
        flags: "SA",
      }).build();
    },
    reason: "ttl_exceeded",
    type: ICMP6.TIME_EXCEED,
    code: 0,
    info: 0,
    from: PORT6,
    to: "rs6",
  },
];

for (const make of ENGINES) {
  for (const row of GEN) {
    Deno.test(`[${make.name}] ICMP generated: ${row.what}`, async () => {
      const c = await lab(make);
      const f = row.frame(c);
      const r = c.run(f);
      assert.equal(`${r.verdict}/${r.why}`, `${V_DROP}/${row.reason}`);
      assert.equal(r.tx.length, 1, "one ICMP error leaves");
      const out = r.tx[0].bytes;
      const d = decodeIcmpError(out)!;
      assert.ok(d, "an ICMP error");
      assert.equal(d.type, row.type);
      assert.equal(d.code, row.code);
      assert.equal(d.info, row.info);
      assert.equal(d.outer.src, row.from);
      if (row.to !== "rs6") assert.equal(d.outer.dst, row.to);
      else assert.ok(RS6.includes(d.outer.dst));
      assert.equal(d.outer.ttl, 64);
      assert.ok(d.outer.headerOk, "outer header checksum");
      assert.ok(d.checksumOk, "ICMP checksum");
      const dm = decode(out);
      assert.equal(dm.srcMac, DIRECTOR_MAC);
      // The quote is the offending packet as it arrived (576 / 1280 bytes at most in all).
      const orig = ipOf(f);
      assert.deepEqual(d.quote, orig.subarray(0, d.quote.length));
      assert.equal(
        d.outer.totalLen,
        Math.min(
          d.outer.version === 4 ? 576 : 1280,
          (d.outer.version === 4 ? 28 : 48) + orig.length,
        ),
      );
      if (d.outer.version === 4) assert.equal(d.outer.tos, 0xc0);
      assert.equal(c.e.counters()[C_ICMP_SENT], 1);
    });
  }

  Deno.test(`[${make.name}] ICMP generation is rate-limited by icmp_msgs_per_sec and icmp_msgs_burst`, async () => {
    const c = await lab(make);
    c.e.setSysctl(SYS_ICMP_MSGS_PER_SEC, 2);
    c.e.setSysctl(SYS_ICMP_MSGS_BURST, 3);
    const now = T0 + 10_000_000;
    const frames = Array.from({ length: 6 }, (_, i) => syn(CL4, VIP.nat4, 5000 + i, { ttl: 1 }));
    // The bucket starts full (3), so 3 of 6 go out; 500 ms later one more token (2/s).
    assert.equal(c.io.run(frames, now).tx.length, 3);
    assert.equal(c.io.run(frames.slice(0, 2), now + 499_000).tx.length, 0);
    assert.equal(c.io.run(frames.slice(0, 2), now + 500_000).tx.length, 1);
    const k = c.e.counters();
    assert.equal(k[C_ICMP_SENT], 4);
    assert.equal(k[C_ICMP_SUPPRESSED], 6);
    c.e.setSysctl(SYS_ICMP_MSGS_PER_SEC, 0); // no limit
    assert.equal(c.io.run(frames, now + 600_000).tx.length, 6);
  });

  Deno.test(`[${make.name}] no ICMP error to a source that is not a unicast host`, async () => {
    const c = await lab(make);
    for (const src of ["0.0.0.0", "127.0.0.1", "224.0.0.9", "255.255.255.255"]) {
      const r = c.run(syn(src, VIP.nat4, 6000, { ttl: 1 }));
      assert.equal(r.why, "ttl_exceeded", src);
      assert.equal(r.tx.length, 0, src);
    }
    for (const src of ["::", "::1", "ff02::1"]) {
      assert.equal(c.run(syn(src, VIP.nat6, 6000, { ttl: 1 })).tx.length, 0, src);
    }
    assert.equal(c.e.counters()[C_ICMP_SUPPRESSED], 7);
  });

  Deno.test(`[${make.name}] IPv4 without DF over the MTU leaves in two fragments (NAT and tunnel)`, async () => {
    const c = await lab(make);
    for (const [vip, extra] of [[VIP.nat4, 0], [VIP.tun4, 20]] as const) {
      const f = ipTo(eth(), CL4, vip).tcp({ sport: 7000, dport: 80, flags: "S" }).payload(
        Uint8Array.from({ length: 1600 }, (_, i) => i * 13),
      ).build();
      const r = c.run(f);
      assert.equal(r.verdict, V_TX, vip);
      assert.equal(r.tx.length, 2, vip);
      const [a, b] = r.tx.map((t) => ipOf(t.bytes));
      assert.ok(a.length <= 1500 && b.length <= 1500);
      const h = (p: Uint8Array) => ({
        mf: (p[6] & 0x20) !== 0,
        off: ((p[6] & 0x1f) << 8 | p[7]) * 8,
        id: p[4] << 8 | p[5],
      });
      assert.deepEqual([h(a).mf, h(a).off, h(b).mf, h(b).off], [true, 0, false, 1480]);
      assert.equal(h(a).id, h(b).id);
      assert.equal(checksum(a.subarray(0, 20)), 0);
      assert.equal(checksum(b.subarray(0, 20)), 0);
      // Reassembled, the payload is the forwarded packet (NAT: rewritten; TUN: the inner one).
      const whole = new Uint8Array([...a.subarray(20), ...b.subarray(20)]);
      assert.equal(whole.length, ipOf(f).length - 20 + extra);
      if (extra) {
        assert.deepEqual(whole.subarray(20), ipOf(f).subarray(20)); // inner L4 untouched
        assert.equal(a[9], 4, "IPIP outer fragment");
      } else {
        const ip = new Uint8Array([...a.subarray(0, 20), ...whole]);
        ip[2] = ip.length >> 8, ip[3] = ip.length & 0xff, ip[6] = 0, ip[7] = 0;
        ip[10] = 0, ip[11] = 0;
        const cs = checksum(ip.subarray(0, 20));
        ip[10] = cs >> 8, ip[11] = cs & 0xff;
        assert.ok(
          checksumsOk(new Uint8Array([...r.tx[0].bytes.subarray(0, 14), ...ip])),
          "reassembled NAT packet",
        );
      }
    }
    c.e.setSysctl(SYS_PMTU_DISC, 0); // IPv4 tunnel: no MTU check, DF or not: fragments
    const df = ipTo(eth(), CL4, VIP.tun4, { df: true }).tcp({ sport: 7001, dport: 80, flags: "S" })
      .payload(new Uint8Array(1480)).build();
    assert.equal(c.run(df).tx.length, 2);
  });
}

// ---- Relayed errors --------------------------------------------------------------------

for (const make of ENGINES) {
  for (const af of [4, 6] as const) {
    const cl = af === 4 ? CL4 : CL6;
    const router = af === 4 ? ROUTER4 : ROUTER6;
    const nat = af === 4 ? VIP.nat4 : VIP.nat6;
    const unreach = af === 4 ? ICMP.DEST_UNREACH : ICMP6.DEST_UNREACH;
    const code = af === 4 ? 1 : 3; // host unreachable / address unreachable

    Deno.test(`[${make.name}] IPv${af} NAT: an error from the client side goes to the real server, quote NATed back`, async () => {
      const c = await lab(make);
      const s = c.run(syn(cl, nat, 40001));
      const rs = decode(s.tx[0].bytes).ip!.dst;
      // The real server's SYN+ACK leaves from the VIP; a router near the client refuses it.
      const reply = c.run(
        ipTo(eth(RS_MAC[0]), rs, cl).tcp({
          sport: 8080,
          dport: 40001,
          flags: "SA",
          seq: 9,
          ack: 1001,
        }).build(),
      );
      const sent = ipOf(reply.tx[0].bytes);
      const before = c.e.dumpConns();
      const k0 = c.e.counters();
      const err = icmpError({ src: router, dst: nat, type: unreach, code, quote: sent, ttl: 30 });
      const r = c.run(err);
      assert.equal(`${r.verdict}/${r.why}`, `${V_TX}/none`);
      const d = decodeIcmpError(r.tx[0].bytes)!;
      assert.equal(
        decode(r.tx[0].bytes).dstMac,
        RS_MAC[RS4.indexOf(rs) >= 0 ? RS4.indexOf(rs) : RS6.indexOf(rs)],
      );
      assert.deepEqual([d.outer.src, d.outer.dst, d.outer.ttl], [router, rs, 29]);
      assert.deepEqual([d.type, d.code], [unreach, code]);
      assert.ok(d.checksumOk && d.outer.headerOk && d.inner.headerOk, "checksums");
      assert.deepEqual([d.inner.src, d.inner.sport, d.inner.dst, d.inner.dport], [
        rs,
        8080,
        cl,
        40001,
      ]);
      // The whole segment was quoted, so its TCP checksum is checked too: it is the one the
      // real server sent.
      const orig = ipTo(eth(RS_MAC[0]), rs, cl).tcp({
        sport: 8080,
        dport: 40001,
        flags: "SA",
        seq: 9,
        ack: 1001,
      }).build();
      const o = ipOf(orig);
      assert.deepEqual(d.quote.subarray(af === 4 ? 20 : 40), o.subarray(af === 4 ? 20 : 40));
      // Counted as an in packet; the entry's state and timer are untouched.
      const k = c.e.counters();
      assert.equal(k[C_IN_PKTS] - k0[C_IN_PKTS], 1);
      assert.deepEqual(c.e.dumpConns(), before);
    });

    Deno.test(`[${make.name}] IPv${af} NAT: an error from the real server's side goes to the client from the VIP`, async () => {
      const c = await lab(make);
      const s = c.run(syn(cl, nat, 40002));
      const toRs = ipOf(s.tx[0].bytes);
      const rs = decode(s.tx[0].bytes).ip!.dst;
      const k0 = c.e.counters();
      const err = icmpError({
        src: rs,
        dst: cl,
        type: af === 4 ? ICMP.DEST_UNREACH : ICMP6.DEST_UNREACH,
        code: af === 4 ? ICMP.PORT_UNREACH : ICMP6.PORT_UNREACH,
        quote: toRs,
        quoteLen: (af === 4 ? 20 : 40) + 8,
        ethSrc: RS_MAC[0],
      });
      const r = c.run(err);
      assert.equal(`${r.verdict}/${r.why}`, `${V_TX}/none`);
      const d = decodeIcmpError(r.tx[0].bytes)!;
      assert.equal(decode(r.tx[0].bytes).dstMac, GW_MAC);
      assert.deepEqual([d.outer.src, d.outer.dst], [nat, cl]);
      assert.ok(d.checksumOk && d.outer.headerOk && d.inner.headerOk, "checksums");
      assert.deepEqual([d.inner.src, d.inner.sport, d.inner.dst, d.inner.dport], [
        cl,
        40002,
        nat,
        80,
      ]);
      assert.equal(c.e.counters()[C_OUT_PKTS] - k0[C_OUT_PKTS], 1);
    });
  }

  Deno.test(`[${make.name}] DR and TUN: a client-side error goes to the real server by the entry's method`, async () => {
    const c = await lab(make);
    c.run(syn(CL4, VIP.dr4, 41000));
    c.run(syn(CL4, VIP.tun4, 41001));
    // The real server answered the client directly from the VIP; a router says the path is smaller.
    const dr = ipTo(eth(), VIP.dr4, CL4, { df: true }).tcp({ sport: 80, dport: 41000, flags: "SA" })
      .build();
    const err = icmpError({
      src: ROUTER4,
      dst: VIP.dr4,
      type: ICMP.DEST_UNREACH,
      code: ICMP.FRAG_NEEDED,
      info: 1400,
      quote: ipOf(dr),
    });
    const r = c.run(err);
    assert.equal(r.verdict, V_TX);
    const out = decode(r.tx[0].bytes);
    assert.equal(out.dstMac, RS_MAC[0]);
    const d = decodeIcmpError(r.tx[0].bytes)!;
    assert.deepEqual([d.outer.src, d.outer.dst, d.info], [ROUTER4, VIP.dr4, 1400]);
    assert.deepEqual(d.quote, ipOf(dr), "quote unchanged");
    const tun = ipTo(eth(), VIP.tun4, CL4).tcp({ sport: 80, dport: 41001, flags: "SA" }).build();
    const t = c.run(
      icmpError({
        src: ROUTER4,
        dst: VIP.tun4,
        type: ICMP.TIME_EXCEEDED,
        code: 0,
        quote: ipOf(tun),
      }),
    );
    assert.equal(t.verdict, V_TX);
    const o = decode(t.tx[0].bytes).ip!;
    assert.equal(o.proto, 4, "IPIP");
    assert.equal(o.dst, RS4[0]);
    const inner = decodeIcmpError(
      new Uint8Array([...t.tx[0].bytes.subarray(0, 14), ...ipOf(t.tx[0].bytes).subarray(20)]),
    )!;
    assert.deepEqual([inner.outer.src, inner.outer.dst, inner.type], [
      ROUTER4,
      VIP.tun4,
      ICMP.TIME_EXCEEDED,
    ]);
  });

  Deno.test(`[${make.name}] ICMP that is not ours is passed, broken errors are dropped`, async () => {
    const c = await lab(make);
    const s = c.run(syn(CL4, VIP.nat4, 42000));
    const rs = decode(s.tx[0].bytes).ip!.dst;
    const reply = ipOf(
      c.run(ipTo(eth(RS_MAC[0]), rs, CL4).tcp({ sport: 8080, dport: 42000, flags: "SA" }).build())
        .tx[0].bytes,
    );
    const rows: [string, Uint8Array, number, string][] = [
      ["echo request to the VIP", echoRequest(CL4, VIP.nat4), V_PASS, "not_l4"],
      ["ICMPv6 echo request", echoRequest(CL6, VIP.nat6), V_PASS, "not_l4"],
      [
        "an error about no connection",
        icmpError({
          src: ROUTER4,
          dst: VIP.nat4,
          type: 3,
          code: 1,
          quote: ipOf(syn(VIP.nat4, CL4, 9)),
        }),
        V_PASS,
        "icmp_unrelated",
      ],
      [
        "a quote without ports",
        icmpError({ src: ROUTER4, dst: VIP.nat4, type: 3, code: 1, quote: reply, quoteLen: 22 }),
        V_PASS,
        "icmp_unrelated",
      ],
      [
        "a quoted ICMP packet",
        icmpError({
          src: ROUTER4,
          dst: VIP.nat4,
          type: 3,
          code: 1,
          quote: ipOf(echoRequest(VIP.nat4, CL4)),
        }),
        V_PASS,
        "icmp_unrelated",
      ],
      [
        "a redirect (not an error IPVS relays)",
        icmpError({ src: ROUTER4, dst: VIP.nat4, type: 5, code: 1, quote: reply }),
        V_PASS,
        "not_l4",
      ],
      [
        "a bad ICMP checksum",
        icmpError({
          src: ROUTER4,
          dst: VIP.nat4,
          type: 3,
          code: 1,
          quote: reply,
          badChecksum: true,
        }),
        V_DROP,
        "icmp_bad_csum",
      ],
      [
        "4 bytes of ICMP",
        eth().ipv4({ src: ROUTER4, dst: VIP.nat4 }).raw(1, new Uint8Array([3, 1, 0, 0])).build(),
        V_DROP,
        "trunc_l4",
      ],
    ];
    for (const [what, f, verdict, why] of rows) {
      const r = c.run(f);
      assert.equal(`${r.verdict}/${r.why}`, `${verdict}/${why}`, what);
      assert.equal(r.tx.length, 0, what);
    }
  });

  Deno.test(`[${make.name}] a relayed error never causes an ICMP error (TTL 1, too big)`, async () => {
    const c = await lab(make);
    c.run(syn(CL4, VIP.nat4, 43000));
    const k0 = c.e.counters()[C_ICMP_SENT];
    const reply = ipTo(eth(), VIP.nat4, CL4).tcp({ sport: 80, dport: 43000, flags: "SA" }).build();
    const r = c.run(
      icmpError({ src: ROUTER4, dst: VIP.nat4, type: 3, code: 1, quote: ipOf(reply), ttl: 1 }),
    );
    assert.equal(r.why, "ttl_exceeded");
    assert.equal(r.tx.length, 0);
    assert.equal(c.e.counters()[C_ICMP_SENT], k0);
  });
}

// ---- Errors about our own tunnel packets (spec §4.4, §4.7 last bullet) -------------------

/** Mixed-family TUN services: an IPv4 VIP over an IPv6 tunnel (4in6), and the converse. */
const MIX46 = "198.18.100.7";
const MIX64 = "2001:2:0:100::7";

/** The lab plus the two mixed-family tunnel services (one real server each). */
async function tunLab(make: (typeof ENGINES)[number]) {
  const c = await lab(make);
  const s46 = c.e.addService(svc(AF_INET, 6, MIX46, 80, SCHED_RR));
  assert.ok(c.e.addDest(s46, dest(AF_INET6, RS6[1], 80, IP_VS_CONN_F_TUNNEL)) >= 0);
  const s64 = c.e.addService(svc(AF_INET6, 6, MIX64, 80, SCHED_RR));
  assert.ok(c.e.addDest(s64, dest(AF_INET, RS4[1], 80, IP_VS_CONN_F_TUNNEL)) >= 0);
  return c;
}

/**
 * Sends a client SYN of `size` IP bytes to TUN VIP `vip` and returns the tunnel packet as
 * it left (from its outer IP header), the client packet inside it, and the outer size.
 */
function tunnelled(
  c: Awaited<ReturnType<typeof lab>>,
  cl: string,
  vip: string,
  sport: number,
  o: { df?: boolean; size?: number } = {},
) {
  const hl = v6(cl) ? 60 : 40;
  const f = ipTo(eth(), cl, vip, { df: o.df }).tcp({ sport, dport: 80, flags: "S", seq: 77 })
    .payload(Uint8Array.from({ length: Math.max(0, (o.size ?? hl) - hl) }, (_, i) => i)).build();
  const r = c.run(f);
  assert.equal(r.verdict, V_TX, "the client packet goes through the tunnel");
  const sent = ipOf(r.tx[0].bytes);
  const outer = sent[0] >> 4 === 4 ? 20 : 40;
  return { sent, outer, client: sent.subarray(outer), rs: decode(r.tx[0].bytes).ip!.dst };
}

/** A router's error about tunnel packet `sent`, quoted as routers do (576 / 1280 in all). */
function tunnelError(
  sent: Uint8Array,
  type: number,
  code: number,
  info = 0,
  o: { quoteLen?: number; to?: string; badChecksum?: boolean } = {},
) {
  const v4 = sent[0] >> 4 === 4;
  return icmpError({
    src: v4 ? ROUTER4 : ROUTER6,
    dst: o.to ?? (v4 ? PORT4 : PORT6),
    type,
    code,
    info,
    quote: sent,
    quoteLen: o.quoteLen ?? (v4 ? 576 - 28 : 1280 - 48),
    badChecksum: o.badChecksum,
  });
}

interface TunRow {
  what: string;
  cl: string;
  vip: string;
  df?: boolean;
  size?: number;
  /** The router's error about the tunnel packet. */
  type: number;
  code: number;
  info?: number;
  /** What the client gets (none: consumed silently). */
  out?: { type: number; code: number; info: number };
  /** C_PMTU_LEARNED after the error. */
  learned: number;
}

const TUN: TunRow[] = [
  {
    what: "IPIP frag needed 1400, client DF: frag needed 1380 to the client",
    cl: CL4,
    vip: VIP.tun4,
    df: true,
    size: 1400,
    type: ICMP.DEST_UNREACH,
    code: ICMP.FRAG_NEEDED,
    info: 1400,
    out: { type: ICMP.DEST_UNREACH, code: ICMP.FRAG_NEEDED, info: 1380 },
    learned: 1,
  },
  {
    what: "IPIP frag needed, client without DF: learned, nothing to the client",
    cl: CL4,
    vip: VIP.tun4,
    size: 1400,
    type: ICMP.DEST_UNREACH,
    code: ICMP.FRAG_NEEDED,
    info: 1400,
    learned: 1,
  },
  {
    what: "IPIP frag needed 9000 (above the port MTU): not learned, the client gets 1480",
    cl: CL4,
    vip: VIP.tun4,
    df: true,
    type: ICMP.DEST_UNREACH,
    code: ICMP.FRAG_NEEDED,
    info: 9000,
    out: { type: ICMP.DEST_UNREACH, code: ICMP.FRAG_NEEDED, info: 1480 },
    learned: 0,
  },
  {
    what: "IPIP frag needed 300: learned as min_pmtu 552, the client gets 532",
    cl: CL4,
    vip: VIP.tun4,
    df: true,
    type: ICMP.DEST_UNREACH,
    code: ICMP.FRAG_NEEDED,
    info: 300,
    out: { type: ICMP.DEST_UNREACH, code: ICMP.FRAG_NEEDED, info: 532 },
    learned: 1,
  },
  {
    what: "IPIP time exceeded: relayed to the client as time exceeded",
    cl: CL4,
    vip: VIP.tun4,
    type: ICMP.TIME_EXCEEDED,
    code: 0,
    out: { type: ICMP.TIME_EXCEEDED, code: 0, info: 0 },
    learned: 0,
  },
  {
    what: "IPIP host unreachable: relayed with the same type and code",
    cl: CL4,
    vip: VIP.tun4,
    type: ICMP.DEST_UNREACH,
    code: 1,
    out: { type: ICMP.DEST_UNREACH, code: 1, info: 0 },
    learned: 0,
  },
  {
    what: "IPv6-in-IPv6 packet too big 1400: packet too big 1360 to the client",
    cl: CL6,
    vip: VIP.tun6,
    size: 1400,
    type: ICMP6.PKT_TOOBIG,
    code: 0,
    info: 1400,
    out: { type: ICMP6.PKT_TOOBIG, code: 0, info: 1360 },
    learned: 1,
  },
  {
    what: "IPv6-in-IPv6 address unreachable: relayed as it is",
    cl: CL6,
    vip: VIP.tun6,
    type: ICMP6.DEST_UNREACH,
    code: 3,
    out: { type: ICMP6.DEST_UNREACH, code: 3, info: 0 },
    learned: 0,
  },
  {
    what: "4in6 packet too big 1400, client DF: ICMPv4 frag needed 1360",
    cl: CL4,
    vip: MIX46,
    df: true,
    type: ICMP6.PKT_TOOBIG,
    code: 0,
    info: 1400,
    out: { type: ICMP.DEST_UNREACH, code: ICMP.FRAG_NEEDED, info: 1360 },
    learned: 1,
  },
  {
    what: "4in6 ICMPv6 port unreachable: ICMPv4 port unreachable (RFC 7915)",
    cl: CL4,
    vip: MIX46,
    type: ICMP6.DEST_UNREACH,
    code: ICMP6.PORT_UNREACH,
    out: { type: ICMP.DEST_UNREACH, code: ICMP.PORT_UNREACH, info: 0 },
    learned: 0,
  },
  {
    what: "6in4 frag needed 1400: ICMPv6 packet too big 1380",
    cl: CL6,
    vip: MIX64,
    type: ICMP.DEST_UNREACH,
    code: ICMP.FRAG_NEEDED,
    info: 1400,
    out: { type: ICMP6.PKT_TOOBIG, code: 0, info: 1380 },
    learned: 1,
  },
  {
    what: "6in4 frag needed 1290: learned as 1300, what carries IPv6's 1280: packet too big 1280",
    cl: CL6,
    vip: MIX64,
    type: ICMP.DEST_UNREACH,
    code: ICMP.FRAG_NEEDED,
    info: 1290,
    out: { type: ICMP6.PKT_TOOBIG, code: 0, info: 1280 },
    learned: 1,
  },
  {
    what: "IPv6-in-IPv6 packet too big 1280: learned as 1320, packet too big 1280",
    cl: CL6,
    vip: VIP.tun6,
    type: ICMP6.PKT_TOOBIG,
    code: 0,
    info: 1280,
    out: { type: ICMP6.PKT_TOOBIG, code: 0, info: 1280 },
    learned: 1,
  },
  {
    what: "6in4 protocol unreachable: ICMPv6 parameter problem, pointer 6 (RFC 7915)",
    cl: CL6,
    vip: MIX64,
    type: ICMP.DEST_UNREACH,
    code: 2,
    out: { type: ICMP6.PARAM_PROB, code: 1, info: 6 },
    learned: 0,
  },
  {
    what: "6in4 source quench: consumed, nothing sent (RFC 7915)",
    cl: CL6,
    vip: MIX64,
    type: ICMP.SOURCE_QUENCH,
    code: 0,
    learned: 0,
  },
];

for (const make of ENGINES) {
  for (const row of TUN) {
    Deno.test(`[${make.name}] tunnel error: ${row.what}`, async () => {
      const c = await tunLab(make);
      const t = tunnelled(c, row.cl, row.vip, 44000, { df: row.df, size: row.size });
      const k0 = c.e.counters();
      const before = c.e.dumpConns();
      const r = c.run(tunnelError(t.sent, row.type, row.code, row.info ?? 0));
      assert.equal(`${r.verdict}/${r.why}`, `${V_DROP}/icmp_tunnel`, "consumed");
      const k = c.e.counters();
      assert.equal(k[C_PMTU_LEARNED] - k0[C_PMTU_LEARNED], row.learned, "learned");
      assert.equal(k[C_IN_PKTS], k0[C_IN_PKTS], "not counted as a packet of the connection");
      assert.deepEqual(c.e.dumpConns(), before, "the entry is untouched");
      if (!row.out) {
        assert.equal(r.tx.length, 0);
        return;
      }
      assert.equal(r.tx.length, 1, "one message to the client");
      const bytes = r.tx[0].bytes;
      const d = decodeIcmpError(bytes)!;
      assert.ok(d, "an ICMP error");
      assert.deepEqual([d.type, d.code, d.info], [row.out.type, row.out.code, row.out.info]);
      assert.deepEqual([d.outer.src, d.outer.dst, d.outer.ttl], [row.vip, row.cl, 64]);
      assert.equal(d.outer.version, v6(row.cl) ? 6 : 4, "in the client's family");
      assert.ok(d.outer.headerOk && d.checksumOk, "checksums");
      const l2 = decode(bytes);
      assert.deepEqual([l2.srcMac, l2.dstMac], [DIRECTOR_MAC, GW_MAC]);
      assert.equal(l2.ethType, v6(row.cl) ? 0x86dd : 0x0800);
      // The quote is the client's packet as we tunnelled it, as much as the router quoted.
      const avail = Math.min(
        t.client.length,
        (t.outer === 20 ? 576 - 28 : 1280 - 48) - t.outer,
      );
      const most = v6(row.cl) ? 1280 - 48 : 576 - 28;
      assert.equal(d.quote.length, Math.min(avail, most));
      assert.deepEqual(d.quote, t.client.subarray(0, d.quote.length));
      assert.deepEqual([d.inner.src, d.inner.dst, d.inner.sport, d.inner.dport], [
        row.cl,
        row.vip,
        44000,
        80,
      ]);
      assert.equal(k[C_ICMP_SENT] - k0[C_ICMP_SENT], 1);
    });
  }

  Deno.test(`[${make.name}] a learned tunnel path MTU lowers the tunnel MTU until it expires (600 s)`, async () => {
    const c = await tunLab(make);
    const t = tunnelled(c, CL4, VIP.tun4, 45000, { df: true });
    c.run(tunnelError(t.sent, ICMP.DEST_UNREACH, ICMP.FRAG_NEEDED, 1300));
    const big = (sport: number) =>
      ipTo(eth(), CL4, VIP.tun4, { df: true }).tcp({ sport, dport: 80, flags: "S" })
        .payload(new Uint8Array(1300)).build();
    // 1340 bytes: over 1300 - 20 through the tunnel to that real server (the entry's dest).
    const r = c.run(
      ipTo(eth(), CL4, VIP.tun4, { df: true }).tcp({ sport: 45000, dport: 80, flags: "A" })
        .payload(new Uint8Array(1300)).build(),
    );
    assert.equal(`${r.verdict}/${r.why}`, `${V_DROP}/mtu_exceeded`);
    assert.equal(decodeIcmpError(r.tx[0].bytes)!.info, 1280);
    // Another connection to the same dest: the same path.
    let hit = 0;
    for (let i = 0; i < 3; i++) {
      const o = c.run(big(45100 + i));
      if (o.why === "mtu_exceeded") hit++;
      else assert.equal(o.verdict, V_TX);
    }
    assert.equal(hit, 1, "one of three RR connections goes to that real server");
    // 600 s later the learned MTU is gone: the port MTU (1500 - 20) again.
    c.io.run([], T0 + 700_000_000);
    const later = c.io.run(
      [
        ipTo(eth(), CL4, VIP.tun4, { df: true }).tcp({ sport: 45000, dport: 80, flags: "A" })
          .payload(new Uint8Array(1300)).build(),
      ],
      T0 + 700_000_000,
    );
    assert.equal(later.verdicts[0], V_TX);
  });

  Deno.test(`[${make.name}] a forged tiny packet too big cannot stop an IPv6 tunnel`, async () => {
    const c = await tunLab(make);
    const t = tunnelled(c, CL6, VIP.tun6, 48000);
    c.run(tunnelError(t.sent, ICMP6.PKT_TOOBIG, 0, 600));
    const seg = (n: number) =>
      ipTo(eth(), CL6, VIP.tun6).tcp({ sport: 48000, dport: 80, flags: "A" })
        .payload(new Uint8Array(n)).build();
    // Learned as 1320: 1280 inside still fits, 1281 does not.
    assert.equal(c.run(seg(1280 - 60)).verdict, V_TX);
    const r = c.run(seg(1281 - 60));
    assert.equal(`${r.verdict}/${r.why}`, `${V_DROP}/mtu_exceeded`);
    assert.equal(decodeIcmpError(r.tx[0].bytes)!.info, 1280);
  });

  Deno.test(`[${make.name}] tunnel errors that are not about our packets pass, broken ones drop`, async () => {
    const c = await tunLab(make);
    const t = tunnelled(c, CL4, VIP.tun4, 46000, { df: true });
    const other = RS4.find((a) => a !== t.rs)!;
    const wrongRs = t.sent.slice();
    wrongRs.set(ipBytes(other), 16);
    const wrongSrc = t.sent.slice();
    wrongSrc.set(ipBytes("198.18.0.99"), 12);
    const t6 = tunnelled(c, CL6, VIP.tun6, 46001);
    const rows: [string, Uint8Array, number, string][] = [
      [
        "only 8 bytes of the client packet (no ports past its header)",
        tunnelError(t.sent, 3, 1, 0, { quoteLen: 20 + 8 }),
        V_PASS,
        "icmp_tun_unrelated",
      ],
      [
        "quoted to another real server",
        tunnelError(wrongRs, 3, 1),
        V_PASS,
        "icmp_tun_unrelated",
      ],
      [
        "quoted from an address that is not our tunnel source",
        tunnelError(wrongSrc, 3, 1),
        V_PASS,
        "icmp_tun_unrelated",
      ],
      [
        "sent to an address that is not our tunnel source",
        tunnelError(t.sent, 3, 1, 0, { to: VIP.tun4 }),
        V_PASS,
        "icmp_tun_unrelated",
      ],
      [
        "about a client packet with no connection",
        tunnelError(
          tunnelled(c, CL4, VIP.tun4, 46002).sent.map((b, i) => i === 41 ? b ^ 1 : b),
          3,
          1,
        ),
        V_PASS,
        "icmp_tun_unrelated",
      ],
      [
        "IPv6 quoted only as far as the inner header",
        tunnelError(t6.sent, ICMP6.PKT_TOOBIG, 0, 1400, { quoteLen: 80 }),
        V_PASS,
        "icmp_tun_unrelated",
      ],
      [
        "a bad ICMP checksum",
        tunnelError(t.sent, ICMP.DEST_UNREACH, ICMP.FRAG_NEEDED, 1400, { badChecksum: true }),
        V_DROP,
        "icmp_bad_csum",
      ],
    ];
    const k0 = c.e.counters();
    for (const [what, f, verdict, why] of rows) {
      const r = c.run(f);
      assert.equal(`${r.verdict}/${r.why}`, `${verdict}/${why}`, what);
      assert.equal(r.tx.length, 0, what);
    }
    assert.equal(c.e.counters()[C_PMTU_LEARNED], k0[C_PMTU_LEARNED]);
  });

  Deno.test(`[${make.name}] messages caused by tunnel errors share the ICMP rate limit`, async () => {
    const c = await tunLab(make);
    c.e.setSysctl(SYS_ICMP_MSGS_PER_SEC, 1);
    c.e.setSysctl(SYS_ICMP_MSGS_BURST, 2);
    const t = tunnelled(c, CL4, VIP.tun4, 47000, { df: true });
    const errs = Array.from({ length: 4 }, () => tunnelError(t.sent, ICMP.TIME_EXCEEDED, 0));
    const r = c.io.run(errs, T0 + 5_000_000);
    assert.equal(r.tx.length, 2);
    assert.deepEqual([...r.verdicts], [V_DROP, V_DROP, V_DROP, V_DROP]);
    assert.equal(c.e.counters()[C_ICMP_SUPPRESSED], 2);
  });
}

Deno.test("the lab's masquerading dests stay NAT (sanity of the fixtures)", () => {
  assert.equal(dest(2, RS4[0], 8080, IP_VS_CONN_F_MASQ).fwd, IP_VS_CONN_F_MASQ);
});
