import assert from "node:assert/strict";
import type { DestSpec, Engine } from "../engine/engine.ts";
import {
  AF_INET,
  IP_VS_CONN_F_DROUTE,
  IP_VS_SVC_F_PERSISTENT,
  SCHED_MH,
  SCHED_SH,
  SCHED_WLC,
} from "../engine/abi.gen.ts";
import { createReferenceEngine } from "../engine/reference/reference_engine.ts";
import { FrameIo } from "../engine/frames.ts";
import { parseIp } from "./addr.ts";
import { previewChange } from "./preview.ts";
import { withSchedTables } from "./tables.ts";

const VIP = parseIp("198.18.100.1")!.addr;

function dest(last: number, weight: number): DestSpec {
  return {
    af: AF_INET,
    addr: Uint8Array.of(198, 18, 1, last),
    port: 80,
    fwd: IP_VS_CONN_F_DROUTE,
    weight,
    uThreshold: 0,
    lThreshold: 0,
    tunType: 0,
    tunPort: 0,
    tunFlags: 0,
  };
}

/** A SYN from 198.18.<i / 256>.<i % 256>:<1000 + i> to the VIP (IPv4 header checksum valid). */
function syn(i: number): Uint8Array {
  const f = new Uint8Array(54);
  f.set([0x08, 0x00], 12);
  f.set([0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 198, 18, (i >> 8) & 255, i & 255], 14);
  f.set(VIP, 30);
  f.set([(1000 + i) >> 8, (1000 + i) & 255, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02], 34);
  let s = 0;
  for (let k = 14; k < 34; k += 2) s += (f[k] << 8) | f[k + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  f[24] = (~s >> 8) & 255;
  f[25] = ~s & 255;
  return f;
}

function lab(sched: number, flags = 0): { e: Engine; svc: number; d: number[] } {
  const e = withSchedTables(
    createReferenceEngine({ maxConns: 4096, maxServices: 4, maxDests: 16, batch: 64, seed: 1 }),
  );
  e.setPort(0, { mac: new Uint8Array(6), mtu: 1500 });
  e.setNeigh(AF_INET, null, Uint8Array.of(2, 0, 0, 0, 0, 1), 0);
  const svc = e.addService({
    af: AF_INET,
    protocol: 6,
    addr: VIP,
    port: 80,
    fwmark: 0,
    sched,
    flags,
    timeout: 300,
    netmask: 0xffffff00,
  });
  const d = [3, 2, 1].map((last) => e.addDest(svc, dest(last, 1))).reverse(); // d[0] = .1 first
  const io = new FrameIo(e);
  for (let i = 0; i < 600; i += 60) {
    for (let k = 0; k < 60; k++) io.put(k, syn(i + k));
    e.processBatch(60, 1_700_000_000_000_000);
  }
  return { e, svc, d };
}

Deno.test("previewChange() counts exactly the slots that applying the change moves", () => {
  for (const sched of [SCHED_MH, SCHED_SH]) {
    const { e, svc, d } = lab(sched);
    const s = { index: svc, af: 2 as const, sched, flags: 0 };
    const before = e.schedTable(svc);
    const r = previewChange(e, s, { op: "remove", dest: d[1] });
    const onRemoved = e.dumpConns().filter((c) => c.dest === d[1]).length;
    assert.ok(onRemoved > 0);
    assert.equal(r.connections.total, 600);
    assert.equal(r.connections.moved, onRemoved);
    assert.equal(e.delDest(d[1]), 0);
    const after = e.schedTable(svc);
    assert.equal(r.slots!.moved, before.filter((x, i) => x !== after[i]).length);
    assert.ok(r.slots!.moved >= before.filter((x) => x === d[1]).length, "at least its own slots");
  }
});

Deno.test("previewChange() of an add: Maglev moves about 1/(n+1) of the slots", () => {
  const { e, svc } = lab(SCHED_MH);
  const s = { index: svc, af: 2 as const, sched: SCHED_MH, flags: 0 };
  const before = e.schedTable(svc);
  const r = previewChange(e, s, { op: "add", dest: dest(4, 1) });
  const share = r.slots!.moved / r.slots!.total;
  assert.ok(share > 0.2 && share < 0.32, `moved ${share}`);
  assert.equal(r.connections.moved, 0, "no connection loses its server");
  assert.ok(
    r.connections.remapped > 100 && r.connections.remapped < 200,
    `${r.connections.remapped}`,
  );
  assert.ok(e.addDest(svc, dest(4, 1)) >= 0);
  const after = e.schedTable(svc);
  const d = e.destList(svc)[0];
  assert.equal(before.filter((x, i) => x !== after[i]).length, r.slots!.moved);
  const gained = after.filter((x) => x === d).length;
  assert.ok(
    gained <= r.slots!.moved && gained > 0.9 * r.slots!.moved,
    "most moved slots go to the new dest",
  );
});

Deno.test("previewChange() of a weight: 0 keeps mh slots; templates move under expire_quiescent_template", () => {
  const plain = lab(SCHED_MH);
  const r = previewChange(plain.e, { index: plain.svc, af: 2, sched: SCHED_MH, flags: 0 }, {
    op: "weight",
    dest: plain.d[0],
    weight: 0,
  });
  assert.equal(r.slots!.moved, 0, "last_weight keeps the table");
  const onD0 = plain.e.dumpConns().filter((c) => c.dest === plain.d[0]).length;
  assert.equal(r.connections.remapped, onD0, "their clients would be refused (no fallback)");
  const { e, svc, d } = lab(SCHED_MH, IP_VS_SVC_F_PERSISTENT);
  const s = { index: svc, af: 2 as const, sched: SCHED_MH, flags: IP_VS_SVC_F_PERSISTENT };
  const r0 = previewChange(e, s, { op: "weight", dest: d[0], weight: 0 });
  assert.equal(r0.templates.moved, 0, "templates keep quiesced dests by default");
  const r1 = previewChange(e, s, { op: "weight", dest: d[0], weight: 0 }, {
    expireQuiescentTemplate: true,
  });
  const tplD0 = e.dumpConns().filter((c) => c.dest === d[0] && c.cport === 0).length;
  assert.ok(tplD0 > 0);
  assert.equal(r1.templates.moved, tplD0);
  assert.equal(r1.templates.total, 3, "one template per client /24 (three nets)");
  const r2 = previewChange(e, s, { op: "weight", dest: d[0], weight: 2 });
  assert.ok(r2.slots!.moved > 0);
});

Deno.test("previewChange() for a scheduler without slots reports connections only", () => {
  const { e, svc, d } = lab(SCHED_WLC);
  const r = previewChange(e, { index: svc, af: 2, sched: SCHED_WLC, flags: 0 }, {
    op: "remove",
    dest: d[2],
  });
  assert.equal(r.slots, null);
  assert.equal(r.connections.moved, 200);
  assert.equal(r.connections.remapped, 0);
});
