// Scheduler registry: SCHED_* id -> the scheduler's functions, listed explicitly
// (DPVS ip_vs_sched.c style; no dynamic loading). A switch rather than a table of
// function references keeps the data path free of runtime objects (stub runtime).
// Adding a scheduler touches its file, one case per hook here and the ABI id.
import { NO_DEST, SCHED_RR, SCHED_WLC, SCHED_WRR } from "../abi";
import { SV_SCHED, SV_SCHED_DATA, svcAt } from "../service";
import { rrDelDest, rrInitService, rrSchedule } from "./rr";
import { wlcSchedule } from "./wlc";
import { wrrDestsChanged, wrrInitService, wrrSchedule } from "./wrr";

@inline function schedOf(svc: u32): u32 {
  return load<u8>(svcAt(svc), SV_SCHED);
}

/** Binds the service's scheduler: fresh state (on add, and on a scheduler change). */
export function schedInitService(svc: u32): void {
  const id = schedOf(svc);
  memory.fill(svcAt(svc) + SV_SCHED_DATA, 0, 16);
  if (id == SCHED_RR) rrInitService(svc);
  else if (id == SCHED_WRR) wrrInitService(svc);
}

/** A dest was added at the head of the list. */
export function schedAddDest(svc: u32, dest: u32): void {
  if (schedOf(svc) == SCHED_WRR) wrrDestsChanged(svc);
}

/** A dest's weight or thresholds changed. */
export function schedEditDest(svc: u32, dest: u32): void {
  if (schedOf(svc) == SCHED_WRR) wrrDestsChanged(svc);
}

/** A dest left the list (its own prev/next links are still readable). */
export function schedDelDest(svc: u32, dest: u32): void {
  const id = schedOf(svc);
  if (id == SCHED_RR) rrDelDest(svc, dest);
  else if (id == SCHED_WRR) wrrDestsChanged(svc);
}

/** Picks a dest for a new connection, or NO_DEST. */
export function schedule(svc: u32): u32 {
  const id = schedOf(svc);
  if (id == SCHED_RR) return rrSchedule(svc);
  if (id == SCHED_WRR) return wrrSchedule(svc);
  if (id == SCHED_WLC) return wlcSchedule(svc);
  return NO_DEST;
}
