// Weighted least connection (ip_vs_wlc.c), ipvsadm's default scheduler.
// overhead(d) = 256 × active + inactive. Minimising overhead/weight without a
// division: `least` is replaced by d iff overhead(least) × weight(d) >
// overhead(d) × weight(least), in 64 bits so the products cannot overflow.
// Strict ">" keeps the earlier dest on a tie (list order, newest first).
import { NO_DEST } from "../abi";
import { DS_ACTIVE, DS_INACT, destAt, destNext, destWeight } from "../dest";
import { destEligible } from "./scheduler";

@inline function overhead(dest: u32): i64 {
  const d = destAt(dest);
  return (<i64>load<u32>(d, DS_ACTIVE) << 8) + <i64>load<u32>(d, DS_INACT);
}

export function wlcSchedule(svc: u32): u32 {
  let least = NO_DEST;
  let d = destNext(svc, NO_DEST);
  for (; d != NO_DEST; d = destNext(svc, d)) {
    if (destEligible(d)) {
      least = d;
      break;
    }
  }
  if (least == NO_DEST) return NO_DEST;
  let loh = overhead(least);
  let lw = <i64>destWeight(least);
  for (d = destNext(svc, d); d != NO_DEST; d = destNext(svc, d)) {
    if (!destEligible(d)) continue;
    const doh = overhead(d);
    const dw = <i64>destWeight(d);
    if (loh * dw > doh * lw) {
      least = d;
      loh = doh;
      lw = dw;
    }
  }
  return least;
}
