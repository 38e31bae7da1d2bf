// echoReply() against requests built by the test PacketBuilder: addresses and
// MACs swapped, type changed, checksums valid from scratch (RFC 1071), the
// 802.1Q tag kept; malformed requests are refused.
import assert from "node:assert/strict";
import { checksum, Frame } from "../../tests/fixtures/packet_builder.ts";
import { decode } from "../../tests/fixtures/decode.ts";
import { echoReply } from "./icmp.ts";
import { parseMac } from "./inet.ts";

const DIR = parseMac("02:00:00:00:00:fe");
const ECHO = Uint8Array.of(8, 0, 0xf7, 0xfd, 0, 1, 0, 1); // id 1 seq 1, checksum of the 8 bytes

Deno.test("echoReply() answers an IPv4 echo request to the VIP with valid checksums", () => {
  const req = Frame.eth({ src: "02:00:00:00:00:01", dst: "02:00:00:00:00:fe" })
    .ipv4({ src: "198.18.0.1", dst: "198.18.0.100", ttl: 9 }).raw(1, ECHO).build();
  const r = echoReply(req, 14, DIR)!;
  const d = decode(r);
  assert.equal(d.dstMac, "02:00:00:00:00:01");
  assert.equal(d.srcMac, "02:00:00:00:00:fe");
  assert.equal(d.ip?.src, "198.18.0.100");
  assert.equal(d.ip?.dst, "198.18.0.1");
  assert.equal(d.ip?.ttl, 64);
  assert.equal(d.ip?.headerOk, true);
  assert.equal(r[34], 0, "type echo reply");
  assert.equal(checksum(r.subarray(34)), 0, "ICMP checksum verifies");
  assert.deepEqual(r.subarray(38), req.subarray(38), "identifier, sequence and data echoed");
});

Deno.test("echoReply() answers ICMPv6 echo behind an 802.1Q tag and keeps the tag", () => {
  const req = Frame.eth({ src: "02:00:00:00:00:01", dst: "02:00:00:00:00:fe", vlan: 10 })
    .ipv6({ src: "2001:2::1", dst: "2001:2::100" }).raw(58, Uint8Array.of(128, 0, 0, 0, 0, 7, 0, 1))
    .build();
  const r = echoReply(req, 18, DIR)!;
  const d = decode(r);
  assert.equal(d.vlan, 10);
  assert.equal(d.ip?.src, "2001:2::100");
  assert.equal(d.ip?.dst, "2001:2::1");
  assert.equal(r[58], 129);
  // Pseudo header (RFC 4443 §2.3) + message must sum to 0xffff.
  const l4 = r.subarray(58);
  const pseudo = new Uint8Array(40 + l4.length);
  pseudo.set(r.subarray(26, 58), 0);
  pseudo[35] = l4.length;
  pseudo[39] = 58;
  pseudo.set(l4, 40);
  assert.equal(checksum(pseudo), 0);
});

Deno.test("echoReply() refuses what is not a whole echo request", async (t) => {
  const v4 = (icmp: Uint8Array, o = {}) =>
    Frame.eth({}).ipv4({ src: "198.18.0.1", dst: "198.18.0.100", ...o }).raw(1, icmp).build();
  await t.step(
    "an echo reply",
    () => assert.equal(echoReply(v4(Uint8Array.of(0, 0, 0, 0, 0, 1, 0, 1)), 14, DIR), null),
  );
  await t.step("a fragment", () => assert.equal(echoReply(v4(ECHO, { mf: true }), 14, DIR), null));
  await t.step(
    "a truncated header",
    () => assert.equal(echoReply(v4(ECHO).subarray(0, 30), 14, DIR), null),
  );
});
