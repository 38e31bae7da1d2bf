// lc: least connection. Mirrors ip_vs_lc.c and assembly/sched/lc.ts: the eligible dest with
// the smallest overhead (256 × active + inactive); weights only matter as 0 (quiesced);
// strict "<" keeps the first dest in list order on a tie. Stateless. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { SchedulerOps } from "./scheduler.ts";
import * as scheduler from "./scheduler.ts";

const { NO_DEST } = abi;
const { eligible, overhead } = scheduler;

export const lc: SchedulerOps = {
  name: "lc",

  initService() {},

  schedule(_svcs, dests, svc) {
    const h = dests.head(svc);
    const next = dests.next;
    let least = NO_DEST;
    let loh = 0;
    for (let d = next[h]; d !== h; d = next[d]) {
      if (!eligible(dests, d)) continue;
      const doh = overhead(dests, d);
      if (least === NO_DEST || doh < loh) {
        least = d;
        loh = doh;
      }
    }
    return least;
  },
};
