// Tests of explain.ts: header decoding and diffs on frames built by the packet builder, and
// explainReplay on the mixed capture with both engines: the output capture is replay's, byte
// for byte, and every frame's verdict, connection and rewrite agree with the summary and with
// the output frames' headers. Runs under Deno and Node (issue 8).
import assert from "node:assert/strict";
import {
  decodeHeaders,
  explainReplay,
  type FrameHeaders,
  headerChanges,
  headersText,
} from "./explain.ts";
import { replay } from "./replay_core.ts";
import { ENGINES, SMALL_CONFIG } from "../tests/fixtures/lab.ts";
import { LAB_RULES, labOptions, mixedCapture } from "../tests/fixtures/capture.ts";
import { arpReply, Frame } from "../tests/fixtures/packet_builder.ts";

const SYN = Frame.eth({ src: "02:00:00:00:00:01", dst: "02:00:00:00:00:fe", vlan: 7 })
  .ipv4({ src: "198.18.0.100", dst: "198.18.100.1", ttl: 64 })
  .tcp({ sport: 40000, dport: 80, flags: "S" })
  .build();

Deno.test("decodeHeaders() reads MACs, the VLAN tag, IPv4 and TCP", () => {
  const h = decodeHeaders(SYN);
  assert.deepEqual(h, {
    ethDst: "02:00:00:00:00:fe",
    ethSrc: "02:00:00:00:00:01",
    vlan: 7,
    ethType: 0x0800,
    ip: [{ version: 4, src: "198.18.0.100", dst: "198.18.100.1", ttl: 64, protocol: 6 }],
    l4: { protocol: "tcp", sport: 40000, dport: 80, flags: "S" },
  });
  assert.equal(headersText(h), "198.18.0.100:40000 → 198.18.100.1:80 TCP S ttl 64 vlan 7");
});

Deno.test("decodeHeaders() reads IPv6-in-IPv6, UDP, ARP, and stops at truncation", async (t) => {
  await t.step("a tunnelled IPv6 UDP datagram lists both IP headers, outer first", () => {
    const inner = Frame.eth().ipv6({ src: "2001:2::1", dst: "2001:2:0:100::1", hopLimit: 9 })
      .udp({ sport: 5000, dport: 53 }).build().subarray(14);
    const f = Frame.eth().ipv6({ src: "2001:2::fe", dst: "2001:2:0:1::3" }).raw(41, inner).build();
    const h = decodeHeaders(f);
    assert.deepEqual(h.ip.map((i) => [i.src, i.dst, i.protocol]), [
      ["2001:2::fe", "2001:2:0:1::3", 41],
      ["2001:2::1", "2001:2:0:100::1", 17],
    ]);
    assert.deepEqual(h.l4, { protocol: "udp", sport: 5000, dport: 53 });
    assert.match(headersText(h), /^\[2001:2::1\]:5000 → \[2001:2:0:100::1\]:53 UDP ttl 9 in IPv6/);
  });
  await t.step("ARP has no IP header", () => {
    const h = decodeHeaders(arpReply("02:00:00:00:00:33", "198.18.0.9"));
    assert.equal(h.ethType, 0x0806);
    assert.deepEqual(h.ip, []);
    assert.equal(headersText(h), "ARP 02:00:00:00:00:33 → ff:ff:ff:ff:ff:ff");
  });
  await t.step("a frame cut inside TCP has IP but no ports; a runt has nothing", () => {
    const h = decodeHeaders(SYN.subarray(0, 18 + 20 + 10));
    assert.equal(h.ip.length, 1);
    assert.equal(h.l4, undefined);
    assert.equal(headersText(decodeHeaders(SYN.subarray(0, 9))), "runt frame");
  });
});

Deno.test("headerChanges() lists NAT, tunnel and L2 rewrites", () => {
  const a = decodeHeaders(SYN);
  const nat: FrameHeaders = {
    ...a,
    ethDst: "02:00:00:00:01:01",
    ethSrc: "02:00:00:00:00:fe",
    ip: [{ ...a.ip[0], dst: "198.18.1.1", ttl: 63 }],
    l4: { ...a.l4!, dport: 8080 },
  };
  assert.deepEqual(headerChanges(a, nat), [
    "eth dst 02:00:00:00:00:fe → 02:00:00:00:01:01",
    "eth src 02:00:00:00:00:01 → 02:00:00:00:00:fe",
    "dst 198.18.100.1:80 → 198.18.1.1:8080",
    "ttl 64 → 63",
  ]);
  const tun: FrameHeaders = {
    ...a,
    ip: [{ version: 4, src: "198.18.0.254", dst: "198.18.1.3", ttl: 63, protocol: 4 }, {
      ...a.ip[0],
      ttl: 63,
    }],
  };
  assert.deepEqual(headerChanges(a, tun), [
    "+ IPv4 tunnel 198.18.0.254 → 198.18.1.3",
    "ttl 64 → 63",
  ]);
});

const CAPTURE = mixedCapture(2024, 1200);

for (const make of ENGINES) {
  Deno.test(`[${make.name}] explainReplay() matches replay and explains every frame`, async () => {
    const ex = explainReplay(await make.create(SMALL_CONFIG), LAB_RULES, CAPTURE, labOptions());
    const plain = replay(await make.create(SMALL_CONFIG), LAB_RULES, CAPTURE, labOptions());
    assert.deepEqual(ex.outPcap, plain.outPcap);
    assert.deepEqual(ex.summary, plain.summary);
    assert.deepEqual(ex.frames.map((f) => f.index), [...Array(1200).keys()]);

    const counter = (name: string) => ex.summary.counters.find((c) => c.name === name)?.value ?? 0;
    const by = (v: string) => ex.frames.filter((f) => f.verdict === v);
    assert.equal(by("tx").length, counter("tx"));
    assert.equal(by("drop").length, counter("drop"));
    assert.equal(by("pass").length, counter("pass"));
    assert.equal(ex.frames.filter((f) => f.reason === "not_vip").length, counter("not_vip"));
    assert.ok(counter("tx") > 500 && counter("drop") > 20 && counter("pass") > 100);

    for (const f of by("tx")) {
      // Issue 7: an IPv4 packet too big for the port leaves in two fragments, a first
      // fragment takes the held ones with it, and relayed ICMP errors (no L4 header of their
      // own) are not matched to a connection here.
      assert.ok(f.out.length >= 1, `frame ${f.index}`);
      if (!f.in.l4) continue;
      assert.ok(f.conn, `frame ${f.index} has no connection`);
      const o = f.out[0].headers;
      const inner = o.ip[o.ip.length - 1];
      if (f.conn.fwd === "masq" && f.conn.direction === "in") {
        // The destination became the real server the connection names.
        const dest = inner.version === 6
          ? `[${inner.dst}]:${o.l4!.dport}`
          : `${inner.dst}:${o.l4!.dport}`;
        assert.equal(dest, f.conn.dest, `frame ${f.index}`);
        assert.ok(f.changes.some((c) => c.startsWith("dst ")), `frame ${f.index}`);
      }
      if (f.conn.fwd === "tunnel") {
        assert.equal(o.ip.length, 2, `frame ${f.index}`);
        assert.ok(f.changes.some((c) => c.includes("tunnel")), `frame ${f.index}`);
      }
      if (f.conn.direction === "out") assert.ok(f.changes.some((c) => c.startsWith("src ")));
      assert.ok(f.changes.some((c) => c.startsWith("ttl ")), `frame ${f.index}`);
    }
    for (const f of [...by("pass"), ...by("drop")]) {
      // A drop may send one ICMP error back (issue 7: time exceeded, too big, no dest).
      const icmp = ["ttl_exceeded", "mtu_exceeded", "no_dest"].includes(f.reason) ? 1 : 0;
      assert.ok(f.out.length <= icmp, `frame ${f.index}`);
      assert.notEqual(f.reason, "");
    }
    const fwds = new Set(
      by("tx").filter((f) => f.conn).map((f) => `${f.conn!.fwd}/${f.conn!.direction}`),
    );
    assert.deepEqual([...fwds].sort(), ["masq/in", "masq/out", "route/in", "tunnel/in"]);
  });
}
