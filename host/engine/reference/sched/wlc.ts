// wlc: weighted least connection, the default of ipvsadm. Mirrors ip_vs_wlc.c and
// assembly/sched/wlc.ts. overhead = 256 × active + inactive (ip_vs_dest_conn_overhead);
// the least overhead/weight wins, compared by cross-multiplying (ties keep the earlier
// dest in list order). Stateless. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { DestTable } from "../dest.ts";
import type { SchedulerOps } from "./scheduler.ts";
import * as scheduler from "./scheduler.ts";

// Hot-path bindings as module-local consts: see state.ts, "Why local consts".
const { NO_DEST } = abi;
const { eligible, mulGreater } = scheduler;

function overhead(dests: DestTable, d: number): number {
  return dests.active[d] * 256 + dests.inact[d];
}

export const wlc: SchedulerOps = {
  name: "wlc",

  initService() {},

  schedule(_svcs, dests, svc) {
    const h = dests.head(svc);
    const next = dests.next;
    let least = NO_DEST;
    let loh = 0;
    let lw = 0;
    for (let d = next[h]; d !== h; d = next[d]) {
      if (!eligible(dests, d)) continue;
      const oh = overhead(dests, d);
      const w = dests.weight[d];
      // overhead(least) / weight(least) > overhead(d) / weight(d), without dividing.
      if (least === NO_DEST || mulGreater(loh, w, oh, lw)) {
        least = d;
        loh = oh;
        lw = w;
      }
    }
    return least;
  },
};
