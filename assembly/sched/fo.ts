// Weighted fail-over (ip_vs_fo.c): the non-overloaded dest with the highest weight; the
// bar starts at 0 with a strict ">", so weight 0 never wins and ties keep the first dest
// in list order. Connection counts are ignored. Stateless.
import { NO_DEST } from "../abi";
import { destNext, destOverloaded, destWeight } from "../dest";

export function foSchedule(svc: u32): u32 {
  let best = NO_DEST;
  let hw: i32 = 0;
  for (let d = destNext(svc, NO_DEST); d != NO_DEST; d = destNext(svc, d)) {
    const w = destWeight(d);
    if (!destOverloaded(d) && w > hw) {
      best = d;
      hw = w;
    }
  }
  return best;
}
