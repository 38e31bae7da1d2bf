// sh: source hashing. Mirrors ip_vs_sh.c and assembly/sched/sh.ts: slot = hash_32(port +
// ntohl(saddr fold), 8), port = the client's source port with sh-port (SCHED2), else 0.
// The 256-slot table comes from the control plane (host/ctl/tables.ts, setSchedSlots).
// Usable: weight > 0 and not OVERLOAD. Without sh-fallback (SCHED1) an empty or unusable
// slot means no dest; with it the search walks slots (offset + h0) + h0 and ends at the
// first empty one. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { SchedulerOps } from "./scheduler.ts";
import * as scheduler from "./scheduler.ts";
import * as hashing from "./hashing.ts";
import * as table from "./table.ts";

const { DEST_DELETED, eligible, SCHED_WORDS } = scheduler;
const { IP_VS_SVC_F_SCHED_SH_FALLBACK, IP_VS_SVC_F_SCHED_SH_PORT, NO_DEST } = abi;
const { addrFoldHost, hash32 } = hashing;
const { SH_BITS, SH_SIZE, tableBase, tableForget, TABLE_WORD } = table;

export const sh: SchedulerOps = {
  name: "sh",
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
    const flags = svcs.flags[svc];
    const port = (flags & IP_VS_SVC_F_SCHED_SH_PORT) !== 0
      ? ((p.sport & 0xff) << 8) | (p.sport >>> 8)
      : 0;
    const key = (port + addrFoldHost(p.s0, p.s1, p.s2, p.s3)) >>> 0;
    const t = ctx.tables.data;
    const base = tableBase(ctx.tables, svcs.schedState, svc, SCHED_WORDS);
    const hash = hash32(key, SH_BITS);
    const d = t[base + hash];
    if (d < 0) return NO_DEST;
    if (eligible(dests, d)) return d;
    if ((flags & IP_VS_SVC_F_SCHED_SH_FALLBACK) === 0) return NO_DEST;
    for (let offset = 0; offset < SH_SIZE; offset++) {
      const roffset = (offset + hash) & (SH_SIZE - 1);
      const x = t[base + ((roffset + hash) & (SH_SIZE - 1))];
      if (x < 0) break;
      if (eligible(dests, x)) return x;
    }
    return NO_DEST;
  },
};
