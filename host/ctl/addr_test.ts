// Tests of ipvsadm's address syntax and the inet_* conversions (addr.ts), with the
// examples of spec ipvs-control-plane.md §2.
import assert from "node:assert/strict";
import {
  formatHostPort,
  formatIp,
  formatMac,
  inetAton,
  inetPton4,
  inetPton6,
  parseHostPort,
  parseIp,
  parseMac,
  stringToNumber,
} from "./addr.ts";

const ip = (s: string) => [...(inetPton4(s) ?? inetPton6(s) ?? [])];

Deno.test("stringToNumber() accepts what C strtol accepts in full and checks the range", () => {
  assert.equal(stringToNumber("80", 0, 65535), 80);
  assert.equal(stringToNumber(" 5", 0, 65535), 5); // errata: -w ' 5' is 5
  assert.equal(stringToNumber("+7", 0, 10), 7);
  assert.equal(stringToNumber("65536", 0, 65535), -1);
  assert.equal(stringToNumber("-1", 0, 65535), -1);
  assert.equal(stringToNumber("1x", 0, 65535), -1);
  assert.equal(stringToNumber("", 0, 65535), -1);
  assert.equal(stringToNumber("5 ", 0, 65535), -1);
});

Deno.test("inetAton() accepts the shorthand and radix forms glibc accepts", () => {
  assert.deepEqual([...inetAton("10.1")!], [10, 0, 0, 1]);
  assert.deepEqual([...inetAton("0x0a000001")!], [10, 0, 0, 1]);
  assert.deepEqual([...inetAton("10.1.2")!], [10, 1, 0, 2]);
  assert.deepEqual([...inetAton("012.0.0.1")!], [10, 0, 0, 1]);
  assert.deepEqual([...inetAton("198.18.0.1")!], [198, 18, 0, 1]);
  for (
    const bad of [
      "",
      "1.2.3.4.5",
      "256.0.0.1",
      "1.2.3.",
      "08.1.1.1",
      "a.b.c.d",
      "1.0x1000000",
      "host",
    ]
  ) {
    assert.equal(inetAton(bad), null, bad);
  }
});

Deno.test("inetPton4() takes exactly four decimal parts without leading zeros", () => {
  assert.deepEqual(ip("198.18.255.0"), [198, 18, 255, 0]);
  for (const bad of ["10.1", "01.2.3.4", "1.2.3.256", "1.2.3.4 "]) {
    assert.equal(inetPton4(bad), null, bad);
  }
});

Deno.test("inetPton6() parses compressed, full and IPv4-tailed forms and rejects the rest", () => {
  assert.deepEqual(ip("::"), new Array(16).fill(0));
  assert.deepEqual(ip("2001:2::1"), [0x20, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(ip("1:2:3:4:5:6:7:8"), [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
  assert.deepEqual(ip("1:2:3:4:5:6:7::"), [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0]);
  assert.deepEqual(ip("::ffff:198.18.0.1").slice(10), [0xff, 0xff, 198, 18, 0, 1]);
  for (
    const bad of [
      "",
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "12345::",
      "::1.2.3",
      "fe80::1%eth0",
      "1.2.3.4::",
    ]
  ) {
    assert.equal(inetPton6(bad), null, bad);
  }
});

Deno.test("formatIp() prints like inet_ntop, compressing the first longest zero run", () => {
  const rows = [
    "198.18.0.1",
    "::",
    "::1",
    "2001:2::1",
    "2001:2:0:1::1",
    "1:0:0:2::3",
    "1:2:3:4:5:6:7:8",
    "1::4:0:0:7:8",
    "::ffff:198.18.0.1",
    "::198.18.0.1",
  ];
  for (const text of rows) assert.equal(formatIp(parseIp(text)!.addr), text);
  // A single zero group is not compressed.
  assert.equal(formatIp(inetPton6("1:0:2:3:4:5:6:7")!), "1:0:2:3:4:5:6:7");
  assert.equal(formatHostPort(inetPton6("2001:2::1")!, 80), "[2001:2::1]:80");
  assert.equal(formatHostPort(inetPton4("198.18.0.1")!, 0), "198.18.0.1:0");
});

Deno.test("parseHostPort() follows ipvsadm's address rules", async (t) => {
  const ok = (arg: string, af: number, addr: string, port: number | undefined) => {
    const r = parseHostPort(arg);
    assert.ok(r.ok, `${arg}: ${!r.ok && r.reason}`);
    assert.equal(r.af, af, arg);
    assert.equal(formatIp(r.addr), addr, arg);
    assert.equal(r.port, port, arg);
  };
  const bad = (arg: string, re: RegExp) => {
    const r = parseHostPort(arg);
    assert.ok(!r.ok, arg);
    assert.match(r.reason, re, arg);
  };
  await t.step("IPv4 with and without a port", () => {
    ok("198.18.0.1:80", 2, "198.18.0.1", 80);
    ok("198.18.0.1", 2, "198.18.0.1", undefined);
    ok("10.1:80", 2, "10.0.0.1", 80);
  });
  await t.step("a plain IPv6 literal never has a port", () => {
    ok("2001:db8::1:80", 10, "2001:db8::1:80", undefined);
  });
  await t.step("a bracketed IPv6 address needs its port", () => {
    ok("[2001:2::1]:443", 10, "2001:2::1", 443);
    bad("[2001:2::1]", /needs ':port'/);
    bad("[2001:2::1", /missing '\]'/);
  });
  await t.step("a bracketed IPv4 address loses its port (ipvsadm quirk)", () => {
    ok("[198.18.0.1]:80", 2, "198.18.0.1", undefined);
  });
  await t.step("all-digit hosts, bad ports, names and named ports are rejected", () => {
    bad("1", /only of digits/);
    bad("", /only of digits/);
    bad("198.18.0.1:65536", /out of range/);
    bad("198.18.0.1:http", /named ports/);
    bad("www.example.com:80", /host names are not resolved/);
    bad("198.18.0.1:", /not numeric/);
  });
});

Deno.test("parseIp() takes strict IPv4 or IPv6 text only", () => {
  assert.equal(parseIp("198.18.0.1")?.af, 2);
  assert.equal(parseIp("2001:2::fe")?.af, 10);
  assert.equal(parseIp("10.1"), null);
  assert.equal(parseIp("[2001:2::fe]"), null);
});

Deno.test("parseMac() and formatMac() round-trip colon or dash separated MACs", () => {
  assert.equal(formatMac(parseMac("02:00:00:00:00:FE")!), "02:00:00:00:00:fe");
  assert.equal(formatMac(parseMac("2-0-0-0-0-1")!), "02:00:00:00:00:01");
  for (const bad of ["02:00:00:00:00", "02:00:00:00:00:100", "zz:00:00:00:00:00", ""]) {
    assert.equal(parseMac(bad), null, bad);
  }
});
