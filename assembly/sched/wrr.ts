// Weighted round robin (ip_vs_wrr.c). State: cl (cursor), cw (current weight),
// mw (max weight - (di - 1)) and di (gcd of the weights > 0). Each pass over the
// list takes the dests whose weight is >= cw, then cw steps down by di; the
// "- (di - 1)" makes the last pass run at cw = 1, so a weight that fell below di
// can still be picked. Weights A4 B3 C2 in list order give A A B A B C A B C.
import { NO_DEST } from "../abi";
import { destNext, destOverloaded, destWeight } from "../dest";
import { gcd, schedWord } from "./scheduler";

const CL: u32 = 0;
const CW: u32 = 1;
const MW: u32 = 2;
const DI: u32 = 3;

/** Recomputes di (gcd of weights > 0, 1 if none) and mw (0 for no weight). */
function computeWeights(svc: u32): void {
  let g: i32 = 0;
  let max: i32 = 0;
  for (let d = destNext(svc, NO_DEST); d != NO_DEST; d = destNext(svc, d)) {
    const w = destWeight(d);
    if (w > 0) g = g == 0 ? w : gcd(g, w);
    if (w > max) max = w;
  }
  const di = g > 0 ? g : 1;
  store<i32>(schedWord(svc, DI), di);
  store<i32>(schedWord(svc, MW), max > 0 ? max - (di - 1) : 0);
}

export function wrrInitService(svc: u32): void {
  computeWeights(svc);
  store<u32>(schedWord(svc, CL), NO_DEST);
  store<i32>(schedWord(svc, CW), load<i32>(schedWord(svc, MW)));
}

/** On add, edit or delete of a dest: restart at the head and refit cw. */
export function wrrDestsChanged(svc: u32): void {
  store<u32>(schedWord(svc, CL), NO_DEST);
  computeWeights(svc);
  const mw = load<i32>(schedWord(svc, MW));
  const di = load<i32>(schedWord(svc, DI));
  const pcw = schedWord(svc, CW);
  const cw = load<i32>(pcw);
  if (cw > mw || cw == 0) store<i32>(pcw, mw);
  else if (di > 1) store<i32>(pcw, (cw / di) * di + 1);
}

export function wrrSchedule(svc: u32): u32 {
  const mw = load<i32>(schedWord(svc, MW));
  if (mw == 0) return NO_DEST;
  const di = load<i32>(schedWord(svc, DI));
  const pcl = schedWord(svc, CL);
  const pcw = schedWord(svc, CW);
  let cw = load<i32>(pcw);
  let d = load<u32>(pcl);
  const last = d;
  let stop: u32 = NO_DEST;
  let lastPass = false;
  let restarted = false;
  while (true) {
    for (d = destNext(svc, d); d != NO_DEST; d = destNext(svc, d)) {
      if (!destOverloaded(d) && destWeight(d) >= cw) {
        store<u32>(pcl, d);
        store<i32>(pcw, cw);
        return d;
      }
      if (d == stop) {
        store<u32>(pcl, d);
        store<i32>(pcw, cw);
        return NO_DEST;
      }
    }
    // d is the head here: one pass done, step the weight down.
    cw -= di;
    if (cw <= 0) {
      cw = mw;
      if (lastPass || last == NO_DEST) {
        store<u32>(pcl, d);
        store<i32>(pcw, cw);
        return NO_DEST;
      }
      restarted = true;
    }
    lastPass = cw <= di;
    if (lastPass && restarted && last != NO_DEST) stop = last;
  }
  return NO_DEST;
}
