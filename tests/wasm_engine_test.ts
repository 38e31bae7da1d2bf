// Focused tests of the WASM packet engine (assembly/, via host/engine/wasm/wasm_engine.ts):
// NAT in and out, DR, TUN, counters, expiry, the wrr sequence, malformed input and
// the no-allocation rule. Output checksums are judged by full recomputation here,
// never by the engine's incremental arithmetic.
import assert from "node:assert/strict";
import { createWasmEngine } from "../host/engine/wasm/wasm_engine.ts";
import type { DestSpec, Engine, ServiceSpec } from "../host/engine/engine.ts";
import { FrameIo } from "../host/engine/frames.ts";
import {
  AF_INET,
  C_CONN_EXPIRED,
  C_CONN_NEW,
  C_CONNS,
  C_COUNT,
  C_DROP,
  C_IN_PKTS,
  C_OUT_PKTS,
  C_PASS,
  C_REASON_BASE,
  C_RX,
  C_TX,
  FRAG_HOLD,
  HEADROOM,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NOOUTPUT,
  IP_VS_CONN_F_TUNNEL,
  IP_VS_DEST_F_AVAILABLE,
  L_BATCH,
  L_CONNS,
  L_SLOT_COUNT,
  L_SLOTS,
  L_TX_CAP,
  L_TX_DESC,
  R_BAD_DESC,
  R_BAD_IP_CSUM,
  R_CONN_FULL,
  R_COUNT,
  R_NONE,
  R_NOT_IP,
  R_TRUNC_L2,
  R_TRUNC_L3,
  SCHED_RR,
  SCHED_WRR,
  TCP_S_SYN_RECV,
  V_DROP,
  V_PASS,
  V_TX,
} from "../host/engine/abi.gen.ts";
import { checksum, Frame, ipBytes, macBytes } from "./fixtures/packet_builder.ts";

const T0 = 1_700_000_000_000_000; // µs
const SEC = 1_000_000;
const DIRECTOR_MAC = "02:00:00:00:00:fe";
const GW_MAC = "02:00:00:00:00:01";
const RS = ["198.18.1.1", "198.18.1.2", "198.18.1.3"];
const RS_MAC = ["02:00:00:00:01:01", "02:00:00:00:01:02", "02:00:00:00:01:03"];
const CLIENT = "198.18.0.10";
const VIP = "198.18.100.1";
const CONFIG = { maxConns: 1024, maxConns6: 256, maxServices: 8, maxDests: 32, batch: 32, seed: 7 };

function service(addr: string, port: number, sched: number, protocol = 6): ServiceSpec {
  return {
    af: AF_INET,
    protocol,
    addr: ipBytes(addr),
    port,
    fwmark: 0,
    sched,
    flags: 0,
    timeout: 0,
    netmask: 0xffffffff,
  };
}

function realServer(addr: string, port: number, fwd: number, weight = 1): DestSpec {
  return {
    af: AF_INET,
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

/** An engine with port 0, a default route via GW_MAC and the real servers as neighbours. */
async function director(): Promise<{ e: Engine; io: FrameIo }> {
  const e = await createWasmEngine(CONFIG);
  assert.equal(
    e.setPort(0, { mac: macBytes(DIRECTOR_MAC), mtu: 1500, addr4: ipBytes("198.18.0.254") }),
    0,
  );
  assert.equal(e.setNeigh(AF_INET, null, macBytes(GW_MAC), 0), 0);
  RS.forEach((a, i) => assert.equal(e.setNeigh(AF_INET, ipBytes(a), macBytes(RS_MAC[i]), 0), 0));
  return { e, io: new FrameIo(e) };
}

function syn(sport: number, dst = VIP, dport = 80): Uint8Array {
  return Frame.eth().ipv4({ src: CLIENT, dst, ttl: 64, df: true }).tcp({ sport, dport, flags: "S" })
    .build();
}

// ---- An independent reading of output frames ------------------------------------------

const be16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const ip4 = (b: Uint8Array, o: number) => [...b.subarray(o, o + 4)].join(".");
const mac = (b: Uint8Array, o: number) =>
  [...b.subarray(o, o + 6)].map((x) => x.toString(16).padStart(2, "0")).join(":");

/** Asserts the IPv4 header checksum at `ip` and the TCP/UDP checksum after it, from scratch. */
function assertChecksums(f: Uint8Array, ip: number): void {
  const ihl = (f[ip] & 0x0f) * 4;
  const total = be16(f, ip + 2);
  assert.equal(checksum(f.subarray(ip, ip + ihl)), 0, "IPv4 header checksum");
  const proto = f[ip + 9];
  const l4 = f.subarray(ip + ihl, ip + total);
  const pseudo = [...f.subarray(ip + 12, ip + 20), 0, proto, l4.length >> 8, l4.length & 0xff];
  assert.equal(checksum(pseudo, l4), 0, `L4 checksum (protocol ${proto})`);
}

// ---- Tests ------------------------------------------------------------------------------

Deno.test("init() carves 2·batch + FRAG_HOLD slots and TX descriptors on 64-byte boundaries", async () => {
  const { e } = await director();
  const l = e.layout;
  assert.equal(l[L_BATCH], CONFIG.batch);
  // Issue 7: after the host's and one engine slot per RX frame, the held fragments' slots.
  assert.equal(l[L_SLOT_COUNT], 2 * CONFIG.batch + FRAG_HOLD);
  assert.equal(l[L_TX_CAP], 2 * CONFIG.batch + FRAG_HOLD);
  for (const w of [L_SLOTS, L_TX_DESC, L_CONNS]) assert.equal(l[w] % 64, 0, `region ${w}`);
  assert.deepEqual(e.timeouts().slice(0, 3), [2, 900, 120]);
  await assert.rejects(createWasmEngine({ ...CONFIG, batch: 0 }), RangeError);
});

Deno.test("NAT: a client SYN leaves with the real server's address and valid checksums", async () => {
  const { e, io } = await director();
  const s = e.addService(service(VIP, 80, SCHED_RR));
  const d = e.addDest(s, realServer(RS[0], 8080, IP_VS_CONN_F_MASQ));
  const r = io.run([syn(40000)], T0);
  assert.deepEqual([r.verdicts, r.reasons], [[V_TX], [R_NONE]]);
  const f = r.tx[0].bytes;
  assert.equal(mac(f, 0), RS_MAC[0]);
  assert.equal(mac(f, 6), DIRECTOR_MAC);
  assert.equal(ip4(f, 14 + 12), CLIENT);
  assert.equal(ip4(f, 14 + 16), RS[0]);
  assert.equal(be16(f, 34), 40000);
  assert.equal(be16(f, 36), 8080);
  assert.equal(f[14 + 8], 63, "TTL decremented");
  assertChecksums(f, 14);
  assert.equal(r.tx[0].port, 0);
  assert.equal(r.tx[0].rx, 0);

  const [c] = e.dumpConns();
  assert.deepEqual(
    [c.index, c.caddr, c.cport, c.vaddr, c.vport, c.daddr, c.dport, c.dest, c.svc, c.inPkts],
    [0, CLIENT, 40000, VIP, 80, RS[0], 8080, d, s, 1],
  );
  assert.equal(c.state, TCP_S_SYN_RECV);
  assert.equal(c.flags, IP_VS_CONN_F_MASQ, "SYN_RECV is active: INACTIVE cleared");
  assert.equal(c.timeout, 60_000);
  assert.equal(c.expires, (Math.floor(T0 / 1000) + 60_000) >>> 0);
  assert.deepEqual(e.destCounts(d), {
    activeConns: 1,
    inactConns: 0,
    persistConns: 0,
    flags: IP_VS_DEST_F_AVAILABLE,
  });
  assert.deepEqual(e.svcStats(s), { conns: 1, inPkts: 1, outPkts: 0, inBytes: 40, outBytes: 0 });
});

Deno.test("NAT: the real server's reply leaves from the VIP to the client's next hop", async () => {
  const { e, io } = await director();
  const s = e.addService(service(VIP, 80, SCHED_RR));
  const d = e.addDest(s, realServer(RS[0], 8080, IP_VS_CONN_F_MASQ));
  io.run([syn(40001)], T0);
  const reply = Frame.eth({ src: RS_MAC[0] }).ipv4({ src: RS[0], dst: CLIENT, ttl: 64 })
    .tcp({ sport: 8080, dport: 40001, flags: "SA" }).payload("hello").build();
  const r = io.run([reply], T0 + SEC);
  assert.deepEqual([r.verdicts, r.reasons], [[V_TX], [R_NONE]]);
  const f = r.tx[0].bytes;
  assert.equal(mac(f, 0), GW_MAC, "no neighbour for the client: default route");
  assert.equal(ip4(f, 26), VIP);
  assert.equal(ip4(f, 30), CLIENT);
  assert.equal(be16(f, 34), 80);
  assert.equal(be16(f, 36), 40001);
  assertChecksums(f, 14);
  assert.equal(e.dumpConns()[0].state, TCP_S_SYN_RECV, "OUT syn from SYN_RECV stays");
  assert.equal(e.destStats(d).outPkts, 1);
  assert.equal(e.destStats(d).outBytes, 45);
  const c = e.counters();
  assert.deepEqual([c[C_IN_PKTS], c[C_OUT_PKTS]], [1, 1]);
});

Deno.test("DR: only the MAC addresses, the TTL and the IPv4 checksum change", async () => {
  const { e, io } = await director();
  const s = e.addService(service(VIP, 80, SCHED_RR));
  e.addDest(s, realServer(RS[1], 80, IP_VS_CONN_F_DROUTE));
  const input = Frame.eth({ vlan: 5 }).ipv4({ src: CLIENT, dst: VIP, ttl: 9 })
    .tcp({ sport: 40002, dport: 80, flags: "S" }).payload("x").build();
  const r = io.run([input], T0);
  assert.equal(r.verdicts[0], V_TX);
  const f = r.tx[0].bytes;
  assert.equal(f.length, input.length);
  assert.equal(mac(f, 0), RS_MAC[1]);
  assert.equal(mac(f, 6), DIRECTOR_MAC);
  assert.equal(f[18 + 8], 8);
  assertChecksums(f, 18);
  // Everything else, VLAN tag and L4 included, is untouched (IP at 18: TTL 26, checksum 28).
  const same = (a: Uint8Array) => [...a.subarray(12, 26), a[27], ...a.subarray(30)];
  assert.deepEqual(same(f), same(input));
  assert.equal(e.dumpConns()[0].flags & IP_VS_CONN_F_NOOUTPUT, IP_VS_CONN_F_NOOUTPUT);
});

Deno.test("TUN: IPv4 in IPv4 with IPVS's outer header, L2 moved into the headroom", async () => {
  const { e, io } = await director();
  const s = e.addService(service(VIP, 80, SCHED_RR));
  e.addDest(s, realServer(RS[2], 80, IP_VS_CONN_F_TUNNEL));
  const input = Frame.eth().ipv4({ src: CLIENT, dst: VIP, ttl: 30, df: true, tos: 0x2b })
    .tcp({ sport: 40003, dport: 80, flags: "S" }).build();
  const r = io.run([input, syn(40004)], T0);
  assert.deepEqual(r.verdicts, [V_TX, V_TX]);
  const f = r.tx[0].bytes;
  assert.equal(f.length, input.length + 20);
  assert.equal(new DataView(e.memory).getUint16(e.layout[L_TX_DESC] + 4, true), HEADROOM - 20);
  assert.equal(mac(f, 0), RS_MAC[2]);
  assert.equal(be16(f, 12), 0x0800);
  const o = 14;
  assert.equal(f[o], 0x45);
  assert.equal(f[o + 1], 0x2a, "ECN CE becomes ECT(0), DSCP copied");
  assert.equal(be16(f, o + 2), input.length - 14 + 20);
  assert.equal(be16(f, o + 4), 0, "first outer IP ID");
  assert.equal(be16(f, o + 6), 0x4000, "DF copied (pmtu_disc = 1)");
  assert.equal(f[o + 8], 29, "outer TTL = inner TTL after decrement");
  assert.equal(f[o + 9], 4, "IPIP");
  assert.equal(ip4(f, o + 12), "198.18.0.254");
  assert.equal(ip4(f, o + 16), RS[2]);
  assert.equal(checksum(f.subarray(o, o + 20)), 0, "outer header checksum");
  // The inner packet is the client's, TTL - 1, still VIP-addressed.
  assert.equal(ip4(f, o + 20 + 16), VIP);
  assert.equal(f[o + 20 + 8], 29);
  assertChecksums(f, o + 20);
  assert.equal(be16(r.tx[1].bytes, o + 4), 1, "the IP ID advances per outer header");
});

Deno.test("every frame is counted once as TX, DROP or PASS with its reason", async () => {
  const { e, io } = await director();
  const s = e.addService(service(VIP, 80, SCHED_RR));
  e.addDest(s, realServer(RS[0], 80, IP_VS_CONN_F_MASQ));
  const bad = syn(40010);
  bad[24] ^= 0xff; // IPv4 header checksum
  const arp = Frame.eth({ type: 0x0806 }).payload(new Uint8Array(28)).build();
  const r = io.run([syn(40011), bad, arp, new Uint8Array(10), syn(40012).subarray(0, 30)], T0);
  assert.deepEqual(r.verdicts, [V_TX, V_DROP, V_PASS, V_DROP, V_DROP]);
  assert.deepEqual(r.reasons, [R_NONE, R_BAD_IP_CSUM, R_NOT_IP, R_TRUNC_L2, R_TRUNC_L3]);
  const c = e.counters();
  assert.equal(c.length, C_COUNT);
  assert.deepEqual([c[C_RX], c[C_TX], c[C_DROP], c[C_PASS]], [5, 1, 3, 1]);
  assert.deepEqual(
    [R_BAD_IP_CSUM, R_NOT_IP, R_TRUNC_L2, R_TRUNC_L3].map((x) => c[C_REASON_BASE + x]),
    [1, 1, 1, 1],
  );
  assert.deepEqual([c[C_CONN_NEW], c[C_CONNS]], [1, 1]);
});

Deno.test("expire() frees an idle entry exactly at its timeout and the slot is reused first", async () => {
  const { e, io } = await director();
  const s = e.addService(service(VIP, 80, SCHED_RR));
  const d = e.addDest(s, realServer(RS[0], 80, IP_VS_CONN_F_MASQ));
  io.run([syn(40020), syn(40021)], T0);
  assert.deepEqual(e.dumpConns().map((c) => c.index), [0, 1]);
  assert.equal(e.expire(T0 + 59 * SEC), 0);
  io.run(
    [Frame.eth().ipv4({ src: CLIENT, dst: VIP }).tcp({ sport: 40021, dport: 80 }).build()],
    T0 + 30 * SEC,
  );
  assert.equal(e.expire(T0 + 60 * SEC), 1, "SYN_RECV lasts 60 s; the ACKed one moved on");
  assert.deepEqual(e.dumpConns().map((c) => c.index), [1]);
  assert.equal(e.destCounts(d).activeConns, 1);
  io.run([syn(40022)], T0 + 61 * SEC);
  assert.deepEqual(e.dumpConns().map((c) => [c.index, c.cport]), [[0, 40022], [1, 40021]]);
  assert.equal(e.expire(T0 + 3600 * SEC), 2);
  const c = e.counters();
  assert.deepEqual([c[C_CONN_NEW], c[C_CONN_EXPIRED], c[C_CONNS]], [3, 3, 0]);
  assert.deepEqual(e.destCounts(d), {
    activeConns: 0,
    inactConns: 0,
    persistConns: 0,
    flags: IP_VS_DEST_F_AVAILABLE,
  });
});

Deno.test("wrr with weights A4 B3 C2 cycles A A B A B C A B C", async () => {
  const { e, io } = await director();
  const s = e.addService(service(VIP, 80, SCHED_WRR));
  // Added C, B, A: new dests go to the head, so the list reads A, B, C.
  const [c, b, a] = [2, 1, 0].map((i) =>
    e.addDest(s, realServer(RS[i], 80, IP_VS_CONN_F_MASQ, 4 - i))
  );
  assert.deepEqual(e.destList(s), [a, b, c]);
  const name = new Map([[a, "A"], [b, "B"], [c, "C"]]);
  const picks: string[] = [];
  for (let i = 0; i < 12; i++) {
    io.run([syn(41000 + i)], T0);
    picks.push(name.get(e.dumpConns().find((x) => x.cport === 41000 + i)!.dest)!);
  }
  // Built one dest at a time, cw starts at 1 (ARCHITECTURE.md wrr rule; spec §1.2
  // clarification), so the first pass is A B C; then the steady 9-cycle.
  assert.deepEqual(picks.join(" "), "A B C A A B A B C A B C");
  // Re-binding wrr with the dests in place starts at cw = mw.
  assert.equal(e.editService(s, service(VIP, 80, SCHED_RR)), s);
  assert.equal(e.editService(s, service(VIP, 80, SCHED_WRR)), s);
  picks.length = 0;
  for (let i = 0; i < 9; i++) {
    io.run([syn(41100 + i)], T0);
    picks.push(name.get(e.dumpConns().find((x) => x.cport === 41100 + i)!.dest)!);
  }
  assert.deepEqual(picks.join(" "), "A A B A B C A B C");
});

Deno.test("rr skips a weight-0 dest and reaches a new head after wrapping", async () => {
  const { e, io } = await director();
  const s = e.addService(service(VIP, 80, SCHED_RR));
  const c = e.addDest(s, realServer(RS[2], 80, IP_VS_CONN_F_MASQ));
  const b = e.addDest(s, realServer(RS[1], 80, IP_VS_CONN_F_MASQ, 0));
  const a = e.addDest(s, realServer(RS[0], 80, IP_VS_CONN_F_MASQ));
  const picks: number[] = [];
  for (let i = 0; i < 4; i++) {
    io.run([syn(42000 + i)], T0);
    picks.push(e.dumpConns().find((x) => x.cport === 42000 + i)!.dest);
  }
  assert.deepEqual(picks, [a, c, a, c]);
  assert.equal(e.delDest(b), 0);
  assert.deepEqual(e.destList(s), [a, c]);
});

Deno.test("control operations return -errno for bad input and never throw", async () => {
  const { e } = await director();
  const s = e.addService(service(VIP, 80, SCHED_RR));
  assert.equal(e.addService(service(VIP, 80, SCHED_RR)), -17, "EEXIST");
  assert.equal(e.addService({ ...service(VIP, 81, SCHED_RR), sched: 99 }), -2, "ENOENT");
  assert.equal(e.addService({ ...service(VIP, 81, SCHED_RR), af: 3 as 2 }), -22, "EINVAL");
  assert.equal(e.addDest(s + 5, realServer(RS[0], 80, 0)), -3, "ESRCH");
  assert.equal(e.addDest(s, realServer(RS[0], 80, 7)), -22, "bad fwd");
  assert.equal(e.addDest(s, { ...realServer(RS[0], 80, 0), lThreshold: 5 }), -34, "ERANGE");
  assert.equal(e.editDest(-1, realServer(RS[0], 80, 0)), -2, "ENOENT");
  assert.equal(e.delService(Number.NaN), -3);
  assert.deepEqual(e.destList(1.5), []);
  assert.deepEqual(e.svcStats(-1), { conns: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0 });
  assert.equal(e.setPort(16, { mac: macBytes(DIRECTOR_MAC), mtu: 1500 }), -22);
  assert.equal(e.setNeigh(AF_INET, new Uint8Array(3), macBytes(GW_MAC), 0), -22);
});

Deno.test("truncated and garbage frames are counted drops or passes and never trap", async () => {
  const { e, io } = await director();
  const s = e.addService(service(VIP, 80, SCHED_RR));
  e.addDest(s, realServer(RS[0], 80, IP_VS_CONN_F_MASQ));
  const good = [
    syn(43000),
    Frame.eth({ vlan: 3 }).ipv6({ src: "2001:2::10", dst: "2001:2:0:100::1", ext: [{ type: 0 }] })
      .udp({ sport: 1, dport: 53 }).payload("q").build(),
  ];
  let rx = 0;
  // Every prefix of valid frames.
  for (const g of good) {
    for (let len = 0; len < g.length; len++) {
      const r = io.run([g.subarray(0, len)], T0);
      assert.notEqual(r.verdicts[0], V_TX, `prefix ${len}`);
      rx++;
    }
  }
  // Seeded random bytes, and random bytes behind a plausible Ethernet/IPv4 start.
  let x = 0x12345678;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
  for (let i = 0; i < 2000; i++) {
    const f = Uint8Array.from({ length: rnd() * 2 }, rnd);
    if (i & 1 && f.length > 24) f.set([0x08, 0x00, 0x45], 12);
    const r = io.run([f], T0);
    assert.ok(r.verdicts[0] >= V_TX && r.verdicts[0] <= V_PASS);
    assert.ok(r.reasons[0] < R_COUNT);
    rx++;
  }
  // A descriptor naming an engine-owned slot, and one with an oversized length.
  io.put(0, syn(43001));
  const dv = new DataView(e.memory);
  dv.setUint32(e.layout[0] + 0, CONFIG.batch, true);
  assert.equal(e.processBatch(1, T0), 0);
  assert.equal(io.reason(0), R_BAD_DESC);
  io.put(0, new Uint8Array(4000));
  assert.equal(e.processBatch(1, T0), 0);
  assert.equal(io.reason(0), R_BAD_DESC);
  rx += 2;
  const c = e.counters();
  assert.equal(c[C_RX], rx);
  assert.equal(c[C_TX] + c[C_DROP] + c[C_PASS], rx);
  let reasons = 0;
  for (let r = 0; r < R_COUNT; r++) reasons += c[C_REASON_BASE + r];
  assert.equal(reasons, c[C_DROP] + c[C_PASS]);
});

Deno.test("memory size is unchanged after ten million frames", async () => {
  const { e, io } = await director();
  const s = e.addService(service(VIP, 80, SCHED_RR));
  const u = e.addService(service(VIP, 53, SCHED_WRR, 17));
  for (let i = 0; i < 3; i++) {
    e.addDest(s, realServer(RS[i], 8080, IP_VS_CONN_F_MASQ, i + 1));
    e.addDest(u, realServer(RS[i], 53, IP_VS_CONN_F_TUNNEL, i + 1));
  }
  const before = e.memory.byteLength;
  const frames: Uint8Array[] = [];
  for (let i = 0; i < CONFIG.batch; i++) {
    const sport = 10000 + i * 997;
    frames.push(
      i % 4 === 0
        ? Frame.eth().ipv4({ src: `198.18.0.${i}`, dst: VIP }).udp({ sport, dport: 53 }).payload(
          "dns",
        ).build()
        : i % 4 === 3
        ? new Uint8Array(i)
        : Frame.eth().ipv4({ src: `198.18.0.${i}`, dst: VIP }).tcp({
          sport,
          dport: 80,
          flags: i % 4 === 1 ? "S" : "A",
        })
          .build(),
    );
  }
  let now = T0;
  const total = Number(Deno.env.get("WVS_MEM_FRAMES") ?? 10_000_000);
  for (let n = 0, b = 0; n < total; n += CONFIG.batch, b++) {
    // New client ports every batch (the engine does not verify L4 checksums), so
    // the table fills up, expires and refills.
    frames.forEach((f, i) => {
      if (f.length > 36) f[35] = b & 0xff, f[34] = (b >> 8) & 0x3f;
      io.put(i, f);
    });
    e.processBatch(CONFIG.batch, now);
    now += 20_000;
    if (b % 1024 === 0) e.expire(now);
  }
  assert.equal(e.memory.byteLength, before);
  const c = e.counters();
  assert.equal(c[C_RX], Math.ceil(total / CONFIG.batch) * CONFIG.batch);
  assert.ok(c[C_TX] > 0 && c[C_CONN_EXPIRED] > CONFIG.maxConns, "the table turned over");
  assert.ok(c[C_REASON_BASE + R_CONN_FULL] > 0, "and was full at times");
  assert.equal(c[C_CONN_NEW] - c[C_CONN_EXPIRED], c[C_CONNS]);
});

Deno.test("the debug build behaves like the release build", async () => {
  const e = await createWasmEngine(CONFIG, { debug: true });
  const io = new FrameIo(e);
  e.setPort(0, { mac: macBytes(DIRECTOR_MAC), mtu: 1500 });
  e.setNeigh(AF_INET, null, macBytes(GW_MAC), 0);
  const s = e.addService(service(VIP, 80, SCHED_RR));
  e.addDest(s, realServer(RS[0], 80, IP_VS_CONN_F_MASQ));
  const r = io.run([syn(44000)], T0);
  assert.deepEqual(r.verdicts, [V_TX]);
  assertChecksums(r.tx[0].bytes, 14);
  assert.equal(e.dumpConns()[0].flags & IP_VS_CONN_F_INACTIVE, 0);
});
