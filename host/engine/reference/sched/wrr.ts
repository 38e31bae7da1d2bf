// wrr: weighted round robin by gcd / max-weight stepping.
// Mirrors ip_vs_wrr.c and assembly/sched/wrr.ts; the loop is ARCHITECTURE.md's pseudocode.
// Scheduler words: cl (cursor: dest or list head), cw (current weight), mw (max weight
// minus (di - 1)), di (gcd of the positive weights). Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { DestTable } from "../dest.ts";
import type { ServiceTable } from "../service.ts";
import type { SchedulerOps } from "./scheduler.ts";
import * as scheduler from "./scheduler.ts";

// Hot-path bindings as module-local consts: see state.ts, "Why local consts".
const { IP_VS_DEST_F_OVERLOAD, NO_DEST } = abi;
const { gcd, SCHED_WORDS } = scheduler;

const CL = 0;
const CW = 1;
const MW = 2;
const DI = 3;

/** Recomputes di and mw from the service's list (mw = 0: empty or all weights 0). */
function recompute(svcs: ServiceTable, dests: DestTable, svc: number): void {
  const h = dests.head(svc);
  let di = 0;
  let max = 0;
  for (let d = dests.next[h]; d !== h; d = dests.next[d]) {
    const w = dests.weight[d];
    if (w > 0) di = di === 0 ? w : gcd(di, w);
    if (w > max) max = w;
  }
  if (di === 0) di = 1;
  const o = svc * SCHED_WORDS;
  svcs.schedState[o + DI] = di;
  // The last pass runs at cw = 1, so a weight that fell below di can still be picked.
  svcs.schedState[o + MW] = max === 0 ? 0 : max - (di - 1);
}

export const wrr: SchedulerOps = {
  name: "wrr",

  initService(svcs, dests, svc) {
    recompute(svcs, dests, svc);
    const o = svc * SCHED_WORDS;
    svcs.schedState[o + CL] = dests.head(svc);
    svcs.schedState[o + CW] = svcs.schedState[o + MW];
  },

  updateService(svcs, dests, svc) {
    const s = svcs.schedState;
    const o = svc * SCHED_WORDS;
    s[o + CL] = dests.head(svc);
    recompute(svcs, dests, svc);
    const cw = s[o + CW];
    const di = s[o + DI];
    if (cw > s[o + MW] || cw === 0) s[o + CW] = s[o + MW];
    else if (di > 1) s[o + CW] = Math.floor(cw / di) * di + 1;
  },

  schedule(svcs, dests, svc) {
    const s = svcs.schedState;
    const o = svc * SCHED_WORDS;
    const mw = s[o + MW];
    if (mw === 0) return NO_DEST;
    const di = s[o + DI];
    const h = dests.head(svc);
    const next = dests.next;
    const last = s[o + CL];
    let d = last;
    let stop = h;
    let lastPass = false;
    let restarted = false;
    for (;;) {
      for (d = next[d]; d !== h; d = next[d]) {
        if ((dests.flags[d] & IP_VS_DEST_F_OVERLOAD) === 0 && dests.weight[d] >= s[o + CW]) {
          s[o + CL] = d;
          return d;
        }
        if (d === stop) {
          s[o + CL] = d;
          return NO_DEST;
        }
      }
      // Reached the head: lower the bar and scan again from the top.
      s[o + CW] -= di;
      if (s[o + CW] <= 0) {
        s[o + CW] = mw;
        // Every dest was already tried at the lowest level: all are overloaded.
        if (lastPass || last === h) {
          s[o + CL] = d;
          return NO_DEST;
        }
        restarted = true;
      }
      lastPass = s[o + CW] <= di;
      // The first lowest-level pass only covered dests after `last`; finish at `last`.
      if (lastPass && restarted && last !== h) stop = last;
    }
  },
};
