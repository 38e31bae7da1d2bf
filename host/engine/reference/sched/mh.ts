// mh: Maglev hashing. Mirrors ip_vs_mh.c and assembly/sched/mh.ts: slot =
// hsiphash(port + ntohl(saddr fold), key1) mod M, port = the client's source port with
// mh-port (SCHED2), else 0. The M-slot table (M = 4093 by default) comes from the control
// plane (host/ctl/tables.ts: permutations and last weights). Usable: weight > 0 and not
// OVERLOAD. Without mh-fallback (SCHED1) an empty or unusable slot means no dest; with it
// the search rehashes with offsets slot0, slot0 + 1, ... and stops at the first empty slot.
// Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { SchedulerOps } from "./scheduler.ts";
import * as scheduler from "./scheduler.ts";
import * as hashing from "./hashing.ts";
import * as table from "./table.ts";

const { DEST_DELETED, eligible, SCHED_WORDS } = scheduler;
const { IP_VS_SVC_F_SCHED_MH_FALLBACK, IP_VS_SVC_F_SCHED_MH_PORT, NO_DEST } = abi;
const { addrFoldHost, hsiphash32, MH_KEY1 } = hashing;
const { tableBase, tableForget, TABLE_WORD } = table;

export const mh: SchedulerOps = {
  name: "mh",
  table: true,

  initService(svcs, _dests, svc, ctx) {
    svcs.schedState[svc * SCHED_WORDS + TABLE_WORD] = ctx.tables.alloc();
  },

  doneService(svcs, _dests, svc, ctx) {
    ctx.tables.free(svcs.schedState[svc * SCHED_WORDS + TABLE_WORD]);
  },

  updateService(svcs, _dests, svc, dest, event, ctx) {
    if (event !== DEST_DELETED) return;
    const base = tableBase(ctx.tables, svcs.schedState, svc, SCHED_WORDS);
    tableForget(ctx.tables, base, ctx.mhSize, dest);
  },

  schedule(svcs, dests, svc, ctx) {
    const p = ctx.pkt;
    const flags = svcs.flags[svc];
    const port = (flags & IP_VS_SVC_F_SCHED_MH_PORT) !== 0
      ? ((p.sport & 0xff) << 8) | (p.sport >>> 8)
      : 0;
    const key = (port + addrFoldHost(p.s0, p.s1, p.s2, p.s3)) >>> 0;
    const m = ctx.mhSize;
    const t = ctx.tables.data;
    const base = tableBase(ctx.tables, svcs.schedState, svc, SCHED_WORDS);
    const slot0 = hsiphash32(key, MH_KEY1) % m;
    const d = t[base + slot0];
    if (d < 0) return NO_DEST;
    if (eligible(dests, d)) return d;
    if ((flags & IP_VS_SVC_F_SCHED_MH_FALLBACK) === 0) return NO_DEST;
    for (let offset = 0; offset < m; offset++) {
      const roffset = (offset + slot0) % m;
      const x = t[base + hsiphash32((roffset + key) >>> 0, MH_KEY1) % m];
      if (x < 0) break;
      if (eligible(dests, x)) return x;
    }
    return NO_DEST;
  },
};
