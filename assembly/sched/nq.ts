// Never queue (ip_vs_nq.c): the first eligible dest with no active connection wins at
// once (list order); otherwise the sed minimum of (active + 1) / weight, compared by
// cross-multiplying in 64 bits, strict ">" so ties keep the earlier dest.
import { NO_DEST } from "../abi";
import { destNext, destWeight } from "../dest";
import { destActive, destEligible } from "./scheduler";

export function nqSchedule(svc: u32): u32 {
  let least = NO_DEST;
  let loh: i64 = 0;
  let lw: i64 = 0;
  for (let d = destNext(svc, NO_DEST); d != NO_DEST; d = destNext(svc, d)) {
    if (!destEligible(d)) continue;
    const active = destActive(d);
    if (active == 0) return d;
    const doh = active + 1;
    const dw = <i64>destWeight(d);
    if (least == NO_DEST || loh * dw > doh * lw) {
      least = d;
      loh = doh;
      lw = dw;
    }
  }
  return least;
}
