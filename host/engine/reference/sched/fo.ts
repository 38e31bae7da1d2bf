// fo: weighted fail-over. Mirrors ip_vs_fo.c and assembly/sched/fo.ts: the non-overloaded
// dest with the highest weight (strict ">" from 0: weight 0 never wins, ties keep the
// first in list order). Stateless. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { SchedulerOps } from "./scheduler.ts";

const { IP_VS_DEST_F_OVERLOAD, NO_DEST } = abi;

export const fo: SchedulerOps = {
  name: "fo",

  initService() {},

  schedule(_svcs, dests, svc) {
    const h = dests.head(svc);
    const next = dests.next;
    let best = NO_DEST;
    let hw = 0;
    for (let d = next[h]; d !== h; d = next[d]) {
      const w = dests.weight[d];
      if ((dests.flags[d] & IP_VS_DEST_F_OVERLOAD) === 0 && w > hw) {
        best = d;
        hw = w;
      }
    }
    return best;
  },
};
