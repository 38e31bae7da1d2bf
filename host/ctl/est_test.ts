import assert from "node:assert/strict";
import { Estimator } from "./est.ts";

const zero = { conns: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0 };

Deno.test("Estimator converges to a steady rate as IPVS's EWMA does", () => {
  const e = new Estimator();
  const s = { ...zero };
  e.sample(s);
  const seen: number[] = [];
  for (let i = 0; i < 80; i++) {
    s.conns += 200; // 100 conn/s
    s.inPkts += 2000;
    s.inBytes += 3_000_000;
    e.sample(s);
    seen.push(e.rates().cps);
  }
  // First sample: avg = sample/4 → 25/s; then 25 + 75/4 ... → 100.
  assert.equal(seen[0], 25);
  assert.equal(seen[1], 44);
  assert.equal(e.rates().cps, 100);
  assert.equal(e.rates().inPps, 1000);
  assert.equal(e.rates().inBps, 1_500_000);
});

Deno.test("Estimator decays towards zero when traffic stops, and reset() clears it", () => {
  const e = new Estimator();
  e.sample(zero);
  e.sample({ ...zero, inPkts: 1000 });
  assert.equal(e.rates().inPps, 125);
  e.sample({ ...zero, inPkts: 1000 });
  assert.ok(e.rates().inPps < 125 && e.rates().inPps > 0);
  e.reset({ ...zero, inPkts: 1000 });
  assert.equal(e.rates().inPps, 0);
});
