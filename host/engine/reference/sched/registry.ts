// The schedulers by SCHED_* id, listed explicitly (no discovery). Mirrors ip_vs_sched.c's
// registration and assembly/sched/registry.ts. Adding a scheduler: its file, one line here.
// Runtime-agnostic.
import { SCHED_RR, SCHED_WLC, SCHED_WRR } from "../../abi.gen.ts";
import { rr } from "./rr.ts";
import type { SchedulerOps } from "./scheduler.ts";
import { wlc } from "./wlc.ts";
import { wrr } from "./wrr.ts";

const table: SchedulerOps[] = [];
table[SCHED_RR] = rr;
table[SCHED_WRR] = wrr;
table[SCHED_WLC] = wlc;

/** SCHEDULERS[id] is the ops of scheduler id (SCHED_RR, SCHED_WRR, SCHED_WLC). */
export const SCHEDULERS: readonly SchedulerOps[] = table;
