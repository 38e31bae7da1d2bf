// Budgeted expiry (issue 5), run against every engine: expire(now, budget) examines at most
// `budget` slots from a cursor that persists and wraps, with the two passes (connections,
// then the window's controllers) inside each window. Slot numbers are observable (dump
// index, LIFO free stack), so the cases check exactly which slots go.
import assert from "node:assert/strict";
import { IP_VS_CONN_F_TEMPLATE, IP_VS_SVC_F_PERSISTENT, SCHED_RR } from "../host/engine/abi.gen.ts";
import type { Engine } from "../host/engine/engine.ts";
import { ENGINES } from "./fixtures/lab.ts";
import { type SchedLab, schedLab, SEC, send } from "./fixtures/sched_lab.ts";

/** A table of this many slots keeps the windows easy to follow. */
const MAX = 16;
/** UDP's timeout (s): every flow below idles out this long after it was sent. */
const UDP = 300;

const slots = (e: Engine) => e.dumpConns().map((c) => c.index).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** A lab of MAX slots with `n` UDP flows from distinct clients (slots 0 .. n-1). */
async function udpLab(make: (typeof ENGINES)[number], n: number, extra = {}): Promise<SchedLab> {
  const lab = await schedLab(make, { sched: SCHED_RR, protocol: 17, ...extra }, [
    { name: "A", weight: 1 },
  ], { maxConns: MAX });
  for (let i = 0; i < n; i++) send(lab, { caddr: `198.18.0.${i + 1}`, cport: 5000, proto: 17 });
  return lab;
}

/** A persistent UDP service: a flow's template (60 s) controls it (300 s). */
const persistent = { flags: IP_VS_SVC_F_PERSISTENT, timeout: 60 };

for (const make of ENGINES) {
  const t = (name: string, fn: () => Promise<void>) => Deno.test(`[${make.name}] ${name}`, fn);

  t("expire(now, budget) frees expired entries within its window only", async () => {
    const lab = await udpLab(make, 10);
    assert.deepEqual(slots(lab.e), range(0, 10));
    const later = lab.now + UDP * SEC;
    assert.equal(lab.e.expire(later, 4), 4, "slots 0-3");
    assert.deepEqual(slots(lab.e), range(4, 10));
    assert.equal(lab.e.expire(later, 4), 4, "slots 4-7");
    assert.deepEqual(slots(lab.e), [8, 9]);
    assert.equal(lab.e.expire(later, 4), 2, "slots 8-11, two of them used");
    assert.equal(lab.e.expire(later, 4), 0, "slots 12-15, all free");
    assert.deepEqual(slots(lab.e), []);
  });

  t("expire(now, budget) moves its cursor also when nothing expires, and wraps", async () => {
    const lab = await udpLab(make, 12);
    assert.equal(lab.e.expire(lab.now, 10), 0, "slots 0-9: nothing due");
    assert.equal(lab.e.expire(lab.now, 10), 0, "slots 10-15 and 0-3: nothing due");
    const later = lab.now + UDP * SEC;
    assert.equal(lab.e.expire(later, 8), 8, "slots 4-11");
    assert.deepEqual(slots(lab.e), range(0, 4));
    assert.equal(lab.e.expire(later, 8), 4, "slots 12-15, then 0-3");
    assert.deepEqual(slots(lab.e), []);
  });

  t("expire(now, budget) covers the table in ceil(maxConns / budget) calls", async () => {
    const lab = await udpLab(make, 12);
    const later = lab.now + UDP * SEC;
    let freed = 0;
    for (let i = 0; i < Math.ceil(MAX / 5); i++) freed += lab.e.expire(later, 5);
    assert.equal(freed, 12);
    assert.deepEqual(slots(lab.e), []);
  });

  t("expire(now) and a budget over maxConns still sweep the whole table", async () => {
    const lab = await udpLab(make, 12);
    lab.e.expire(lab.now, 7); // the cursor is off slot 0
    const later = lab.now + UDP * SEC;
    assert.equal(lab.e.expire(later, MAX + 1), 12);
    const again = await udpLab(make, 12);
    again.e.expire(again.now, 7);
    assert.equal(again.e.expire(later), 12);
    const zero = await udpLab(make, 12);
    zero.e.expire(zero.now, 7);
    assert.equal(zero.e.expire(later, 0), 12, "an explicit budget of 0 is the whole table too");
  });

  const isTpl = (e: Engine) => e.dumpConns().map((c) => (c.flags & IP_VS_CONN_F_TEMPLATE) !== 0);

  // One flow: its template takes slot 0, the flow slot 1.
  t(
    "a window holding a template and its expired connection frees both, connection first",
    async () => {
      const lab = await udpLab(make, 1, persistent);
      assert.deepEqual(isTpl(lab.e), [true, false]);
      assert.deepEqual(slots(lab.e), [0, 1]);
      assert.equal(lab.e.expire(lab.now + UDP * SEC, 2), 2);
      assert.deepEqual(slots(lab.e), []);
    },
  );

  t("a template whose connection lies beyond its window is kept and retried in 60 s", async () => {
    const lab = await udpLab(make, 1, persistent);
    const later = lab.now + UDP * SEC;
    assert.equal(lab.e.expire(later, 1), 0, "slot 0: the template still controls slot 1");
    const tpl = lab.e.dumpConns().find((c) => c.index === 0)!;
    assert.equal(tpl.timeout, 60_000);
    assert.equal(tpl.expires, (Math.floor(later / 1000) + 60_000) >>> 0);
    assert.equal(lab.e.expire(later, 1), 1, "slot 1: the connection");
    assert.deepEqual(slots(lab.e), [0]);
    assert.equal(lab.e.expire(later + 60 * SEC, MAX), 1, "the retried template, a lap later");
  });

  t("a controller still controlling a live connection is kept by its window", async () => {
    const lab = await udpLab(make, 1, persistent);
    const due = lab.now + 100 * SEC; // the template's 60 s are up, the flow's 300 s are not
    assert.equal(lab.e.expire(due, 2), 0);
    assert.deepEqual(slots(lab.e), [0, 1]);
    assert.equal(send(lab, { caddr: "198.18.0.1", cport: 5001, proto: 17 }), "A", "still sticky");
  });
}

Deno.test("both engines free the same slots, templates included, under random budgets", async () => {
  const [a, b] = await Promise.all(ENGINES.map((m) => udpLab(m, 0, persistent)));
  let x = 7;
  const rnd = (n: number) => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) >>> 16) % n;
  for (let round = 0; round < 400; round++) {
    const client = { caddr: `198.18.0.${1 + rnd(250)}`, cport: 5000 + rnd(4), proto: 17 as const };
    assert.equal(send(a, client, 0), send(b, client, 0));
    const now = a.now + rnd(4) * 100 * SEC;
    const budget = rnd(MAX + 2);
    assert.equal(
      a.e.expire(now, budget),
      b.e.expire(now, budget),
      `round ${round} budget ${budget}`,
    );
    a.now = b.now = now;
    assert.deepEqual(a.e.dumpConns(), b.e.dumpConns(), `round ${round}`);
  }
});
