// ovf: overflow. Mirrors ip_vs_ovf.c and assembly/sched/ovf.ts: among eligible dests with
// at most `weight` active connections, the highest weight (first in list order on a tie).
// Inactive connections are ignored. Stateless. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { SchedulerOps } from "./scheduler.ts";
import * as scheduler from "./scheduler.ts";

const { NO_DEST } = abi;
const { eligible } = scheduler;

export const ovf: SchedulerOps = {
  name: "ovf",

  initService() {},

  schedule(_svcs, dests, svc) {
    const h = dests.head(svc);
    const next = dests.next;
    let best = NO_DEST;
    let hw = 0;
    for (let d = next[h]; d !== h; d = next[d]) {
      if (!eligible(dests, d)) continue;
      const w = dests.weight[d];
      if (dests.active[d] > w) continue;
      if (best === NO_DEST || w > hw) {
        best = d;
        hw = w;
      }
    }
    return best;
  },
};
