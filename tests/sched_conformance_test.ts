// Scheduler conformance, table-driven, run against every engine (STYLE G15, G19): each row
// builds one service (list order: the row's first dest is the list head), optionally
// loads the dests with connections, and replays new connections from distinct clients;
// the real servers they went to must match the sequence worked out from
// ipvs-data-plane.md §1 (weights, counts, list order, OVERLOAD, weight 0). Each new TCP
// connection is a SYN (SYN_RECV: active, +256 overhead); each UDP one is inactive (+1).
import assert from "node:assert/strict";
import {
  AF_INET,
  IP_VS_DEST_F_OVERLOAD,
  IP_VS_SVC_F_SCHED_MH_FALLBACK,
  IP_VS_SVC_F_SCHED_MH_PORT,
  IP_VS_SVC_F_SCHED_SH_FALLBACK,
  IP_VS_SVC_F_SCHED_SH_PORT,
  SCHED_DH,
  SCHED_FO,
  SCHED_LBLC,
  SCHED_LBLCR,
  SCHED_LC,
  SCHED_MH,
  SCHED_NQ,
  SCHED_OVF,
  SCHED_RR,
  SCHED_SED,
  SCHED_SH,
  SCHED_TWOS,
  SCHED_WLC,
  SCHED_WRR,
} from "../host/engine/abi.gen.ts";
import { ENGINES, SMALL_CONFIG } from "./fixtures/lab.ts";
import {
  editRowDest,
  type Flow,
  picks,
  type RowDest,
  schedLab,
  send,
} from "./fixtures/sched_lab.ts";
import { dhTable, mhTable, shTable, syncSchedTable, type TableDest } from "../host/ctl/tables.ts";
import { hash32, hsiphash32, MH_KEY1 } from "../host/engine/reference/sched/hashing.ts";
import { ipBytes } from "./fixtures/packet_builder.ts";

const d = (name: string, weight: number, extra: Partial<RowDest> = {}): RowDest => ({
  name,
  weight,
  ...extra,
});

interface Row {
  name: string;
  sched: number;
  proto?: 6 | 17;
  flags?: number;
  dests: RowDest[];
  /** Connections made before the replay (each from its own client), by dest name. */
  load?: Record<string, number>;
  /** Dest edits after the load, before the replay. */
  edit?: Record<string, Partial<{ weight: number; uThreshold: number; lThreshold: number }>>;
  /** wrr: bind the scheduler after the dests exist (cw starts at mw). */
  bindAfter?: boolean;
  expect: string;
}

const ROWS: Row[] = [
  // rr §1.1: list order, weights other than 0 ignored, weight 0 skipped.
  {
    name: "rr walks the list in order",
    sched: SCHED_RR,
    dests: [d("A", 1), d("B", 5), d("C", 1)],
    expect: "A B C A B C A",
  },
  {
    name: "rr skips weight 0",
    sched: SCHED_RR,
    dests: [d("A", 1), d("B", 0), d("C", 2)],
    expect: "A C A C",
  },
  {
    name: "rr with every weight 0 has no dest",
    sched: SCHED_RR,
    dests: [d("A", 0), d("B", 0)],
    expect: "- -",
  },
  // wrr §1.2 worked sequences (scheduler bound after the dests: cw starts at mw).
  {
    name: "wrr 4,3,2",
    sched: SCHED_WRR,
    bindAfter: true,
    dests: [d("A", 4), d("B", 3), d("C", 2)],
    expect: "A A B A B C A B C A A B",
  },
  {
    name: "wrr 4,2 (gcd 2)",
    sched: SCHED_WRR,
    bindAfter: true,
    dests: [d("A", 4), d("B", 2)],
    expect: "A A B A A B",
  },
  {
    name: "wrr 5,0,3",
    sched: SCHED_WRR,
    bindAfter: true,
    dests: [d("A", 5), d("B", 0), d("C", 3)],
    expect: "A A A C A C A C A",
  },
  {
    name: "wrr built dest by dest starts at cw 1",
    sched: SCHED_WRR,
    dests: [d("A", 4), d("B", 3), d("C", 2)],
    expect: "A B C A A B A B C A B C",
  },
  // lc §1.3 (UDP: +1 per connection): minimum overhead, ties to the first in list order.
  {
    name: "lc takes the least connections, ties in list order",
    sched: SCHED_LC,
    proto: 17,
    dests: [d("A", 1), d("B", 9), d("C", 1)],
    load: { A: 2, C: 1 },
    expect: "B B C A B C",
  },
  {
    name: "lc skips weight 0",
    sched: SCHED_LC,
    proto: 17,
    dests: [d("A", 1), d("B", 0), d("C", 1)],
    load: { A: 2, C: 1 },
    expect: "C A C A",
  },
  // wlc §1.4 (UDP): least overhead / weight by cross-multiplication.
  {
    name: "wlc 3:1",
    sched: SCHED_WLC,
    proto: 17,
    dests: [d("A", 3), d("B", 1)],
    expect: "A B A A A B A A A B",
  },
  {
    name: "wlc counts an active connection as 256",
    sched: SCHED_WLC,
    dests: [d("A", 1), d("B", 1)],
    load: { A: 1 },
    expect: "B A B A",
  },
  // sed §1.5 (TCP, active only): (active + 1) / weight.
  { name: "sed 3:1", sched: SCHED_SED, dests: [d("A", 3), d("B", 1)], expect: "A A A B A A A B" },
  {
    name: "sed ignores inactive connections",
    sched: SCHED_SED,
    proto: 17,
    dests: [d("A", 1), d("B", 1)],
    load: { A: 5 },
    expect: "A A A",
  },
  // nq §1.6: an idle dest wins at once, else sed.
  {
    name: "nq takes idle dests first",
    sched: SCHED_NQ,
    dests: [d("A", 3), d("B", 1)],
    expect: "A B A A A A A B",
  },
  // fo §1.7: highest weight, first on a tie; OVERLOAD and weight 0 skipped.
  {
    name: "fo takes the highest weight",
    sched: SCHED_FO,
    dests: [d("A", 1), d("B", 3), d("C", 3)],
    expect: "B B B",
  },
  {
    name: "fo fails over when the upper threshold is reached",
    sched: SCHED_FO,
    dests: [d("A", 1), d("B", 3, { u: 2 }), d("C", 2)],
    expect: "B B C C",
  },
  {
    name: "fo with weight 0 on the best",
    sched: SCHED_FO,
    dests: [d("A", 1), d("B", 0)],
    expect: "A A",
  },
  // ovf §1.8: highest weight while active <= weight.
  {
    name: "ovf overflows by active connections",
    sched: SCHED_OVF,
    dests: [d("A", 3), d("B", 2)],
    expect: "A A A A B B B -",
  },
  {
    name: "ovf never overflows UDP (always inactive)",
    sched: SCHED_OVF,
    proto: 17,
    dests: [d("A", 3), d("B", 2)],
    expect: "A A A A A A",
  },
  // lblc §1.9: one VIP = one cache entry; replaced when lblc-overloaded.
  {
    name: "lblc sticks to the cached dest until it is lblc-overloaded",
    sched: SCHED_LBLC,
    dests: [d("A", 1), d("B", 1)],
    expect: "A A B B B B",
  },
  {
    name: "lblc ignores a cached dest at weight 0",
    sched: SCHED_LBLC,
    dests: [d("A", 1), d("B", 1)],
    load: { A: 1 },
    edit: { A: { weight: 0 } },
    expect: "B B B",
  },
  // lblcr §1.10: the set grows when its least loaded member is lblc-overloaded.
  {
    name: "lblcr replicates to a second dest and balances the set",
    sched: SCHED_LBLCR,
    dests: [d("A", 1), d("B", 1)],
    expect: "A A B B B A B A",
  },
  // §1.15: OVERLOAD is skipped by the counting schedulers, weight 0 by all.
  {
    name: "wlc skips an overloaded dest",
    sched: SCHED_WLC,
    proto: 17,
    dests: [d("A", 1, { u: 1 }), d("B", 1)],
    expect: "A B B B",
  },
  {
    name: "sed and nq skip weight 0",
    sched: SCHED_NQ,
    dests: [d("A", 0), d("B", 1)],
    expect: "B B B",
  },
  {
    name: "twos has no dest when every weight is 0",
    sched: SCHED_TWOS,
    dests: [d("A", 0), d("B", 0)],
    expect: "- -",
  },
  {
    name: "twos with one eligible dest takes it",
    sched: SCHED_TWOS,
    dests: [d("A", 0), d("B", 2, { u: 0 })],
    expect: "B B B B",
  },
];

for (const make of ENGINES) {
  for (const row of ROWS) {
    Deno.test(`[${make.name}] ${row.name}: ${row.expect}`, async () => {
      const proto = row.proto ?? 6;
      const lab = await schedLab(
        make,
        { sched: row.bindAfter ? SCHED_RR : row.sched, flags: row.flags ?? 0, protocol: proto },
        row.dests,
      );
      let client = 200;
      for (const [name, n] of Object.entries(row.load ?? {})) {
        // Only `name` may take new connections while the load is made.
        const saved = row.dests.map((x) => [x.name, lab.spec[x.name].weight] as const);
        for (const x of row.dests) editRowDest(lab, x.name, { weight: x.name === name ? 1 : 0 });
        for (let i = 0; i < n; i++) {
          assert.equal(send(lab, { caddr: `198.18.3.${client++}`, cport: 1000, proto }), name);
        }
        for (const [x, w] of saved) editRowDest(lab, x, { weight: w });
      }
      for (const [name, edit] of Object.entries(row.edit ?? {})) editRowDest(lab, name, edit);
      if (row.bindAfter) {
        const spec = { af: AF_INET, protocol: proto, port: 80, fwmark: 0, flags: 0, timeout: 0 };
        const r = lab.e.editService(lab.svc, {
          ...spec,
          addr: ipBytes("198.18.100.10"),
          netmask: 0xffffffff,
          sched: row.sched,
        } as never);
        assert.ok(r >= 0);
      }
      const n = row.expect.split(" ").length;
      assert.equal(picks(lab, n, { proto }), row.expect);
    });
  }
}

// ---- Hashing schedulers: the engines against the control plane's tables and the spec's
// hash functions (whose test vectors host/ctl/tables_test.ts checks).

const HASH_DESTS = [d("A", 1), d("B", 2), d("C", 1)];

function tableDests(lab: Awaited<ReturnType<typeof schedLab>>): TableDest[] {
  return ["A", "B", "C"].map((n) => {
    const s = lab.spec[n];
    return {
      index: lab.dest[n],
      af: s.af,
      addr: s.addr,
      port: s.port,
      weight: s.weight,
      lastWeight: s.weight,
    };
  });
}

function hostOrder(a: string): number {
  return a.split(".").reduce((x, y) => ((x << 8) | Number(y)) >>> 0, 0);
}

const CLIENTS = Array.from({ length: 40 }, (_, i) => `198.18.${i % 4}.${17 + i * 5}`);

for (const make of ENGINES) {
  Deno.test(`[${make.name}] sh sends each client to its table slot (hash_32 of the source)`, async () => {
    const lab = await schedLab(make, { sched: SCHED_SH }, HASH_DESTS);
    const t = shTable(tableDests(lab));
    assert.deepEqual([...lab.e.schedTable(lab.svc)], [...t], "the engine holds the computed table");
    const name = (i: number) => Object.keys(lab.dest).find((k) => lab.dest[k] === i);
    for (const c of CLIENTS) {
      assert.equal(send(lab, { caddr: c, cport: 5000 }), name(t[hash32(hostOrder(c), 8)]), c);
    }
  });

  Deno.test(`[${make.name}] sh-port hashes the source port too; sh-fallback walks on`, async () => {
    const lab = await schedLab(
      make,
      { sched: SCHED_SH, flags: IP_VS_SVC_F_SCHED_SH_PORT },
      HASH_DESTS,
    );
    const t = shTable(tableDests(lab));
    const name = (i: number) => Object.keys(lab.dest).find((k) => lab.dest[k] === i);
    for (const port of [1024, 50000, 65535]) {
      const h = hash32((port + hostOrder("198.18.0.9")) >>> 0, 8);
      assert.equal(send(lab, { caddr: "198.18.0.9", cport: port }), name(t[h]));
    }
    // Without fallback a client whose slot names a quiesced dest gets no dest.
    const c = CLIENTS.find((x) => t[hash32(hostOrder(x), 8)] === lab.dest.B)!;
    const plain = await schedLab(make, { sched: SCHED_SH }, HASH_DESTS);
    editRowDest(plain, "B", { weight: 0 });
    const t0 = plain.e.schedTable(plain.svc);
    const h0 = hash32(hostOrder(c), 8);
    if (t0[h0] === plain.dest.B) assert.equal(send(plain, { caddr: c, cport: 7 }), "-");
    const fb = await schedLab(
      make,
      { sched: SCHED_SH, flags: IP_VS_SVC_F_SCHED_SH_FALLBACK },
      HASH_DESTS,
    );
    editRowDest(fb, "B", { weight: 0, uThreshold: 0 });
    const tf = fb.e.schedTable(fb.svc);
    const hf = hash32(hostOrder(c), 8);
    let expect = "-";
    if (tf[hf] >= 0 && tf[hf] !== fb.dest.B) expect = name(tf[hf])!;
    else {
      for (let off = 0; off < 256; off++) {
        const x = tf[(((off + hf) & 255) + hf) & 255];
        if (x < 0) break;
        if (x !== fb.dest.B) {
          expect = name(x)!;
          break;
        }
      }
    }
    assert.equal(send(fb, { caddr: c, cport: 7 }), expect);
    assert.notEqual(expect, "-");
  });

  Deno.test(`[${make.name}] dh hashes the destination address; an unusable slot has no fallback`, async () => {
    const lab = await schedLab(make, { sched: SCHED_DH }, HASH_DESTS);
    const t = dhTable(tableDests(lab));
    assert.deepEqual([...lab.e.schedTable(lab.svc)], [...t]);
    const slot = t[hash32(hostOrder("198.18.100.10"), 8)];
    const name = Object.keys(lab.dest).find((k) => lab.dest[k] === slot)!;
    assert.equal(picks(lab, 3), `${name} ${name} ${name}`);
    editRowDest(lab, name, { weight: 0 });
    assert.equal(picks(lab, 2, {}, 50), "- -");
  });

  Deno.test(`[${make.name}] mh sends each client to its Maglev slot; mh-port and mh-fallback`, async () => {
    const lab = await schedLab(make, { sched: SCHED_MH }, HASH_DESTS);
    const t = mhTable(AF_INET, tableDests(lab), 4093, 6);
    assert.deepEqual([...lab.e.schedTable(lab.svc)], [...t], "the engine holds the computed table");
    const name = (i: number) => Object.keys(lab.dest).find((k) => lab.dest[k] === i);
    for (const c of CLIENTS) {
      assert.equal(
        send(lab, { caddr: c, cport: 5000 }),
        name(t[hsiphash32(hostOrder(c), MH_KEY1) % 4093]),
      );
    }
    const lp = await schedLab(
      make,
      { sched: SCHED_MH, flags: IP_VS_SVC_F_SCHED_MH_PORT },
      HASH_DESTS,
    );
    for (const port of [1, 40000, 65535]) {
      const s = hsiphash32((port + hostOrder("198.18.0.9")) >>> 0, MH_KEY1) % 4093;
      assert.equal(send(lp, { caddr: "198.18.0.9", cport: port }), name(t[s]));
    }
    // Weight 0 keeps the slots (last weight): refused without fallback, walked with it.
    const c = CLIENTS.find((x) => t[hsiphash32(hostOrder(x), MH_KEY1) % 4093] === lab.dest.B)!;
    editRowDest(lab, "B", { weight: 0 });
    assert.deepEqual([...lab.e.schedTable(lab.svc)], [...t], "weight 0 changes no slot");
    assert.equal(send(lab, { caddr: c, cport: 9 }), "-");
    const fb = await schedLab(
      make,
      { sched: SCHED_MH, flags: IP_VS_SVC_F_SCHED_MH_FALLBACK },
      HASH_DESTS,
    );
    editRowDest(fb, "B", { weight: 0 });
    const got = send(fb, { caddr: c, cport: 9 });
    assert.ok(got === "A" || got === "C", `fallback found ${got}`);
  });

  Deno.test(`[${make.name}] deleting a dest empties its slots until the control plane refills them`, async () => {
    // The bare engine (no table keeping): the deleted dest's slots become empty at once.
    const e = await make.create(SMALL_CONFIG);
    const svc = e.addService({
      af: AF_INET,
      protocol: 6,
      addr: ipBytes("198.18.100.10"),
      port: 80,
      fwmark: 0,
      sched: SCHED_MH,
      flags: 0,
      timeout: 0,
      netmask: 0xffffffff,
    });
    const idx = [3, 2, 1].map((i) =>
      e.addDest(svc, {
        af: AF_INET,
        addr: ipBytes(`198.18.1.${i}`),
        port: 80,
        fwd: 3,
        weight: 1,
        uThreshold: 0,
        lThreshold: 0,
        tunType: 0,
        tunPort: 0,
        tunFlags: 0,
      })
    );
    assert.ok(e.schedTable(svc).every((x) => x === -1), "nothing until the control plane writes");
    assert.ok(syncSchedTable(e, svc, SCHED_MH, AF_INET) > 4000);
    const full = e.schedTable(svc);
    assert.equal(e.delDest(idx[1]), 0);
    const holes = e.schedTable(svc);
    assert.deepEqual([...holes], [...full].map((x) => (x === idx[1] ? -1 : x)));
    assert.equal(e.setSchedSlots(svc, [0, idx[1]]), -22, "a deleted dest cannot be written back");
    syncSchedTable(e, svc, SCHED_MH, AF_INET);
    const t = e.schedTable(svc);
    assert.ok(!t.includes(idx[1]) && !t.includes(-1), "refilled without it, no empty slot");
    // Through the table-keeping wrapper the refill is part of delDest.
    const lab = await schedLab(make, { sched: SCHED_MH }, HASH_DESTS);
    const b = lab.dest.B;
    assert.equal(lab.e.delDest(b), 0);
    const left = tableDests(lab).filter((x) => x.index !== b);
    assert.deepEqual([...lab.e.schedTable(lab.svc)], [...mhTable(AF_INET, left, 4093, 6)]);
  });

  Deno.test(`[${make.name}] thresholds: OVERLOAD at u, cleared below l (or 3/4 u)`, async () => {
    const lab = await schedLab(make, { sched: SCHED_WLC, protocol: 17 }, [
      d("A", 1, { u: 3, l: 1 }),
      d("B", 1),
    ]);
    const flags = () => lab.e.destCounts(lab.dest.A).flags & IP_VS_DEST_F_OVERLOAD;
    const flows: Flow[] = [];
    for (let i = 0; i < 6; i++) flows.push({ caddr: `198.18.0.${i + 1}`, cport: 999, proto: 17 });
    const got = flows.map((f) => send(lab, f)).join(" ");
    assert.equal(got, "A B A B A B");
    assert.equal(flags(), IP_VS_DEST_F_OVERLOAD, "3 connections reach u = 3");
    assert.equal(send(lab, { caddr: "198.18.0.99", cport: 1, proto: 17 }), "B", "A is skipped");
    // UDP entries live 300 s; the sweep frees them: total 0 < l clears OVERLOAD.
    lab.e.expire(lab.now + 301 * 1_000_000);
    assert.equal(flags(), 0);
  });
}
