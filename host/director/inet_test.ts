import assert from "node:assert/strict";
import {
  formatIp,
  formatMac,
  inPrefix,
  parseIp,
  parseIp4,
  parseIp6,
  parseMac,
  parsePrefixed,
} from "./inet.ts";

Deno.test("parseIp() and formatIp() round-trip IPv4 and RFC 5952 IPv6 text", async (t) => {
  for (
    const text of [
      "198.18.0.1",
      "0.0.0.0",
      "2001:2::1",
      "2001:2:0:1::fe",
      "::",
      "::1",
      "fe80::1:2",
      "2001:db8:0:1:1:1:1:1",
    ]
  ) {
    await t.step(text, () => assert.equal(formatIp(parseIp(text)), text));
  }
});

Deno.test("formatIp() compresses the longest zero run, the first on a tie (RFC 5952 §4.2.3)", () => {
  assert.equal(formatIp(parseIp("2001:0:0:1:0:0:0:1")), "2001:0:0:1::1");
  assert.equal(formatIp(parseIp("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1");
  assert.equal(
    formatIp(parseIp("2001:db8:0:1:1:1:1:1")),
    "2001:db8:0:1:1:1:1:1",
    "a single zero word stays",
  );
});

Deno.test("parseIp4() and parseIp6() reject malformed text", () => {
  for (const bad of ["198.18.0", "198.18.0.256", "1.2.3.4.5", "a.b.c.d", "1..2.3"]) {
    assert.equal(parseIp4(bad), null, bad);
  }
  for (const bad of ["2001::2::1", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::1"]) {
    assert.equal(parseIp6(bad), null, bad);
  }
  assert.throws(() => parseIp("nope"), /Cannot parse IP address/);
});

Deno.test("inPrefix() matches on prefix bits only and never across families", () => {
  const p = parsePrefixed("198.18.1.254/23");
  assert.ok(inPrefix(parseIp("198.18.0.7"), p));
  assert.ok(!inPrefix(parseIp("198.18.2.7"), p));
  assert.ok(inPrefix(parseIp("2001:2:0:1::3"), parsePrefixed("2001:2:0:1::fe/64")));
  assert.ok(!inPrefix(parseIp("2001:2:0:2::3"), parsePrefixed("2001:2:0:1::fe/64")));
  assert.ok(!inPrefix(parseIp("::"), p));
  assert.ok(inPrefix(parseIp("203.0.113.9"), parsePrefixed("0.0.0.0/0")));
  assert.throws(() => parsePrefixed("198.18.0.1/33"), /prefix length/);
});

Deno.test("parseMac() reads sysfs text and formatMac() writes it back", () => {
  assert.equal(formatMac(parseMac("02:00:00:00:00:fe\n")), "02:00:00:00:00:fe");
  assert.throws(() => parseMac("02:00:00:00:00"), /Cannot parse MAC/);
});
