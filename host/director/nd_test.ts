// Frames below were captured from Linux 6.18 between two namespaces
// (2001:2::1 at 02:00:00:00:00:01 resolving 2001:2::2 at 02:00:00:00:00:02).
import assert from "node:assert/strict";
import { formatIp, formatMac, parseIp, parseMac } from "./inet.ts";
import {
  NA_FLAG_OVERRIDE,
  NA_FLAG_SOLICITED,
  ND_NEIGHBOR_ADVERT,
  ND_NEIGHBOR_SOLICIT,
  neighborAdvertisement,
  neighborSolicitation,
  parseNd,
  solicitedNode,
  unsolicitedAdvertisement,
} from "./nd.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));

const KERNEL_NS = hex(`3333ff000002 020000000001 86dd 6000000000203aff
  20010002000000000000000000000001 ff0200000000000000000001ff000002
  8700 3793 00000000 20010002000000000000000000000002 0101 020000000001`);
const KERNEL_NA = hex(`020000000001 020000000002 86dd 6000000000203aff
  20010002000000000000000000000002 20010002000000000000000000000001
  8800 b393 60000000 20010002000000000000000000000002 0201 020000000002`);

Deno.test("parseNd() reads the kernel's solicitation and its source link-layer option", () => {
  const r = parseNd(KERNEL_NS)!;
  assert.equal(r.type, ND_NEIGHBOR_SOLICIT);
  assert.equal(formatIp(r.src), "2001:2::1");
  assert.equal(formatIp(r.target), "2001:2::2");
  assert.equal(formatMac(r.lladdr!), "02:00:00:00:00:01");
});

Deno.test("neighborSolicitation() builds the kernel's solicitation byte for byte", () => {
  const out = neighborSolicitation(
    parseMac("02:00:00:00:00:01"),
    parseIp("2001:2::1"),
    parseIp("2001:2::2"),
  );
  assert.deepEqual(out, KERNEL_NS);
});

Deno.test("neighborAdvertisement() answers the kernel's solicitation as the kernel does", () => {
  const out = neighborAdvertisement(parseMac("02:00:00:00:00:02"), parseNd(KERNEL_NS)!);
  assert.deepEqual(out, KERNEL_NA);
  const r = parseNd(out)!;
  assert.equal(r.type, ND_NEIGHBOR_ADVERT);
  assert.equal(r.flags, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE);
});

Deno.test("neighborAdvertisement() answers duplicate address detection to all-nodes without S", () => {
  const dad = parseNd(KERNEL_NS)!;
  dad.src = new Uint8Array(16);
  const r = parseNd(neighborAdvertisement(parseMac("02:00:00:00:00:02"), dad))!;
  assert.equal(formatIp(r.dst), "ff02::1");
  assert.equal(r.flags, NA_FLAG_OVERRIDE);
});

Deno.test("unsolicitedAdvertisement() announces the target to all-nodes with its MAC", () => {
  const f = unsolicitedAdvertisement(parseMac("02:00:00:00:00:fe"), parseIp("2001:2::100"));
  assert.equal(formatMac(f.subarray(0, 6)), "33:33:00:00:00:01");
  const r = parseNd(f)!;
  assert.equal(formatIp(r.target), "2001:2::100");
  assert.equal(formatMac(r.lladdr!), "02:00:00:00:00:fe");
});

Deno.test("solicitedNode() keeps the low 24 bits (RFC 4291 §2.7.1)", () => {
  assert.equal(formatIp(solicitedNode(parseIp("2001:2:0:1::abcd:1234"))), "ff02::1:ffcd:1234");
});

Deno.test("parseNd() ignores bad checksums, forwarded packets and short frames", async (t) => {
  await t.step("checksum off by one", () => {
    const f = KERNEL_NS.slice();
    f[57]++;
    assert.equal(parseNd(f), null);
  });
  await t.step("hop limit 254", () => {
    const f = KERNEL_NS.slice();
    f[21] = 254;
    assert.equal(parseNd(f), null);
  });
  await t.step("truncated option", () => assert.equal(parseNd(KERNEL_NS.subarray(0, 84)), null));
  await t.step("an option of length 0", () => {
    const f = KERNEL_NS.slice();
    f[79] = 0;
    assert.equal(parseNd(f), null);
  });
});
