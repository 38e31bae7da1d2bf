// Power of two choices (ip_vs_twos.c): two dests drawn at random, each with probability
// proportional to its weight, and the less loaded of the two wins (overhead / weight,
// compared by cross-multiplying: choice 2 iff w2 × oh1 > w1 × oh2, in u64). The draws are
// in [0, total] inclusive as the kernel makes them, so the first eligible dest has odds
// (w1 + 1) / (total + 1). Randomness is an input (STYLE G11): each service keeps a 32-bit
// generator state in its scheduler word 0, seeded from the config's schedSeed and the
// service index, and advanced identically by the reference engine.
import { NO_DEST } from "../abi";
import { destNext, destWeight } from "../dest";
import { Eng } from "../state";
import { indexDraw, indexed, indexTotal } from "./index";
import { destEligible, destOverhead, schedWord } from "./scheduler";

export function twosInitService(svc: u32): void {
  store<u32>(schedWord(svc, 0), Eng.schedSeed ^ ((svc + 1) * 0x9e3779b9));
}

/** Next 32-bit draw: a Weyl sequence (step 0x9e3779b9) through MurmurHash3's finaliser. */
@inline function draw(p: usize): u32 {
  let z = load<u32>(p) + 0x9e3779b9;
  store<u32>(p, z);
  z = (z ^ (z >>> 16)) * 0x85ebca6b;
  z = (z ^ (z >>> 13)) * 0xc2b2ae35;
  return z ^ (z >>> 16);
}

/** floor(x × n / 2^32) for n < 2^52: a draw in [0, n) without dividing (Lemire). */
@inline function below(x: u32, n: u64): i64 {
  return <i64>(<u64>x * (n >> 32) + ((<u64>x * (n & 0xffffffff)) >> 32));
}

/** The indexed twos: the same draws, each resolved by a descent of the sum tree. */
function twosIndexed(svc: u32): u32 {
  const total = indexTotal(svc);
  if (total == 0) return NO_DEST;
  const p = schedWord(svc, 0);
  const c1 = indexDraw(svc, <u64>below(draw(p), total + 1));
  const c2 = indexDraw(svc, <u64>below(draw(p), total + 1));
  const w1 = <u64>destWeight(c1);
  const w2 = <u64>destWeight(c2);
  if (w2 * <u64>destOverhead(c1) > w1 * <u64>destOverhead(c2)) return c2;
  return c1;
}

export function twosSchedule(svc: u32): u32 {
  if (indexed(svc)) return twosIndexed(svc);
  let total: i64 = 0;
  for (let d = destNext(svc, NO_DEST); d != NO_DEST; d = destNext(svc, d)) {
    if (destEligible(d)) total += <i64>destWeight(d);
  }
  if (total == 0) return NO_DEST;
  const p = schedWord(svc, 0);
  let r1 = below(draw(p), <u64>total + 1);
  let r2 = below(draw(p), <u64>total + 1);
  let c1 = NO_DEST;
  let c2 = NO_DEST;
  let w1: u64 = 0;
  let w2: u64 = 0;
  for (let d = destNext(svc, NO_DEST); d != NO_DEST; d = destNext(svc, d)) {
    if (!destEligible(d)) continue;
    const w = destWeight(d);
    r1 -= <i64>w;
    r2 -= <i64>w;
    if (r1 <= 0 && c1 == NO_DEST) {
      c1 = d;
      w1 = <u64>w;
    }
    if (r2 <= 0 && c2 == NO_DEST) {
      c2 = d;
      w2 = <u64>w;
    }
    if (c1 != NO_DEST && c2 != NO_DEST) break;
  }
  if (w2 * <u64>destOverhead(c1) > w1 * <u64>destOverhead(c2)) return c2;
  return c1;
}
