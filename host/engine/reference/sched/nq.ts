// nq: never queue. Mirrors ip_vs_nq.c and assembly/sched/nq.ts: the first eligible dest
// without active connections wins at once; otherwise the sed minimum of (active + 1) /
// weight by cross-multiplication, ties keeping the earlier dest. Stateless.
// Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { SchedulerOps } from "./scheduler.ts";
import * as scheduler from "./scheduler.ts";

const { NO_DEST } = abi;
const { eligible, mulGreater } = scheduler;

export const nq: SchedulerOps = {
  name: "nq",

  initService() {},

  schedule(_svcs, dests, svc) {
    const h = dests.head(svc);
    const next = dests.next;
    let least = NO_DEST;
    let loh = 0;
    let lw = 0;
    for (let d = next[h]; d !== h; d = next[d]) {
      if (!eligible(dests, d)) continue;
      const active = dests.active[d];
      if (active === 0) return d;
      const doh = active + 1;
      const dw = dests.weight[d];
      if (least === NO_DEST || mulGreater(loh, dw, doh, lw)) {
        least = d;
        loh = doh;
        lw = dw;
      }
    }
    return least;
  },
};
