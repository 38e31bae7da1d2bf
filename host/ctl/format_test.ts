import assert from "node:assert/strict";
import {
  destName,
  largeNumber,
  listDestRow,
  rateDestRow,
  rateServiceRow,
  serviceName,
} from "./format.ts";

const v4 = (s: string) => Uint8Array.from(s.split(".").map(Number));

Deno.test("largeNumber() switches units at 10^8, 10^9, 10^11 and 10^14, truncating", () => {
  assert.equal(largeNumber(99_999_999), " 99999999");
  assert.equal(largeNumber(100_000_000), "  100000K");
  assert.equal(largeNumber(123_456_789), "  123456K");
  assert.equal(largeNumber(1_500_000_000), "    1500M");
  assert.equal(largeNumber(123_000_000_000), "     123G");
  assert.equal(largeNumber(999_000_000_000_000), "     999T");
  assert.equal(largeNumber(100000000, true), " 100000000");
});

Deno.test("rate rows match ipvsadm's --rate layout from the spec", () => {
  assert.equal(
    rateServiceRow(serviceName(6, v4("10.0.0.1"), 80, 0), [3, 0, 0, 250000, 0]),
    "TCP  10.0.0.1:80                         3        0        0   250000        0",
  );
  assert.equal(
    rateDestRow(destName(v4("192.168.10.1"), 8080), [12, 34, 0, 1_500_000_000, 0]),
    "  -> 192.168.10.1:8080                  12       34        0    1500M        0",
  );
});

Deno.test("listDestRow() matches the default listing's real-server row", () => {
  assert.equal(
    listDestRow(destName(v4("192.168.10.2"), 80), 0, 1, 5, 10),
    "  -> 192.168.10.2:80              Masq    1      5          10",
  );
});
