// twos: power of two choices. Mirrors ip_vs_twos.c and assembly/sched/twos.ts: two dests
// drawn with probability proportional to weight (draws in [0, total] inclusive, as the
// kernel makes them), and the less loaded of the two by overhead / weight (choice 2 iff
// w2 × oh1 > w1 × oh2). Randomness is an input (STYLE G11): scheduler word 0 holds the
// service's 32-bit generator state, seeded from schedSeed and the service index; each draw
// is a Weyl step through MurmurHash3's finaliser, bit for bit as in the WASM engine.
// Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { SchedulerOps } from "./scheduler.ts";
import * as scheduler from "./scheduler.ts";

const { NO_DEST } = abi;
const { eligible, mulGreater, overhead, SCHED_WORDS } = scheduler;

function draw(s: Int32Array, o: number): number {
  let z = ((s[o] >>> 0) + 0x9e3779b9) >>> 0;
  s[o] = z | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** floor(x × y / 2^32) for u32 x, y, exactly (16-bit limbs keep every product < 2^53). */
function mulhi32(x: number, y: number): number {
  const xh = x >>> 16, xl = x & 0xffff, yh = y >>> 16, yl = y & 0xffff;
  const mid = xh * yl + xl * yh;
  return xh * yh + Math.floor((mid * 65536 + xl * yl) / 4294967296);
}

/** floor(x × n / 2^32) for n < 2^52: a draw in [0, n) without dividing (Lemire). */
function below(x: number, n: number): number {
  const nh = Math.floor(n / 4294967296);
  return x * nh + mulhi32(x, n - nh * 4294967296);
}

export const twos: SchedulerOps = {
  name: "twos",

  initService(svcs, _dests, svc, ctx) {
    svcs.schedState[svc * SCHED_WORDS] = ctx.seed ^ Math.imul(svc + 1, 0x9e3779b9);
  },

  schedule(svcs, dests, svc, ctx) {
    const o = svc * SCHED_WORDS;
    const ix = ctx.index;
    if (ix.indexed(svc)) {
      // The same draws, each resolved by a descent of the index's sum tree.
      const total = ix.total(svc);
      if (total === 0) return NO_DEST;
      const c1 = ix.draw(svc, below(draw(svcs.schedState, o), total + 1));
      const c2 = ix.draw(svc, below(draw(svcs.schedState, o), total + 1));
      const w1 = dests.weight[c1], w2 = dests.weight[c2];
      return mulGreater(w2, overhead(dests, c1), w1, overhead(dests, c2)) ? c2 : c1;
    }
    const h = dests.head(svc);
    const next = dests.next;
    let total = 0;
    for (let d = next[h]; d !== h; d = next[d]) if (eligible(dests, d)) total += dests.weight[d];
    if (total === 0) return NO_DEST;
    let r1 = below(draw(svcs.schedState, o), total + 1);
    let r2 = below(draw(svcs.schedState, o), total + 1);
    let c1 = NO_DEST, c2 = NO_DEST, w1 = 0, w2 = 0;
    for (let d = next[h]; d !== h; d = next[d]) {
      if (!eligible(dests, d)) continue;
      const w = dests.weight[d];
      r1 -= w;
      r2 -= w;
      if (r1 <= 0 && c1 === NO_DEST) {
        c1 = d;
        w1 = w;
      }
      if (r2 <= 0 && c2 === NO_DEST) {
        c2 = d;
        w2 = w;
      }
      if (c1 !== NO_DEST && c2 !== NO_DEST) break;
    }
    return mulGreater(w2, overhead(dests, c1), w1, overhead(dests, c2)) ? c2 : c1;
  },
};
