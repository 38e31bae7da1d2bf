// Frames below were captured from Linux 6.18 between two namespaces (veth does
// not pad, so the kernel's frames are 42 bytes; ours are padded to 60).
import assert from "node:assert/strict";
import {
  ARP_FRAME_LEN,
  ARP_REPLY,
  ARP_REQUEST,
  arpReply,
  arpRequest,
  gratuitousArp,
  parseArp,
} from "./arp.ts";
import { formatIp, formatMac, parseIp, parseMac } from "./inet.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));

const KERNEL_REQUEST = hex(`ffffffffffff 020000000001 0806 0001 0800 06 04 0001
  020000000001 c6120001 000000000000 c6120002`);
const KERNEL_REPLY = hex(`020000000001 020000000002 0806 0001 0800 06 04 0002
  020000000002 c6120002 020000000001 c6120001`);

Deno.test("parseArp() reads the kernel's request for 198.18.0.2", () => {
  const r = parseArp(KERNEL_REQUEST)!;
  assert.equal(r.op, ARP_REQUEST);
  assert.equal(formatMac(r.sha), "02:00:00:00:00:01");
  assert.equal(formatIp(r.spa), "198.18.0.1");
  assert.equal(formatIp(r.tpa), "198.18.0.2");
});

Deno.test("arpReply() answers a request with the bytes the kernel sends, padded to 60", () => {
  const out = arpReply(parseMac("02:00:00:00:00:02"), parseArp(KERNEL_REQUEST)!);
  assert.equal(out.length, ARP_FRAME_LEN);
  assert.deepEqual(out.subarray(0, 42), KERNEL_REPLY);
  assert.ok(out.subarray(42).every((b) => b === 0));
});

Deno.test("arpRequest() builds the kernel's request byte for byte", () => {
  const out = arpRequest(
    parseMac("02:00:00:00:00:01"),
    parseIp("198.18.0.1"),
    parseIp("198.18.0.2"),
  );
  assert.deepEqual(out.subarray(0, 42), KERNEL_REQUEST);
});

Deno.test("gratuitousArp() is a broadcast request whose sender and target are the announced address", () => {
  const r = parseArp(gratuitousArp(parseMac("02:00:00:00:00:fe"), parseIp("198.18.0.100")))!;
  assert.equal(r.op, ARP_REQUEST);
  assert.equal(formatIp(r.spa), "198.18.0.100");
  assert.equal(formatIp(r.tpa), "198.18.0.100");
  assert.equal(formatMac(r.sha), "02:00:00:00:00:fe");
});

Deno.test("parseArp() follows one 802.1Q tag", () => {
  const tagged = new Uint8Array(KERNEL_REQUEST.length + 4);
  tagged.set(KERNEL_REQUEST.subarray(0, 12));
  tagged.set([0x81, 0x00, 0x00, 0x07], 12);
  tagged.set(KERNEL_REQUEST.subarray(12), 16);
  assert.equal(formatIp(parseArp(tagged)!.tpa), "198.18.0.2");
});

Deno.test("parseArp() rejects truncated, non-IPv4 and non-ARP frames", async (t) => {
  await t.step(
    "truncated by one byte",
    () => assert.equal(parseArp(KERNEL_REQUEST.subarray(0, 41)), null),
  );
  await t.step("protocol type 0x86dd", () => {
    const f = KERNEL_REQUEST.slice();
    f[16] = 0x86;
    f[17] = 0xdd;
    assert.equal(parseArp(f), null);
  });
  await t.step("ethertype IPv4", () => {
    const f = KERNEL_REQUEST.slice();
    f[13] = 0x00;
    assert.equal(parseArp(f), null);
  });
  await t.step("reply op is kept", () => assert.equal(parseArp(KERNEL_REPLY)!.op, ARP_REPLY));
});
