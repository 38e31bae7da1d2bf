import assert from "node:assert/strict";
import { Frame } from "../../tests/fixtures/packet_builder.ts";
import { decode } from "../../tests/fixtures/decode.ts";
import { completeL4Checksum } from "./csum_fixup.ts";

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
