// sed: shortest expected delay. Mirrors ip_vs_sed.c and assembly/sched/sed.ts: minimise
// (active + 1) / weight (inactive connections ignored), without dividing: `least` gives
// way to d iff (active(least) + 1) × weight(d) > (active(d) + 1) × weight(least). The first
// eligible dest seeds the minimum; weight 0 can never win. Stateless. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { SchedulerOps } from "./scheduler.ts";
import * as scheduler from "./scheduler.ts";

const { IP_VS_DEST_F_OVERLOAD, NO_DEST } = abi;
const { eligible, mulGreater } = scheduler;

export const sed: SchedulerOps = {
  name: "sed",

  initService() {},

  schedule(_svcs, dests, svc) {
    const h = dests.head(svc);
    const next = dests.next;
    let d = next[h];
    while (d !== h && !eligible(dests, d)) d = next[d];
    if (d === h) return NO_DEST;
    let least = d;
    let loh = dests.active[d] + 1;
    let lw = dests.weight[d];
    for (d = next[d]; d !== h; d = next[d]) {
      if ((dests.flags[d] & IP_VS_DEST_F_OVERLOAD) !== 0) continue;
      const doh = dests.active[d] + 1;
      const dw = dests.weight[d];
      if (mulGreater(loh, dw, doh, lw)) {
        least = d;
        loh = doh;
        lw = dw;
      }
    }
    return least;
  },
};
