// Least connection (ip_vs_lc.c): the eligible dest with the smallest overhead
// (256 × active + inactive). Weights only matter as 0 (quiesced). Strict "<" keeps the
// first dest in list order on a tie. Stateless.
import { NO_DEST } from "../abi";
import { destNext } from "../dest";
import { destEligible, destOverhead } from "./scheduler";

export function lcSchedule(svc: u32): u32 {
  let least = NO_DEST;
  let loh: i64 = 0;
  for (let d = destNext(svc, NO_DEST); d != NO_DEST; d = destNext(svc, d)) {
    if (!destEligible(d)) continue;
    const doh = destOverhead(d);
    if (least == NO_DEST || doh < loh) {
      least = d;
      loh = doh;
    }
  }
  return least;
}
