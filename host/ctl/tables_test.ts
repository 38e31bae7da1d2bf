import assert from "node:assert/strict";
import {
  dhTable,
  mhPermutation,
  mhTable,
  shTable,
  tableChanges,
  type TableDest,
} from "./tables.ts";
import { hash32, hsiphash32, MH_KEY1 } from "../engine/reference/sched/hashing.ts";
import { parseRules, type ServiceRule } from "./rules.ts";
import { IpvsModel } from "./model.ts";
import * as abi from "../engine/abi.gen.ts";

function ip4(s: string): Uint8Array {
  return Uint8Array.from(s.split(".").map(Number));
}

function hostOrder(s: string): number {
  return s.split(".").reduce((x, y) => ((x << 8) | Number(y)) >>> 0, 0);
}

/** The spec's list [192.0.2.13, .12, .11] (:80), indices 13, 12, 11 so slots read as names. */
function rs(weights: number[]): TableDest[] {
  return [13, 12, 11].map((last, i) => ({
    index: last,
    af: 2 as const,
    addr: ip4(`192.0.2.${last}`),
    port: 80,
    weight: weights[i],
    lastWeight: weights[i],
  }));
}

Deno.test("hash_32 and hsiphash give the spec's test vectors (§1.16)", () => {
  const bucket = (a: string, port = 0) => hash32((port + hostOrder(a)) >>> 0, 8);
  assert.deepEqual(["198.51.100.10", "198.51.100.11", "203.0.113.77"].map((a) => bucket(a)), [
    208,
    50,
    57,
  ]);
  assert.deepEqual(
    ["198.51.100.10", "198.51.100.11", "203.0.113.77"].map((a) => bucket(a, 50000)),
    [29, 127, 134],
  );
  assert.equal(bucket("203.0.113.10"), 162, "DH 8-bit bucket");
  assert.equal(bucket("8.8.8.8"), 188);
  assert.equal(hash32(hostOrder("203.0.113.10"), 10), 648, "LBLC 10-bit bucket");
  assert.equal(hash32(hostOrder("8.8.8.8"), 10), 754);
  assert.equal(hash32(0x20010da8, 8), 192, "fold of 2001:db8::10 = 0x20010da8");
  assert.equal(hsiphash32(0, MH_KEY1), 0x1d5a77c2);
  assert.equal(hsiphash32(1, MH_KEY1), 0x16ec66b2);
  const h = hsiphash32(hostOrder("198.51.100.10"), MH_KEY1);
  assert.equal(h, 0xb0e8eb9d);
  assert.equal(h % 4093, 3456);
});

Deno.test("shTable() gives each dest max(weight, 1) slots per round (spec §1.16)", () => {
  const t = shTable(rs([1, 2, 1]));
  assert.deepEqual([...t.slice(0, 8)], [13, 12, 12, 11, 13, 12, 12, 11]);
  assert.deepEqual([...shTable(rs([0, 0, 1])).slice(0, 6)], [13, 12, 11, 13, 12, 11]);
  assert.ok(shTable([]).every((x) => x === -1));
});

Deno.test("dhTable() gives slot i to the (i mod n)-th dest", () => {
  const t = dhTable(rs([5, 0, 1]));
  assert.deepEqual([...t.slice(0, 7)], [13, 12, 11, 13, 12, 11, 13]);
  assert.equal(t[255], [13, 12, 11][255 % 3]);
});

Deno.test("mhTable() matches the spec's M = 4093 vectors (§1.16)", () => {
  const dests = rs([1, 1, 1]);
  assert.deepEqual(dests.map((d) => mhPermutation(2, d, 4093)), [
    { offset: 2261, skip: 1546 },
    { offset: 1228, skip: 3320 },
    { offset: 3880, skip: 1853 },
  ]);
  const t = mhTable(2, dests, 4093, 6);
  const count = (i: number) => t.filter((x) => x === i).length;
  assert.deepEqual([count(11), count(12), count(13)], [1364, 1364, 1365]);
  const slot = (a: string) => t[hsiphash32(hostOrder(a), MH_KEY1) % 4093];
  assert.deepEqual(
    ["198.51.100.10", "198.51.100.11", "198.51.100.12", "203.0.113.77"].map(slot),
    [11, 11, 11, 13],
  );
});

Deno.test("mhTable() follows last weights: 0-weight edits keep slots, 0-weight adds get none", () => {
  const d = rs([3, 2, 1]);
  const t = mhTable(2, d, 4093, 6);
  const share = (i: number) => t.filter((x) => x === i).length / 4093;
  assert.ok(Math.abs(share(13) - 3 / 6) < 0.01 && Math.abs(share(11) - 1 / 6) < 0.01);
  const quiesced = d.map((x) => x.index === 12 ? { ...x, weight: 0 } : x);
  assert.deepEqual(mhTable(2, quiesced, 4093, 6), t, "weight 0 keeps last_weight");
  const added = d.map((x) => x.index === 12 ? { ...x, weight: 0, lastWeight: 0 } : x);
  assert.equal(mhTable(2, added, 4093, 6).filter((x) => x === 12).length, 0);
  assert.ok(mhTable(2, [], 4093, 6).every((x) => x === -1));
});

Deno.test("tableChanges() lists only the slots that differ", () => {
  assert.deepEqual(tableChanges([1, 2, 3, -1], [1, 5, 3, 4]), [1, 5, 3, 4]);
  assert.deepEqual(tableChanges(new Int32Array(0), [7, -1]), [0, 7]);
});

Deno.test("the rules parser takes all 14 schedulers, persistence and -o", () => {
  const names = "rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos".split(" ");
  const text = names.map((n, i) => `-A -t 198.18.0.${i + 1}:80 -s ${n}`).join("\n") +
    "\n-A -t 198.18.1.1:80 -s sh -b sh-fallback,sh-port -p 60 -M 255.255.255.0" +
    "\n-A -u 198.18.1.2:53 -s mh -b mh-fallback,mh-port -o -p" +
    "\n-A -f 7 -s rr -p 300\n-A -t 198.18.1.3:0 -s wlc -p\n";
  const m = IpvsModel.fromRules(parseRules(text));
  const ids = m.services.map((s) => s.spec.sched);
  assert.deepEqual(
    ids.slice(0, 14),
    names.map((n) => (abi as unknown as Record<string, number>)[`SCHED_${n.toUpperCase()}`]),
  );
  const sh = m.services[14].spec;
  assert.equal(
    sh.flags,
    abi.IP_VS_SVC_F_PERSISTENT | abi.IP_VS_SVC_F_SCHED1 | abi.IP_VS_SVC_F_SCHED2,
  );
  assert.deepEqual([sh.timeout, sh.netmask], [60, 0xffffff00]);
  const ops = m.services[15].spec;
  assert.equal(ops.flags & abi.IP_VS_SVC_F_ONEPACKET, abi.IP_VS_SVC_F_ONEPACKET);
  assert.equal((parseRules(text)[0] as ServiceRule).schedName, "rr");
});
