// Scheduler indexes: for a service with many dests, lc, wlc, sed, nq, fo, ovf and twos
// decide in O(1) (twos: O(log n)) instead of walking the list. An index is a complete
// binary tree over the service's list positions, kept in an index block (one per indexed
// service, from a pool sized at init, EngineConfig schedIndexes): a winner tree whose
// node holds the better of its children's positions, or, for twos, a sum tree of eligible
// weights. Leaves change when a dest's counts, weight or OVERLOAD flag change
// (indexTouch, called by dest.ts) and the whole tree is rebuilt when the list changes.
// The decisions equal the list walks' exactly: every walk picks the first dest in list
// order with the best key (ties keep the earlier dest), which is the tree's winner because
// a node prefers its left (earlier) child on a tie. The walks stay as the oracle and for
// small services (fewer than schedIndexMin dests) or when the pool is empty.
//
// Block (IDX_WORDS u32): [0, 2C) winner nodes (position or NIL; node 1 is the root,
// leaves at C + position) | [0, 4C) instead, for twos, u64 sums | [4C, 5C) dest by position.
import {
  NO_DEST,
  SCHED_FO,
  SCHED_LC,
  SCHED_NQ,
  SCHED_OVF,
  SCHED_SED,
  SCHED_TWOS,
  SCHED_WLC,
} from "../abi";
import {
  DEST_LIVE,
  DS_ACTIVE,
  DS_INACT,
  DS_POS,
  DS_SVC,
  DS_USED,
  destAt,
  destNext,
  destOverloaded,
  destWeight,
} from "../dest";
import { SV_SCHED, svcAt } from "../service";
import { Eng, Mem } from "../state";
import { schedWord } from "./scheduler";

/** Leaves per index (list positions); a longer list is walked. */
export const IDX_CAP: u32 = 1024;
export const IDX_WORDS: u32 = 5 * IDX_CAP;
const NIL: u32 = 0xffffffff;
/** Scheduler words of an indexed service: the block, and the positions in use. */
const W_BLOCK: u32 = 1;
const W_COUNT: u32 = 2;

export function indexReset(): void {
  for (let i: u32 = 0; i < Mem.idxCount; i++) {
    store<u32>(Mem.idxFree + (<usize>i << 2), Mem.idxCount - 1 - i);
  }
  Eng.idxTop = Mem.idxCount;
}

/** Schedulers an index can serve. */
export function indexable(id: u32): bool {
  return id == SCHED_LC || id == SCHED_WLC || id == SCHED_SED || id == SCHED_NQ ||
    id == SCHED_FO || id == SCHED_OVF || id == SCHED_TWOS;
}

@inline function blockAt(b: u32): usize {
  return Mem.idxBlocks + ((<usize>b * IDX_WORDS) << 2);
}

@inline function node(p: usize, i: u32): usize {
  return p + (<usize>i << 2);
}

@inline function sumAt(p: usize, i: u32): usize {
  return p + (<usize>i << 3);
}

@inline function destOfPos(p: usize, pos: u32): u32 {
  return load<u32>(p + (<usize>(4 * IDX_CAP + pos) << 2));
}

// ---- Keys ------------------------------------------------------------------------------

@inline function active(d: u32): i64 {
  return <i64>load<u32>(destAt(d), DS_ACTIVE);
}

@inline function overhead(d: u32): i64 {
  const p = destAt(d);
  return (<i64>load<u32>(p, DS_ACTIVE) << 8) + <i64>load<u32>(p, DS_INACT);
}

/** May the dest win at all (the walks' filters)? */
function eligible(id: u32, d: u32): bool {
  const w = destWeight(d);
  if (w <= 0 || destOverloaded(d)) return false;
  if (id == SCHED_OVF) return active(d) <= <i64>w;
  return true;
}

/** Is `y` strictly better than `x` (both eligible; `x` earlier in list order)? */
function better(id: u32, x: u32, y: u32): bool {
  if (id == SCHED_LC) return overhead(y) < overhead(x);
  if (id == SCHED_WLC) return overhead(x) * <i64>destWeight(y) > overhead(y) * <i64>destWeight(x);
  if (id == SCHED_FO || id == SCHED_OVF) return destWeight(y) > destWeight(x);
  // sed, nq: (active + 1) / weight; nq first takes an idle dest.
  if (id == SCHED_NQ) {
    const ix = active(x) == 0;
    const iy = active(y) == 0;
    if (ix || iy) return iy && !ix;
  }
  return (active(x) + 1) * <i64>destWeight(y) > (active(y) + 1) * <i64>destWeight(x);
}

function winner(id: u32, p: usize, a: u32, b: u32): u32 {
  if (a == NIL) return b;
  if (b == NIL) return a;
  return better(id, destOfPos(p, a), destOfPos(p, b)) ? b : a;
}

/** Recomputes node i from its children. */
@inline function pull(id: u32, p: usize, i: u32): void {
  if (id == SCHED_TWOS) {
    store<u64>(sumAt(p, i), load<u64>(sumAt(p, 2 * i)) + load<u64>(sumAt(p, 2 * i + 1)));
  } else {
    store<u32>(node(p, i), winner(id, p, load<u32>(node(p, 2 * i)), load<u32>(node(p, 2 * i + 1))));
  }
}

/** Sets leaf `pos` from its dest (NIL / 0 for an empty or ineligible one). */
function setLeaf(id: u32, p: usize, pos: u32, d: u32): void {
  const ok = d != NO_DEST && eligible(id, d);
  if (id == SCHED_TWOS) store<u64>(sumAt(p, IDX_CAP + pos), ok ? <u64>destWeight(d) : 0);
  else store<u32>(node(p, IDX_CAP + pos), ok ? pos : NIL);
}

// ---- Build, drop, touch ---------------------------------------------------------------------

/** Frees the service's index, if any. */
export function indexDrop(svc: u32): void {
  const w = schedWord(svc, W_BLOCK);
  const b = load<u32>(w);
  if (b == NIL) return;
  store<u32>(Mem.idxFree + (<usize>Eng.idxTop << 2), b);
  Eng.idxTop++;
  store<u32>(w, NIL);
}

/**
 * (Re)builds the service's index from its list (after init, add, delete): only with at
 * least schedIndexMin dests and at most IDX_CAP, and while a block is free.
 */
export function indexBuild(svc: u32): void {
  const id: u32 = load<u8>(svcAt(svc), SV_SCHED);
  let n: u32 = 0;
  for (let d = destNext(svc, NO_DEST); d != NO_DEST; d = destNext(svc, d)) n++;
  if (n < Mem.idxMin || n > IDX_CAP) {
    indexDrop(svc);
    return;
  }
  let b = load<u32>(schedWord(svc, W_BLOCK));
  if (b == NIL) {
    if (Eng.idxTop == 0) return;
    Eng.idxTop--;
    b = load<u32>(Mem.idxFree + (<usize>Eng.idxTop << 2));
    store<u32>(schedWord(svc, W_BLOCK), b);
  }
  store<u32>(schedWord(svc, W_COUNT), n);
  const p = blockAt(b);
  let pos: u32 = 0;
  for (let d = destNext(svc, NO_DEST); d != NO_DEST; d = destNext(svc, d)) {
    store<u32>(p + (<usize>(4 * IDX_CAP + pos) << 2), d);
    store<u32>(destAt(d), pos, DS_POS);
    setLeaf(id, p, pos, d);
    pos++;
  }
  for (; pos < IDX_CAP; pos++) setLeaf(id, p, pos, NO_DEST);
  for (let i = IDX_CAP - 1; i >= 1; i--) pull(id, p, i);
}

/** A dest's counts, weight or flags changed: refresh its leaf and the path to the root. */
export function indexTouch(dest: u32): void {
  const d = destAt(dest);
  if (load<u8>(d, DS_USED) != DEST_LIVE) return;
  const svc = load<u32>(d, DS_SVC);
  const b = load<u32>(schedWord(svc, W_BLOCK));
  if (b == NIL) return;
  const id: u32 = load<u8>(svcAt(svc), SV_SCHED);
  if (!indexable(id)) return;
  const p = blockAt(b);
  const pos = load<u32>(d, DS_POS);
  setLeaf(id, p, pos, dest);
  for (let i = (IDX_CAP + pos) >> 1; i >= 1; i >>= 1) pull(id, p, i);
}

/** True when the service's scheduler decides through its index. */
@inline export function indexed(svc: u32): bool {
  return load<u32>(schedWord(svc, W_BLOCK)) != NIL;
}

/** The winner (lc, wlc, sed, nq, fo, ovf), or NO_DEST. */
export function indexWinner(svc: u32): u32 {
  const p = blockAt(load<u32>(schedWord(svc, W_BLOCK)));
  const w = load<u32>(node(p, 1));
  return w == NIL ? NO_DEST : destOfPos(p, w);
}

/** twos: the sum of the eligible weights. */
export function indexTotal(svc: u32): u64 {
  return load<u64>(sumAt(blockAt(load<u32>(schedWord(svc, W_BLOCK))), 1));
}

/**
 * twos: the first eligible dest whose running weight reaches `r` (the kernel subtracts
 * weights in list order until r <= 0; r = 0 therefore takes the first eligible dest).
 */
export function indexDraw(svc: u32, r: u64): u32 {
  const p = blockAt(load<u32>(schedWord(svc, W_BLOCK)));
  let need = r > 0 ? r : 1;
  let i: u32 = 1;
  while (i < IDX_CAP) {
    const left = load<u64>(sumAt(p, 2 * i));
    if (left >= need) i = 2 * i;
    else {
      need -= left;
      i = 2 * i + 1;
    }
  }
  return destOfPos(p, i - IDX_CAP);
}
