// Issue 7, defense: the connection limit and IPVS's strategies (drop_entry, drop_packet,
// secure_tcp, driven by table pressure: amemthresh free entries), through both engines.
// Spec ipvs-data-plane.md §4.9 and §3.4; ARCHITECTURE.md issue 7 decisions.
import assert from "node:assert/strict";
import type { Engine } from "../host/engine/engine.ts";
import { FrameIo } from "../host/engine/frames.ts";
import {
  AF_INET,
  C_CONN_DROPPED,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_MASQ,
  REASON_NAMES,
  SCHED_RR,
  SYS_AM_DROPRATE,
  SYS_AMEMTHRESH,
  SYS_CONN_MAX,
  SYS_DROP_ENTRY,
  SYS_DROP_PACKET,
  SYS_SECURE_TCP,
  TCP_STATE_NAMES,
  V_TX,
} from "../host/engine/abi.gen.ts";
import { Frame } from "./fixtures/packet_builder.ts";
import { dest, DIRECTOR_MAC, ENGINES, GW_MAC, RS4, RS_MAC, svc } from "./fixtures/lab.ts";
import { ipBytes, macBytes } from "./fixtures/packet_builder.ts";

const T0 = 1_700_000_000_000_000;
const SEC = 1_000_000;
const VIP = "198.18.100.1";
const VIP_DR = "198.18.100.2";

/** A small table (256 entries) with a NAT and a DR service, one real server each. */
async function small(make: (typeof ENGINES)[number], maxConns = 256) {
  const e = await make.create({
    maxConns,
    maxConns6: 16,
    maxServices: 4,
    maxDests: 4,
    batch: 64,
    seed: 9,
  });
  e.setPort(0, { mac: macBytes(DIRECTOR_MAC), mtu: 1500, addr4: ipBytes("198.18.0.254") });
  e.setNeigh(AF_INET, null, macBytes(GW_MAC), 0);
  e.setNeigh(AF_INET, ipBytes(RS4[0]), macBytes(RS_MAC[0]), 0);
  const s = e.addService(svc(AF_INET, 6, VIP, 80, SCHED_RR));
  e.addDest(s, dest(AF_INET, RS4[0], 8080, IP_VS_CONN_F_MASQ));
  const d = e.addService(svc(AF_INET, 6, VIP_DR, 80, SCHED_RR));
  e.addDest(d, dest(AF_INET, RS4[0], 80, IP_VS_CONN_F_DROUTE));
  const io = new FrameIo(e);
  return { e, io };
}

/** Client n (198.18.0.x / 198.18.y.z) → vip:80 with `flags`. */
function seg(n: number, flags: string, vip = VIP, sport = 10000 + n) {
  const src = `198.18.${2 + (n >> 8)}.${n & 0xff}`;
  return Frame.eth().ipv4({ src, dst: vip }).tcp({ sport, dport: 80, flags }).build();
}

/** The real server's segment to client n. */
function reply(n: number, flags: string, sport = 10000 + n) {
  const dst = `198.18.${2 + (n >> 8)}.${n & 0xff}`;
  return Frame.eth({ src: RS_MAC[0] }).ipv4({ src: RS4[0], dst }).tcp({
    sport: 8080,
    dport: sport,
    flags,
  }).build();
}

function feed(io: FrameIo, frames: Uint8Array[], now: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < frames.length; i += io.batch) {
    const r = io.run(frames.slice(i, i + io.batch), now);
    r.verdicts.forEach((v, j) => out.push(v === V_TX ? "tx" : REASON_NAMES[r.reasons[j]]));
  }
  return out;
}

const states = (e: Engine) => e.dumpConns().map((c) => TCP_STATE_NAMES[c.state]);
const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;

for (const make of ENGINES) {
  Deno.test(`[${make.name}] a SYN flood into a full table evicts half-open entries, never established ones`, async () => {
    const { e, io } = await small(make);
    e.setSysctl(SYS_DROP_ENTRY, 1); // automatic: on once fewer than amemthresh (16) are free
    // 20 established NAT connections (SYN in, SYN+ACK out, ACK in).
    const est = Array.from({ length: 20 }, (_, i) => i);
    feed(io, est.map((i) => seg(i, "S")), T0);
    feed(io, est.map((i) => reply(i, "SA")), T0 + 1000);
    feed(io, est.map((i) => seg(i, "A")), T0 + 2000);
    assert.equal(count(states(e), "ESTABLISHED"), 20);
    // A flood of 2000 SYNs from other sources, over 3 seconds of engine time.
    let now = T0 + SEC;
    const out: string[] = [];
    for (let k = 0; k < 2000; k += 200) {
      out.push(...feed(io, Array.from({ length: 200 }, (_, j) => seg(100 + k + j, "S")), now));
      now += 300_000;
    }
    const st = states(e);
    assert.equal(st.length, 256, "the table is full");
    assert.equal(count(st, "ESTABLISHED"), 20, "every established connection is still there");
    // Legitimate new clients still get in: each SYN evicts a half-open entry.
    const late = feed(io, [seg(5000, "S"), seg(5001, "S")], now);
    assert.deepEqual(late, ["tx", "tx"]);
    assert.ok(e.counters()[C_CONN_DROPPED] > 1500, `dropped ${e.counters()[C_CONN_DROPPED]}`);
    assert.equal(count(out, "conn_full"), 0, "a full table evicts at once");
    // The established ones still carry traffic.
    assert.deepEqual(feed(io, est.map((i) => seg(i, "PA")), now), est.map(() => "tx"));
  });

  Deno.test(`[${make.name}] eviction spares half-open entries younger than the grace time (a client's ACK on its way)`, async () => {
    const { e, io } = await small(make);
    e.setSysctl(SYS_DROP_ENTRY, 1);
    // A flood fills the table; 2 s later 8 clients connect (each evicts an old entry), and
    // 5 ms after that 200 more spoofed SYNs arrive, each evicting one entry.
    feed(io, Array.from({ length: 256 }, (_, j) => seg(100 + j, "S")), T0);
    const legit = Array.from({ length: 8 }, (_, i) => 1000 + i);
    assert.deepEqual(feed(io, legit.map((n) => seg(n, "S")), T0 + 2 * SEC), legit.map(() => "tx"));
    const out = feed(
      io,
      Array.from({ length: 200 }, (_, j) => seg(2000 + j, "S")),
      T0 + 2 * SEC + 5000,
    );
    assert.equal(count(out, "tx"), 200);
    // Every client's handshake completes: none of their entries was taken.
    const now = T0 + 2 * SEC + 10_000;
    assert.deepEqual(feed(io, legit.map((n) => reply(n, "SA")), now), legit.map(() => "tx"));
    assert.deepEqual(feed(io, legit.map((n) => seg(n, "A")), now), legit.map(() => "tx"));
    // With nothing old left, a young entry goes rather than the new client being refused.
    const young = feed(io, Array.from({ length: 100 }, (_, j) => seg(3000 + j, "S")), now);
    assert.equal(count(young, "tx"), 100);
  });

  Deno.test(`[${make.name}] without drop_entry a full table refuses new connections (conn_full)`, async () => {
    const { e, io } = await small(make);
    const out = feed(io, Array.from({ length: 300 }, (_, j) => seg(j, "S")), T0);
    assert.equal(count(out, "tx"), 256);
    assert.equal(count(out, "conn_full"), 44);
    assert.equal(e.counters()[C_CONN_DROPPED], 0);
  });

  Deno.test(`[${make.name}] conn_max bounds the table below its size; drop_entry 3 evicts within it`, async () => {
    const { e, io } = await small(make);
    e.setSysctl(SYS_CONN_MAX, 10);
    let out = feed(io, Array.from({ length: 12 }, (_, j) => seg(j, "S")), T0);
    assert.deepEqual([count(out, "tx"), count(out, "conn_full")], [10, 2]);
    assert.equal(e.dumpConns().length, 10);
    e.setSysctl(SYS_DROP_ENTRY, 3);
    out = feed(io, Array.from({ length: 30 }, (_, j) => seg(100 + j, "S")), T0 + 1000);
    assert.equal(count(out, "tx"), 30);
    assert.equal(e.dumpConns().length, 10, "never above conn_max");
  });

  Deno.test(`[${make.name}] drop_packet 3 drops one new connection in am_droprate, nothing else`, async () => {
    const { io, e } = await small(make);
    feed(io, [seg(1, "S")], T0);
    e.setSysctl(SYS_DROP_PACKET, 3);
    e.setSysctl(SYS_AM_DROPRATE, 4);
    const out = feed(io, Array.from({ length: 12 }, (_, j) => seg(10 + j, "S")), T0 + 1000);
    // The countdown starts at 0 (IPVS's drop_counter), so the first one goes.
    assert.deepEqual(out.map((x) => (x === "tx" ? "." : "D")).join(""), "D...D...D...");
    assert.deepEqual(
      feed(io, [seg(1, "A"), seg(1, "A")], T0 + 2000),
      ["tx", "tx"],
      "existing entries pass",
    );
  });

  Deno.test(`[${make.name}] drop_packet 1 turns on under pressure with rate amemthresh / (amemthresh - free)`, async () => {
    const { io, e } = await small(make);
    e.setSysctl(SYS_DROP_PACKET, 1);
    e.setSysctl(SYS_AMEMTHRESH, 64);
    // 224 entries: 32 free < 64, so at the next second 1 in 64 / (64 - 32) = 2 is dropped.
    feed(io, Array.from({ length: 224 }, (_, j) => seg(j, "S")), T0);
    const out = feed(io, Array.from({ length: 8 }, (_, j) => seg(1000 + j, "S")), T0 + SEC);
    assert.equal(out.join(","), "tx,drop_packet,tx,drop_packet,tx,drop_packet,tx,drop_packet");
  });

  Deno.test(`[${make.name}] drop_entry's scan drops half-open and idle few-packet entries, keeps the rest`, async () => {
    const { io, e } = await small(make, 32); // 32 slots: the scan covers 1 slot a second
    e.setSysctl(SYS_DROP_ENTRY, 3);
    feed(io, [seg(0, "S")], T0); // slot 0: SYN_RECV
    feed(io, [seg(1, "S"), reply(1, "SA"), seg(1, "A")], T0); // slot 1: ESTABLISHED, 2 in packets
    feed(io, [seg(2, "S"), reply(2, "SA")], T0);
    feed(io, Array.from({ length: 9 }, () => seg(2, "A")), T0); // slot 2: ESTABLISHED, 10 in packets
    // One slot a second: in 40 s the scan passes every slot once. The half-open entry goes;
    // the established ones are not idle for 60 s yet.
    for (let s = 1; s <= 40; s++) io.run([], T0 + s * SEC);
    assert.deepEqual(states(e), ["ESTABLISHED", "ESTABLISHED"]);
    // Next time round they are: 2 in packets drops (its countdown starts at 0), 10 never does.
    for (let s = 41; s <= 140; s++) io.run([], T0 + s * SEC);
    const left = e.dumpConns();
    assert.equal(left.length, 1);
    assert.equal(left[0].inPkts, 10);
    assert.equal(e.counters()[C_CONN_DROPPED], 2);
  });

  Deno.test(`[${make.name}] secure_tcp 3 uses the tcp_states_dos table (NAT and DR)`, async () => {
    const { io, e } = await small(make);
    e.setSysctl(SYS_SECURE_TCP, 3);
    const steps: [Uint8Array, string][] = [
      [seg(1, "S"), "SYN_RECV"],
      [reply(1, "SA"), "SYNACK"], // OUT syn from SYN_RECV
      [seg(1, "A"), "SYNACK"], // IN ack: the client's ACK alone does not establish
      [reply(1, "A"), "ESTABLISHED"], // the server's first segment without SYN
    ];
    for (const [f, want] of steps) {
      feed(io, [f], T0);
      assert.equal(states(e)[0], want);
    }
    feed(io, [seg(2, "S", VIP_DR)], T0); // DR (input only): a SYN goes straight to SYNACK
    assert.equal(states(e)[1], "SYNACK");
    feed(io, [seg(2, "A", VIP_DR)], T0);
    assert.equal(states(e)[1], "ESTABLISHED");
    e.setSysctl(SYS_SECURE_TCP, 0); // back to the normal table
    feed(io, [seg(3, "S"), seg(3, "A")], T0 + SEC);
    assert.equal(states(e)[2], "ESTABLISHED");
  });
}
