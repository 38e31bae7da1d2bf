// What every scheduler shares (ip_vs.h struct ip_vs_scheduler, ip_vs_sched.c).
// A scheduler is one file exporting `<name>InitService(svc)`, optional dest hooks
// (`<name>AddDest`, `<name>EditDest`, `<name>DelDest`) and `<name>Schedule(svc)`,
// which returns a dest index or NO_DEST. Its per-service state lives in the
// service record's scheduler words (schedWord), never in module globals.
// registry.ts dispatches by SCHED_* id.
import { DS_ACTIVE, DS_INACT, destAt, destOverloaded, destWeight } from "../dest";
import { SV_SCHED_DATA, svcAt } from "../service";

/**
 * The one eligibility rule for new connections: weight > 0 (weight 0 means
 * quiesced) and not OVERLOAD (set by the upper connection threshold).
 */
@inline export function destEligible(dest: u32): bool {
  return destWeight(dest) > 0 && !destOverloaded(dest);
}

/** Address of scheduler word `i` (0..3) of service `svc`. */
@inline export function schedWord(svc: u32, i: u32): usize {
  return svcAt(svc) + SV_SCHED_DATA + (<usize>i << 2);
}

/** Greatest common divisor (Euclid), for wrr's weight step. */
export function gcd(a: i32, b: i32): i32 {
  while (b != 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** ip_vs_dest_conn_overhead: 256 × active + inactive (active connections cost more). */
@inline export function destOverhead(dest: u32): i64 {
  const d = destAt(dest);
  return (<i64>load<u32>(d, DS_ACTIVE) << 8) + <i64>load<u32>(d, DS_INACT);
}

/** Active connections of a dest (sed, nq, ovf and the lblc overload test use only these). */
@inline export function destActive(dest: u32): i64 {
  return <i64>load<u32>(destAt(dest), DS_ACTIVE);
}
