// The scheduler ops shape and the helpers every scheduler shares: eligibility (weight and
// OVERLOAD in one place), gcd, and exact cross-multiplied load comparison.
// Mirrors ip_vs_sched.c / struct ip_vs_scheduler and assembly/sched/scheduler.ts.
// Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { DestTable } from "../dest.ts";
import type { ServiceTable } from "../service.ts";
import type { SchedContext } from "./context.ts";

// Hot-path bindings as module-local consts: see state.ts, "Why local consts".
const { IP_VS_DEST_F_OVERLOAD } = abi;

/** Scheduler words per service (rr uses 1, wrr 4). */
export const SCHED_WORDS = 4;

/** Dest events passed to updateService. */
export const DEST_ADDED = 0;
export const DEST_EDITED = 1;
/** Runs after the dest is unlinked; its own prev/next still name its old neighbours. */
export const DEST_DELETED = 2;

/**
 * One scheduler (house style G2). `schedule` returns a dest index or NO_DEST. `ctx` holds
 * the packet being scheduled, the clock, the table blocks and the locality caches.
 */
export interface SchedulerOps {
  readonly name: string;
  /** Whether the scheduler keeps a table block in scheduler word 0 (sh, dh, mh, lblc, lblcr). */
  readonly table?: boolean;
  /** Sets the service's scheduler words from its current dest list. */
  initService(svcs: ServiceTable, dests: DestTable, svc: number, ctx: SchedContext): void;
  /** Releases what initService took (service deleted, or another scheduler chosen). */
  doneService?(svcs: ServiceTable, dests: DestTable, svc: number, ctx: SchedContext): void;
  /** Runs on add, edit and delete of one of the service's dests. */
  updateService?(
    svcs: ServiceTable,
    dests: DestTable,
    svc: number,
    dest: number,
    event: number,
    ctx: SchedContext,
  ): void;
  /** Timer work at expire() time (lblc/lblcr cache GC). */
  tick?(svcs: ServiceTable, dests: DestTable, svc: number, ctx: SchedContext): void;
  schedule(svcs: ServiceTable, dests: DestTable, svc: number, ctx: SchedContext): number;
}

/** A dest may take new connections: weight > 0 and not OVERLOAD (quiesced = weight 0). */
export function eligible(dests: DestTable, d: number): boolean {
  return dests.weight[d] > 0 && (dests.flags[d] & IP_VS_DEST_F_OVERLOAD) === 0;
}

export function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

const TWO24 = 0x1000000;

/**
 * a × b > c × d for non-negative integers below 2^48, exactly. Load ratios are compared by
 * cross-multiplying (IPVS does it in 64 bits), never by dividing, so ties are exact. Doubles
 * are exact below 2^53; above it the products are compared as base-2^24 limbs.
 */
export function mulGreater(a: number, b: number, c: number, d: number): boolean {
  const p = a * b;
  const q = c * d;
  if (p <= Number.MAX_SAFE_INTEGER && q <= Number.MAX_SAFE_INTEGER) return p > q;
  // x × y = xh·yh·2^48 + (xh·yl + xl·yh)·2^24 + xl·yl, each partial product below 2^50.
  const ah = Math.floor(a / TWO24), al = a % TWO24, bh = Math.floor(b / TWO24), bl = b % TWO24;
  const ch = Math.floor(c / TWO24), cl = c % TWO24, dh = Math.floor(d / TWO24), dl = d % TWO24;
  const pz = al * bl, qz = cl * dl;
  const py = ah * bl + al * bh + Math.floor(pz / TWO24);
  const qy = ch * dl + cl * dh + Math.floor(qz / TWO24);
  const px = ah * bh + Math.floor(py / TWO24);
  const qx = ch * dh + Math.floor(qy / TWO24);
  if (px !== qx) return px > qx;
  if (py % TWO24 !== qy % TWO24) return py % TWO24 > qy % TWO24;
  return pz % TWO24 > qz % TWO24;
}

/** ip_vs_dest_conn_overhead: 256 × active + inactive (active connections cost more). */
export function overhead(dests: DestTable, d: number): number {
  return dests.active[d] * 256 + dests.inact[d];
}
