// dh: destination hashing. Mirrors ip_vs_dh.c and assembly/sched/dh.ts: slot =
// hash_32(ntohl(daddr fold), 8); the 256-slot table (slot i = the (i mod n)-th dest in
// list order) comes from the control plane. The dest there serves only if AVAILABLE,
// weight > 0 and not OVERLOAD; no fallback. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { SchedulerOps } from "./scheduler.ts";
import * as scheduler from "./scheduler.ts";
import * as hashing from "./hashing.ts";
import * as table from "./table.ts";

const { DEST_DELETED, eligible, SCHED_WORDS } = scheduler;
const { IP_VS_DEST_F_AVAILABLE, NO_DEST } = abi;
const { addrFoldHost, hash32 } = hashing;
const { SH_BITS, SH_SIZE, tableBase, tableForget, TABLE_WORD } = table;

export const dh: SchedulerOps = {
  name: "dh",
  table: true,

  initService(svcs, _dests, svc, ctx) {
    svcs.schedState[svc * SCHED_WORDS + TABLE_WORD] = ctx.tables.alloc();
  },

  doneService(svcs, _dests, svc, ctx) {
    ctx.tables.free(svcs.schedState[svc * SCHED_WORDS + TABLE_WORD]);
  },

  updateService(svcs, _dests, svc, dest, event, ctx) {
    if (event !== DEST_DELETED) return;
    tableForget(
      ctx.tables,
      tableBase(ctx.tables, svcs.schedState, svc, SCHED_WORDS),
      SH_SIZE,
      dest,
    );
  },

  schedule(svcs, dests, svc, ctx) {
    const p = ctx.pkt;
    const key = addrFoldHost(p.d0, p.d1, p.d2, p.d3);
    const base = tableBase(ctx.tables, svcs.schedState, svc, SCHED_WORDS);
    const d = ctx.tables.data[base + hash32(key, SH_BITS)];
    if (d < 0 || !eligible(dests, d) || (dests.flags[d] & IP_VS_DEST_F_AVAILABLE) === 0) {
      return NO_DEST;
    }
    return d;
  },
};
