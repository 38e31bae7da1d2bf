// Scheduler registry: SCHED_* id -> the scheduler's functions, listed explicitly
// (DPVS ip_vs_sched.c style; no dynamic loading). A switch rather than a table of
// function references keeps the data path free of runtime objects (stub runtime).
// Adding a scheduler touches its file, one case per hook here and the ABI id.
// sh, dh, mh, lblc and lblcr keep a table block (sched/table.ts) in scheduler word 0.
import {
  NO_DEST,
  SCHED_DH,
  SCHED_FO,
  SCHED_LBLC,
  SCHED_LBLCR,
  SCHED_LC,
  SCHED_MH,
  SCHED_NQ,
  SCHED_OVF,
  SCHED_RR,
  SCHED_SED,
  SCHED_SH,
  SCHED_TWOS,
  SCHED_WLC,
  SCHED_WRR,
} from "../abi";
import { SV_SCHED, SV_SCHED_DATA, svcAt } from "../service";
import { dhSchedule } from "./dh";
import { indexable, indexBuild, indexDrop, indexed, indexWinner } from "./index";
import { foSchedule } from "./fo";
import { lblcSchedule } from "./lblc";
import { lblcrSchedule } from "./lblcr";
import { lcSchedule } from "./lc";
import { localityFlush, localityInit, localityTick } from "./locality";
import { mhSchedule } from "./mh";
import { nqSchedule } from "./nq";
import { ovfSchedule } from "./ovf";
import { rrDelDest, rrInitService, rrSchedule } from "./rr";
import { schedWord } from "./scheduler";
import { sedSchedule } from "./sed";
import { shSchedule } from "./sh";
import { tableAlloc, tableForget, tableFree } from "./table";
import { twosInitService, twosSchedule } from "./twos";
import { wlcSchedule } from "./wlc";
import { wrrDestsChanged, wrrInitService, wrrSchedule } from "./wrr";

@inline function schedOf(svc: u32): u32 {
  return load<u8>(svcAt(svc), SV_SCHED);
}

/** Schedulers that need a table block (checked with tableAvailable before binding). */
export function schedNeedsTable(id: u32): bool {
  return id == SCHED_SH || id == SCHED_DH || id == SCHED_MH || id == SCHED_LBLC ||
    id == SCHED_LBLCR;
}

@inline function isLocality(id: u32): bool {
  return id == SCHED_LBLC || id == SCHED_LBLCR;
}

/** Binds the service's scheduler: fresh state (on add, and on a scheduler change). */
export function schedInitService(svc: u32): void {
  const id = schedOf(svc);
  memory.fill(svcAt(svc) + SV_SCHED_DATA, 0, 16);
  if (id == SCHED_TWOS) twosInitService(svc);
  if (indexable(id)) {
    store<u32>(schedWord(svc, 1), NO_DEST); // no index block yet
    indexBuild(svc);
  }
  if (id == SCHED_RR) rrInitService(svc);
  else if (id == SCHED_WRR) wrrInitService(svc);
  else if (schedNeedsTable(id)) {
    const t = tableAlloc();
    store<u32>(schedWord(svc, 0), t);
    if (isLocality(id)) localityInit(t);
  }
}

/** Unbinds the service's scheduler (service deleted, or another scheduler chosen). */
export function schedDoneService(svc: u32): void {
  const id = schedOf(svc);
  if (indexable(id)) indexDrop(svc);
  if (!schedNeedsTable(id)) return;
  const t = load<u32>(schedWord(svc, 0));
  if (isLocality(id)) localityFlush(t, id == SCHED_LBLCR);
  tableFree(t);
}

/** A dest was added at the head of the list. */
export function schedAddDest(svc: u32, dest: u32): void {
  const id = schedOf(svc);
  if (id == SCHED_WRR) wrrDestsChanged(svc);
  else if (indexable(id)) indexBuild(svc);
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
  else if (id == SCHED_SH || id == SCHED_DH || id == SCHED_MH) tableForget(svc, dest);
  else if (indexable(id)) indexBuild(svc);
}

/** The scheduler's timer work at expire() time (lblc/lblcr cache GC). */
export function schedTick(svc: u32): void {
  const id = schedOf(svc);
  if (isLocality(id)) localityTick(load<u32>(schedWord(svc, 0)), id == SCHED_LBLCR);
}

/** Picks a dest for a new connection (the packet in Pkt), or NO_DEST. */
export function schedule(svc: u32): u32 {
  switch (schedOf(svc)) {
    case SCHED_RR: return rrSchedule(svc);
    case SCHED_WRR: return wrrSchedule(svc);
    case SCHED_WLC: return indexed(svc) ? indexWinner(svc) : wlcSchedule(svc);
    case SCHED_LC: return indexed(svc) ? indexWinner(svc) : lcSchedule(svc);
    case SCHED_SED: return indexed(svc) ? indexWinner(svc) : sedSchedule(svc);
    case SCHED_NQ: return indexed(svc) ? indexWinner(svc) : nqSchedule(svc);
    case SCHED_FO: return indexed(svc) ? indexWinner(svc) : foSchedule(svc);
    case SCHED_OVF: return indexed(svc) ? indexWinner(svc) : ovfSchedule(svc);
    case SCHED_LBLC: return lblcSchedule(svc);
    case SCHED_LBLCR: return lblcrSchedule(svc);
    case SCHED_DH: return dhSchedule(svc);
    case SCHED_SH: return shSchedule(svc);
    case SCHED_MH: return mhSchedule(svc);
    case SCHED_TWOS: return twosSchedule(svc);
  }
  return NO_DEST;
}
