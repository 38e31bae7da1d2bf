import assert from "node:assert/strict";
import { Frame } from "../../tests/fixtures/packet_builder.ts";
import { decode } from "../../tests/fixtures/decode.ts";
import { completeL4Checksum, looksPartial } from "./csum_fixup.ts";

/** What the kernel hands a packet socket for CHECKSUM_PARTIAL: the field holds a partial sum. */
function partial(f: Uint8Array, at: number): Uint8Array {
  const g = f.slice();
  g[at] = 0x12;
  g[at + 1] = 0x34;
  return g;
}

Deno.test("completeL4Checksum() completes TCP over IPv4, at an offset inside a larger buffer", () => {
  const f = Frame.eth().ipv4({ src: "198.18.0.1", dst: "198.18.0.100" }).tcp({
    sport: 40000,
    dport: 80,
    flags: "PA",
  })
    .payload("GET / HTTP/1.0\r\n\r\n").build();
  const buf = new Uint8Array(f.length + 200);
  buf.set(partial(f, 14 + 20 + 16), 128);
  assert.equal(completeL4Checksum(buf, 128, f.length), true);
  assert.deepEqual(buf.subarray(128, 128 + f.length), f);
  assert.equal(decode(f).ip?.l4?.checksumOk, true);
});

Deno.test("completeL4Checksum() completes UDP over IPv6 and TCP behind an 802.1Q tag", () => {
  const u = Frame.eth().ipv6({ src: "2001:2::1", dst: "2001:2::100" }).udp({
    sport: 5000,
    dport: 53,
  }).payload("q").build();
  const gu = partial(u, 14 + 40 + 6);
  assert.equal(completeL4Checksum(gu, 0, gu.length), true);
  assert.deepEqual(gu, u);
  const t = Frame.eth({ vlan: 7 }).ipv4({ src: "198.18.0.1", dst: "198.18.0.100" }).tcp({
    sport: 1,
    dport: 80,
    flags: "S",
  })
    .build();
  const gt = partial(t, 18 + 20 + 16);
  assert.equal(completeL4Checksum(gt, 0, gt.length), true);
  assert.deepEqual(gt, t);
});

Deno.test("completeL4Checksum() leaves fragments, ICMP, ARP and truncated frames alone", async (t) => {
  const cases: [string, Uint8Array][] = [
    [
      "a fragment",
      Frame.eth().ipv4({ src: "198.18.0.1", dst: "198.18.0.2", mf: true }).udp({
        sport: 1,
        dport: 2,
      }).build(),
    ],
    [
      "ICMP",
      Frame.eth().ipv4({ src: "198.18.0.1", dst: "198.18.0.2" }).raw(1, new Uint8Array(8)).build(),
    ],
    ["ARP", Frame.eth({ type: 0x0806 }).payload(new Uint8Array(28)).build()],
  ];
  const tcp = Frame.eth().ipv4({ src: "198.18.0.1", dst: "198.18.0.2" }).tcp({ sport: 1, dport: 2 })
    .build();
  cases.push(["a TCP frame cut inside its header", tcp.subarray(0, 14 + 20 + 10)]);
  for (const [what, f] of cases) {
    await t.step(what, () => {
      const g = f.slice();
      assert.equal(completeL4Checksum(g, 0, g.length), false);
      assert.deepEqual(g, f);
    });
  }
});

/** The folded pseudo-header sum of a frame's L4 segment, as Linux leaves it for the device. */
function pseudoFold(addrs: Uint8Array, proto: number, l4len: number): number {
  let s = proto + (l4len >>> 16) + (l4len & 0xffff);
  for (let i = 0; i < addrs.length; i += 2) s += (addrs[i] << 8) | addrs[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

Deno.test("looksPartial() recognises the field CHECKSUM_PARTIAL leaves, and only that", async (t) => {
  await t.step("TCP over IPv4", () => {
    const f = Frame.eth().ipv4({ src: "198.18.0.1", dst: "198.18.0.100" }).tcp({
      sport: 40000,
      dport: 80,
      flags: "S",
    }).build();
    assert.equal(looksPartial(f, 0, f.length), false);
    const g = f.slice();
    const p = pseudoFold(f.subarray(14 + 12, 14 + 20), 6, f.length - 34);
    g[14 + 20 + 16] = p >> 8;
    g[14 + 20 + 17] = p & 0xff;
    assert.equal(looksPartial(g, 0, g.length), true);
    assert.equal(completeL4Checksum(g, 0, g.length), true);
    assert.deepEqual(g, f);
  });
  await t.step("UDP over IPv6", () => {
    const f = Frame.eth().ipv6({ src: "2001:2::1", dst: "2001:2::100" }).udp({
      sport: 5000,
      dport: 53,
    }).payload("query").build();
    const g = f.slice();
    const p = pseudoFold(f.subarray(14 + 8, 14 + 40), 17, f.length - 54);
    g[14 + 40 + 6] = p >> 8;
    g[14 + 40 + 7] = p & 0xff;
    assert.equal(looksPartial(f, 0, f.length), false);
    assert.equal(looksPartial(g, 0, g.length), true);
  });
  await t.step("not for ARP or ICMP", () => {
    const a = Frame.eth({ type: 0x0806 }).payload(new Uint8Array(28)).build();
    assert.equal(looksPartial(a, 0, a.length), false);
  });
});
