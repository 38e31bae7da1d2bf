// rr: round robin over eligible dests, continuing after the last pick and wrapping once.
// Mirrors ip_vs_rr.c and assembly/sched/rr.ts; the loop is ARCHITECTURE.md's pseudocode.
// Scheduler word 0 is the cursor (a dest, or the list head). Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { SchedulerOps } from "./scheduler.ts";
import * as scheduler from "./scheduler.ts";

// Hot-path bindings as module-local consts: see state.ts, "Why local consts".
const { NO_DEST } = abi;
const { DEST_DELETED, eligible, SCHED_WORDS } = scheduler;

export const rr: SchedulerOps = {
  name: "rr",

  initService(svcs, dests, svc) {
    svcs.schedState[svc * SCHED_WORDS] = dests.head(svc);
  },

  // Deleting the cursor's dest moves the cursor back, so the next pick is its successor.
  updateService(svcs, dests, svc, dest, event) {
    const o = svc * SCHED_WORDS;
    if (event === DEST_DELETED && svcs.schedState[o] === dest) {
      svcs.schedState[o] = dests.prev[dest];
    }
  },

  schedule(svcs, dests, svc) {
    const o = svc * SCHED_WORDS;
    const h = dests.head(svc);
    const next = dests.next;
    const last = svcs.schedState[o];
    let d = last;
    let pass = 0;
    do {
      for (d = next[d]; d !== h; d = next[d]) {
        if (eligible(dests, d)) {
          svcs.schedState[o] = d;
          return d;
        }
        if (d === last) return NO_DEST;
      }
      pass++;
    } while (pass < 2 && last !== h);
    return NO_DEST;
  },
};
