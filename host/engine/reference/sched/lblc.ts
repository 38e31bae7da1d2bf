// lblc: locality-based least connection. Mirrors ip_vs_lblc.c and assembly/sched/lblc.ts:
// the packet's destination address is cached with the dest it went to (locality.ts). A
// cached dest is reused while AVAILABLE, weight > 0 and not "lblc-overloaded" (its
// OVERLOAD flag is not checked); otherwise wlc picks and the entry is replaced.
// Scheduler word 0: the table block. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { DestTable } from "../dest.ts";
import type { SchedulerOps } from "./scheduler.ts";
import * as scheduler from "./scheduler.ts";
import * as table from "./table.ts";
import { wlc } from "./wlc.ts";

const { IP_VS_DEST_F_AVAILABLE, NO_DEST } = abi;
const { SCHED_WORDS } = scheduler;
const { tableBase, TABLE_WORD } = table;

/**
 * "lblc-overloaded" (is_overloaded in ip_vs_lblc.c / ip_vs_lblcr.c): more active
 * connections than its weight while some dest runs below half its weight.
 */
export function localityOverloaded(dests: DestTable, svc: number, d: number): boolean {
  if (dests.active[d] <= dests.weight[d]) return false;
  const h = dests.head(svc);
  for (let m = dests.next[h]; m !== h; m = dests.next[m]) {
    if (dests.active[m] * 2 < dests.weight[m]) return true;
  }
  return false;
}

export const lblc: SchedulerOps = {
  name: "lblc",
  table: true,

  initService(svcs, _dests, svc, ctx) {
    const t = ctx.tables.alloc();
    svcs.schedState[svc * SCHED_WORDS + TABLE_WORD] = t;
    ctx.cache.init(ctx.tables.data, t * ctx.tables.words);
  },

  doneService(svcs, dests, svc, ctx) {
    const t = svcs.schedState[svc * SCHED_WORDS + TABLE_WORD];
    ctx.cache.flush(ctx.tables.data, t * ctx.tables.words, false, dests);
    ctx.tables.free(t);
  },

  tick(svcs, dests, svc, ctx) {
    const base = tableBase(ctx.tables, svcs.schedState, svc, SCHED_WORDS);
    ctx.cache.tick(ctx.tables.data, base, false, dests, ctx.sysctl, ctx.nowMs);
  },

  schedule(svcs, dests, svc, ctx) {
    const p = ctx.pkt;
    const c = ctx.cache;
    const t = ctx.tables.data;
    const base = tableBase(ctx.tables, svcs.schedState, svc, SCHED_WORDS);
    const b = c.bucket(p.d0, p.d1, p.d2, p.d3);
    const e = c.find(t, base, b, p.d0, p.d1, p.d2, p.d3);
    if (e >= 0) {
      c.lastuse[e] = ctx.nowMs;
      const d = c.dest[e];
      if (
        (dests.flags[d] & IP_VS_DEST_F_AVAILABLE) !== 0 && dests.weight[d] > 0 &&
        !localityOverloaded(dests, svc, d)
      ) return d;
    }
    const d = wlc.schedule(svcs, dests, svc, ctx);
    if (d === NO_DEST) return NO_DEST;
    // ip_vs_lblc_new: keep an entry that already names `d`, else replace it.
    if (e >= 0) {
      if (c.dest[e] === d) return d;
      c.remove(t, base, b, c.prevOf(t, base, b, e), e, false, dests);
    }
    const n = c.add(t, base, b, p.d0, p.d1, p.d2, p.d3, ctx.nowMs);
    if (n >= 0) {
      dests.hold(d);
      c.dest[n] = d;
    }
    return d;
  },
};
