// Shortest expected delay (ip_vs_sed.c): minimise (active + 1) / weight; inactive
// connections are ignored. As wlc, without dividing: `least` gives way to d iff
// (active(least) + 1) × weight(d) > (active(d) + 1) × weight(least), in 64 bits. The
// first eligible dest seeds the minimum; a weight-0 dest can never win (left side 0).
import { NO_DEST } from "../abi";
import { destNext, destOverloaded, destWeight } from "../dest";
import { destActive, destEligible } from "./scheduler";

export function sedSchedule(svc: u32): u32 {
  let d = destNext(svc, NO_DEST);
  for (; d != NO_DEST; d = destNext(svc, d)) if (destEligible(d)) break;
  if (d == NO_DEST) return NO_DEST;
  let least = d;
  let loh = destActive(d) + 1;
  let lw = <i64>destWeight(d);
  for (d = destNext(svc, d); d != NO_DEST; d = destNext(svc, d)) {
    if (destOverloaded(d)) continue;
    const doh = destActive(d) + 1;
    const dw = <i64>destWeight(d);
    if (loh * dw > doh * lw) {
      least = d;
      loh = doh;
      lw = dw;
    }
  }
  return least;
}
