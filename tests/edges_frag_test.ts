// Issue 7, fragments: IPv4 and IPv6 fragments of a balanced flow, in order and out of order,
// reach the same real server, NATed, with every checksum valid once reassembled (judged by
// tests/fixtures/frag_builder.ts); early fragments are held, then sent or timed out; the
// memory is bounded. Both engines. Policy: ARCHITECTURE.md issue 7 decisions, frag.ts.
import assert from "node:assert/strict";
import { FrameIo } from "../host/engine/frames.ts";
import { FRAG_HOLD, FRAG_TIMEOUT, REASON_NAMES, V_TX } from "../host/engine/abi.gen.ts";
import { checksumsOk, decode } from "./fixtures/decode.ts";
import { fragmentFrame, reassemble } from "./fixtures/frag_builder.ts";
import { echoRequest, ipOf } from "./fixtures/icmp_builder.ts";
import { Frame } from "./fixtures/packet_builder.ts";
import {
  DIRECTOR_MAC,
  ENGINES,
  GW_MAC,
  RS4,
  RS6,
  RS_MAC,
  setupLab,
  SMALL_CONFIG,
  VIP,
} from "./fixtures/lab.ts";

const T0 = 1_700_000_000_000_000;
const SEC = 1_000_000;
const CL4 = "198.18.0.10";
const CL6 = "2001:2::10";

async function lab(make: (typeof ENGINES)[number]) {
  const e = await make.create(SMALL_CONFIG);
  setupLab(e);
  const io = new FrameIo(e);
  let now = T0;
  /** Runs frames as one batch; the clock moves 1 ms (or `dt` µs) first. */
  const run = (frames: Uint8Array[], dt = 1000) => {
    now += dt;
    const r = io.run(frames, now);
    return {
      why: r.verdicts.map((v, i) => (v === V_TX ? "tx" : REASON_NAMES[r.reasons[i]])),
      tx: r.tx,
    };
  };
  return { e, io, run };
}

const data = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
const v6 = (a: string) => a.includes(":");
const ip = (src: string, dst: string, eth = Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC })) =>
  v6(src) ? eth.ipv6({ src, dst }) : eth.ipv4({ src, dst });

/** A TCP segment with `n` bytes of data, and its fragments. */
function tcpSeg(src: string, dst: string, sport: number, dport: number, n: number, flags = "PA") {
  return ip(src, dst).tcp({ sport, dport, flags, seq: 5000 }).payload(data(n)).build();
}

for (const make of ENGINES) {
  for (const fam of [4, 6] as const) {
    const cl = fam === 4 ? CL4 : CL6;
    const nat = fam === 4 ? VIP.nat4 : VIP.nat6;
    const rsList = fam === 4 ? RS4 : RS6;

    for (const order of ["in order", "last first", "shuffled"] as const) {
      Deno.test(`[${make.name}] IPv${fam} NAT: fragments ${order} reach the connection's real server, NATed`, async () => {
        const c = await lab(make);
        const syn = c.run([ip(cl, nat).tcp({ sport: 7000, dport: 80, flags: "S" }).build()]);
        const rs = decode(syn.tx[0].bytes).ip!.dst;
        const seg = tcpSeg(cl, nat, 7000, 80, 1200);
        const parts = fragmentFrame(seg, [400, 400], 0xabcd);
        assert.equal(parts.length, 3);
        const sent = order === "in order"
          ? parts
          : order === "last first"
          ? [parts[2], parts[0], parts[1]]
          : [parts[1], parts[2], parts[0]];
        const outs: Uint8Array[] = [];
        const whys: string[] = [];
        for (const f of sent) {
          const r = c.run([f]);
          whys.push(r.why[0]);
          outs.push(...r.tx.map((t) => t.bytes));
        }
        const firstAt = sent.indexOf(parts[0]);
        assert.deepEqual(whys, sent.map((_, i) => (i < firstAt ? "frag_held" : "tx")));
        assert.equal(outs.length, 3);
        for (const o of outs) {
          const d = decode(o);
          assert.equal(d.dstMac, RS_MAC[rsList.indexOf(rs)]);
          assert.equal(d.ip!.dst, rs);
        }
        // Reassembled, it is the segment NATed: destination the real server's, checksums good.
        const whole = reassemble(outs);
        const frame = new Uint8Array([...outs[0].subarray(0, 14), ...whole]);
        assert.ok(checksumsOk(frame), "the reassembled segment's TCP checksum verifies");
        const d = decode(frame).ip!;
        assert.deepEqual([d.src, d.dst, d.l4!.sport, d.l4!.dport], [cl, rs, 7000, 8080]);
        assert.deepEqual(whole.subarray(whole.length - 1200), data(1200), "payload intact");
      });
    }

    Deno.test(`[${make.name}] IPv${fam} NAT: the real server's fragmented reply goes to the client from the VIP`, async () => {
      const c = await lab(make);
      const syn = c.run([ip(cl, nat).tcp({ sport: 7100, dport: 80, flags: "S" }).build()]);
      const rs = decode(syn.tx[0].bytes).ip!.dst;
      const reply = ip(rs, cl, Frame.eth({ src: RS_MAC[0], dst: DIRECTOR_MAC })).tcp({
        sport: 8080,
        dport: 7100,
        flags: "PA",
      }).payload(data(900)).build();
      const parts = fragmentFrame(reply, [512], 77);
      const r = c.run([parts[1], parts[0]]); // one batch: the later one first
      assert.deepEqual(r.why, ["frag_held", "tx"]);
      assert.equal(r.tx.length, 2);
      assert.deepEqual(r.tx.map((t) => t.rx), [1, 1], "both leave with the first fragment");
      const whole = reassemble(r.tx.map((t) => t.bytes));
      const d = decode(new Uint8Array([...r.tx[0].bytes.subarray(0, 14), ...whole]));
      assert.deepEqual([d.ip!.src, d.ip!.dst, d.ip!.l4!.sport, d.ip!.l4!.checksumOk], [
        nat,
        cl,
        80,
        true,
      ]);
      assert.equal(d.dstMac, GW_MAC);
    });
  }

  Deno.test(`[${make.name}] DR and TUN: every fragment follows the entry (TUN encapsulates each)`, async () => {
    const c = await lab(make);
    for (const [vip, proto] of [[VIP.dr4, 6], [VIP.tun4, 4]] as const) {
      const seg = tcpSeg(CL4, vip, 7200, 80, 600, "S");
      const parts = fragmentFrame(seg, [304]);
      const r = c.run([parts[1], parts[0]]);
      assert.deepEqual(r.why, ["frag_held", "tx"], vip);
      assert.equal(r.tx.length, 2);
      for (const t of r.tx) {
        const d = decode(t.bytes);
        assert.equal(d.ip!.proto, proto);
        assert.equal(d.dstMac, RS_MAC[0]);
      }
      if (proto === 4) {
        const inner = r.tx.map((t) =>
          new Uint8Array([...t.bytes.subarray(0, 14), ...ipOf(t.bytes).subarray(20)])
        );
        assert.ok(checksumsOk(new Uint8Array([...inner[0].subarray(0, 14), ...reassemble(inner)])));
      }
    }
  });

  Deno.test(`[${make.name}] a fragmented UDP datagram: the checksum is fixed, a zero one stays zero`, async () => {
    const c = await lab(make);
    for (const zero of [false, true]) {
      const dg = Frame.eth().ipv4({ src: CL4, dst: VIP.nat4 }).udp({
        sport: 7300 + (zero ? 1 : 0),
        dport: 53,
        zeroChecksum: zero,
      }).payload(data(700)).build();
      const r = c.run(fragmentFrame(dg, [400]));
      assert.deepEqual(r.why, ["tx", "tx"]);
      const whole = reassemble(r.tx.map((t) => t.bytes));
      const d = decode(new Uint8Array([...r.tx[0].bytes.subarray(0, 14), ...whole])).ip!;
      assert.equal(d.l4!.dport, 5353);
      assert.equal(d.l4!.checksumField === 0, zero);
      assert.ok(d.l4!.checksumOk);
    }
  });

  Deno.test(`[${make.name}] fragments of traffic that is not balanced follow their first one's verdict`, async () => {
    const c = await lab(make);
    const notVip = fragmentFrame(tcpSeg(CL4, "198.18.100.99", 7400, 80, 300, "S"), [160], 1);
    assert.deepEqual(c.run(notVip).why, ["not_vip", "not_vip"]);
    const ackless = fragmentFrame(tcpSeg(CL4, VIP.nat4, 7401, 80, 300, "A"), [160], 2);
    assert.deepEqual(c.run(ackless).why, ["tcp_no_syn", "tcp_no_syn"]);
    const ping = fragmentFrame(echoRequest(CL4, VIP.nat4, 1, 1, 400), [200], 3);
    assert.deepEqual(c.run(ping).why, ["not_l4", "not_l4"]);
    const tiny = fragmentFrame(tcpSeg(CL4, VIP.nat4, 7402, 80, 64, "S"), [8], 4);
    assert.deepEqual(
      c.run(tiny).why,
      ["trunc_l4", "frag_held"],
      "a first fragment without the whole TCP header",
    );
  });

  Deno.test(`[${make.name}] held fragments time out after FRAG_TIMEOUT; at most FRAG_HOLD wait`, async () => {
    const c = await lab(make);
    c.run([ip(CL4, VIP.nat4).tcp({ sport: 7500, dport: 80, flags: "S" }).build()]);
    const parts = fragmentFrame(tcpSeg(CL4, VIP.nat4, 7500, 80, 600), [304], 99);
    assert.deepEqual(c.run([parts[1]]).why, ["frag_held"]);
    const late = c.run([parts[0]], (FRAG_TIMEOUT + 1) * SEC);
    assert.equal(late.tx.length, 1, "the held piece was freed: only the first leaves");
    // FRAG_HOLD orphans wait; one more finds no room.
    const orphans = Array.from(
      { length: FRAG_HOLD + 1 },
      (_, i) => fragmentFrame(tcpSeg(CL4, VIP.nat4, 8000 + i, 80, 300), [160], 1000 + i)[1],
    );
    const why: string[] = [];
    for (let i = 0; i < orphans.length; i += 32) why.push(...c.run(orphans.slice(i, i + 32)).why);
    assert.equal(why.filter((w) => w === "frag_held").length, FRAG_HOLD);
    assert.equal(why.at(-1), "fragment");
    // After the timeout they are all free again.
    assert.deepEqual(c.run([orphans[0]], (FRAG_TIMEOUT + 1) * SEC).why, ["frag_held"]);
  });

  Deno.test(`[${make.name}] the tracked outcome lasts FRAG_TIMEOUT seconds`, async () => {
    const c = await lab(make);
    c.run([ip(CL4, VIP.nat4).tcp({ sport: 7600, dport: 80, flags: "S" }).build()]);
    const parts = fragmentFrame(tcpSeg(CL4, VIP.nat4, 7600, 80, 900), [304, 304], 5);
    assert.deepEqual(c.run([parts[0], parts[1]]).why, ["tx", "tx"]);
    assert.deepEqual(c.run([parts[2]], (FRAG_TIMEOUT - 1) * SEC).why, ["tx"]);
    assert.deepEqual(c.run([parts[2]], 2 * SEC).why, ["frag_held"]);
  });
}
