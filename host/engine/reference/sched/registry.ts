// The schedulers by SCHED_* id, listed explicitly (no discovery). Mirrors ip_vs_sched.c's
// registration and assembly/sched/registry.ts. Adding a scheduler: its file, one line here.
// Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import { dh } from "./dh.ts";
import { fo } from "./fo.ts";
import { withIndex } from "./index.ts";
import { lblc } from "./lblc.ts";
import { lblcr } from "./lblcr.ts";
import { lc } from "./lc.ts";
import { mh } from "./mh.ts";
import { nq } from "./nq.ts";
import { ovf } from "./ovf.ts";
import { rr } from "./rr.ts";
import type { SchedulerOps } from "./scheduler.ts";
import { sed } from "./sed.ts";
import { sh } from "./sh.ts";
import { twos } from "./twos.ts";
import { wlc } from "./wlc.ts";
import { wrr } from "./wrr.ts";

const table: SchedulerOps[] = [];
table[abi.SCHED_RR] = rr;
table[abi.SCHED_WRR] = wrr;
table[abi.SCHED_WLC] = withIndex(wlc);
table[abi.SCHED_LC] = withIndex(lc);
table[abi.SCHED_SED] = withIndex(sed);
table[abi.SCHED_NQ] = withIndex(nq);
table[abi.SCHED_FO] = withIndex(fo);
table[abi.SCHED_OVF] = withIndex(ovf);
table[abi.SCHED_LBLC] = lblc;
table[abi.SCHED_LBLCR] = lblcr;
table[abi.SCHED_DH] = dh;
table[abi.SCHED_SH] = sh;
table[abi.SCHED_MH] = mh;
table[abi.SCHED_TWOS] = withIndex(twos);

/** SCHEDULERS[id] is the ops of scheduler id (SCHED_RR ... SCHED_TWOS). */
export const SCHEDULERS: readonly SchedulerOps[] = table;
