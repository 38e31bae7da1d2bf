// Overflow (ip_vs_ovf.c): among dests that are not overloaded, have weight > 0 and at
// most `weight` active connections, the one with the highest weight (first in list order
// on a tie). Inactive connections are ignored, so UDP (always inactive) never overflows.
import { NO_DEST } from "../abi";
import { destNext, destWeight } from "../dest";
import { destActive, destEligible } from "./scheduler";

export function ovfSchedule(svc: u32): u32 {
  let best = NO_DEST;
  let hw: i32 = 0;
  for (let d = destNext(svc, NO_DEST); d != NO_DEST; d = destNext(svc, d)) {
    if (!destEligible(d)) continue;
    const w = destWeight(d);
    if (destActive(d) > <i64>w) continue;
    if (best == NO_DEST || w > hw) {
      best = d;
      hw = w;
    }
  }
  return best;
}
