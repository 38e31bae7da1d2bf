// lblcr: locality-based least connection with replication. Mirrors ip_vs_lblcr.c and
// assembly/sched/lblcr.ts: each cached destination address keeps a set of dests (newest
// first). The set's weighted least-connection member serves unless "lblc-overloaded";
// then wlc over the service picks one and it joins the set. A set of several members
// unchanged for lblcr_expiration loses its most loaded member. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { DestTable } from "../dest.ts";
import type { LocalityCache } from "./locality.ts";
import type { SchedulerOps } from "./scheduler.ts";
import * as scheduler from "./scheduler.ts";
import * as table from "./table.ts";
import { localityOverloaded } from "./lblc.ts";
import { wlc } from "./wlc.ts";

const { IP_VS_DEST_F_AVAILABLE, IP_VS_DEST_F_OVERLOAD, NO_DEST, SYS_LBLCR_EXPIRATION } = abi;
const { mulGreater, overhead, SCHED_WORDS } = scheduler;
const { tableBase, TABLE_WORD } = table;
const MAX_TIMEOUT = 2147483;

function available(dests: DestTable, d: number): boolean {
  return (dests.flags[d] & IP_VS_DEST_F_AVAILABLE) !== 0;
}

function overloaded(dests: DestTable, d: number): boolean {
  return (dests.flags[d] & IP_VS_DEST_F_OVERLOAD) !== 0;
}

/** ip_vs_dest_set_min: weighted least-connection member (AVAILABLE, not OVERLOAD). */
function setMin(c: LocalityCache, e: number, dests: DestTable): number {
  let n = c.dest[e];
  let least = NO_DEST;
  for (; n >= 0; n = c.nodeNext[n]) {
    const d = c.nodeDest[n];
    if (overloaded(dests, d)) continue;
    if (dests.weight[d] > 0 && available(dests, d)) {
      least = d;
      break;
    }
  }
  if (least === NO_DEST) return NO_DEST;
  let loh = overhead(dests, least);
  for (n = c.nodeNext[n]; n >= 0; n = c.nodeNext[n]) {
    const d = c.nodeDest[n];
    if (overloaded(dests, d)) continue;
    const doh = overhead(dests, d);
    if (mulGreater(loh, dests.weight[d], doh, dests.weight[least]) && available(dests, d)) {
      least = d;
      loh = doh;
    }
  }
  return least;
}

/** ip_vs_dest_set_max: the most loaded member by overhead / weight (weight > 0). */
function setMax(c: LocalityCache, e: number, dests: DestTable): number {
  let n = c.dest[e];
  let most = NO_DEST;
  for (; n >= 0; n = c.nodeNext[n]) {
    if (dests.weight[c.nodeDest[n]] > 0) {
      most = c.nodeDest[n];
      break;
    }
  }
  if (most === NO_DEST) return NO_DEST;
  let moh = overhead(dests, most);
  for (n = c.nodeNext[n]; n >= 0; n = c.nodeNext[n]) {
    const d = c.nodeDest[n];
    const doh = overhead(dests, d);
    // moh / mw < doh / dw, i.e. doh × mw > moh × dw (weights > 0).
    if (mulGreater(doh, dests.weight[most], moh, dests.weight[d]) && dests.weight[d] > 0) {
      most = d;
      moh = doh;
    }
  }
  return most;
}

export const lblcr: SchedulerOps = {
  name: "lblcr",
  table: true,

  initService(svcs, _dests, svc, ctx) {
    const t = ctx.tables.alloc();
    svcs.schedState[svc * SCHED_WORDS + TABLE_WORD] = t;
    ctx.cache.init(ctx.tables.data, t * ctx.tables.words);
  },

  doneService(svcs, dests, svc, ctx) {
    const t = svcs.schedState[svc * SCHED_WORDS + TABLE_WORD];
    ctx.cache.flush(ctx.tables.data, t * ctx.tables.words, true, dests);
    ctx.tables.free(t);
  },

  tick(svcs, dests, svc, ctx) {
    const base = tableBase(ctx.tables, svcs.schedState, svc, SCHED_WORDS);
    ctx.cache.tick(ctx.tables.data, base, true, dests, ctx.sysctl, ctx.nowMs);
  },

  schedule(svcs, dests, svc, ctx) {
    const p = ctx.pkt;
    const c = ctx.cache;
    const t = ctx.tables.data;
    const now = ctx.nowMs;
    const base = tableBase(ctx.tables, svcs.schedState, svc, SCHED_WORDS);
    const b = c.bucket(p.d0, p.d1, p.d2, p.d3);
    const e = c.find(t, base, b, p.d0, p.d1, p.d2, p.d3);
    if (e >= 0) {
      c.lastuse[e] = now;
      let d = setMin(c, e, dests);
      if (c.size[e] > 1) {
        const exp = Math.min(ctx.sysctl[SYS_LBLCR_EXPIRATION] >>> 0, MAX_TIMEOUT) * 1000;
        // time_after(now, lastmod + expiration)
        if (((now - (c.lastmod[e] + exp)) | 0) > 0) {
          const m = setMax(c, e, dests);
          if (m !== NO_DEST) c.setErase(e, m, dests, now);
        }
      }
      if (d !== NO_DEST && !localityOverloaded(dests, svc, d)) return d;
      d = wlc.schedule(svcs, dests, svc, ctx);
      if (d === NO_DEST) return NO_DEST;
      c.setInsert(e, d, true, dests, now);
      return d;
    }
    const d = wlc.schedule(svcs, dests, svc, ctx);
    if (d === NO_DEST) return NO_DEST;
    const n = c.add(t, base, b, p.d0, p.d1, p.d2, p.d3, now);
    if (n >= 0) c.setInsert(n, d, false, dests, now);
    return d;
  },
};
