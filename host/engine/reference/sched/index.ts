// Scheduler indexes: O(1) decisions for lc, wlc, sed, nq, fo and ovf (a winner tree over
// the service's list positions) and O(log n) draws for twos (a sum tree of eligible
// weights), for services with at least schedIndexMin dests. Mirrors
// assembly/sched/index.ts: leaves follow every change of a dest's counts, weight or
// OVERLOAD flag (touch), the tree is rebuilt when the list changes, and the decisions
// equal the list walks' (the first dest in list order with the best key). Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { DestTable } from "../dest.ts";
import type { ServiceTable } from "../service.ts";
import { DEST_EDITED, mulGreater, SCHED_WORDS, type SchedulerOps } from "./scheduler.ts";

const {
  IP_VS_DEST_F_AVAILABLE,
  IP_VS_DEST_F_OVERLOAD,
  NO_DEST,
  SCHED_FO,
  SCHED_LC,
  SCHED_NQ,
  SCHED_OVF,
  SCHED_SED,
  SCHED_TWOS,
  SCHED_WLC,
} = abi;

/** Leaves per index; a longer list is walked. */
export const IDX_CAP = 1024;
const W_BLOCK = 1;
const W_COUNT = 2;

/** Schedulers an index can serve. */
export function indexable(id: number): boolean {
  return id === SCHED_LC || id === SCHED_WLC || id === SCHED_SED || id === SCHED_NQ ||
    id === SCHED_FO || id === SCHED_OVF || id === SCHED_TWOS;
}

export class SchedIndex {
  readonly min: number;
  /** Winner nodes (position or -1), 2C per block; node 1 is the root, leaves at C + pos. */
  readonly win: Int32Array;
  /** twos: sums of eligible weights, 2C per block. */
  readonly sum: Float64Array;
  /** Dest at each list position, C per block. */
  readonly destAt: Int32Array;
  readonly #free: Int32Array;
  #top: number;
  readonly #svcs: ServiceTable;
  readonly #dests: DestTable;

  constructor(count: number, min: number, svcs: ServiceTable, dests: DestTable) {
    this.min = min;
    this.win = new Int32Array(count * 2 * IDX_CAP);
    this.sum = new Float64Array(count * 2 * IDX_CAP);
    this.destAt = new Int32Array(count * IDX_CAP);
    this.#free = Int32Array.from({ length: count }, (_, k) => count - 1 - k);
    this.#top = count;
    this.#svcs = svcs;
    this.#dests = dests;
  }

  #overhead(d: number): number {
    return this.#dests.active[d] * 256 + this.#dests.inact[d];
  }

  #eligible(id: number, d: number): boolean {
    const dests = this.#dests;
    const w = dests.weight[d];
    if (w <= 0 || (dests.flags[d] & IP_VS_DEST_F_OVERLOAD) !== 0) return false;
    return id !== SCHED_OVF || dests.active[d] <= w;
  }

  /** Is `y` strictly better than `x` (`x` earlier in list order)? Exact below 2^53. */
  #better(id: number, x: number, y: number): boolean {
    const { weight, active } = this.#dests;
    if (id === SCHED_LC) return this.#overhead(y) < this.#overhead(x);
    if (id === SCHED_WLC) {
      return mulGreater(this.#overhead(x), weight[y], this.#overhead(y), weight[x]);
    }
    if (id === SCHED_FO || id === SCHED_OVF) return weight[y] > weight[x];
    if (id === SCHED_NQ) {
      const ix = active[x] === 0, iy = active[y] === 0;
      if (ix || iy) return iy && !ix;
    }
    return mulGreater(active[x] + 1, weight[y], active[y] + 1, weight[x]);
  }

  #pull(id: number, b: number, i: number): void {
    const o = b * 2 * IDX_CAP;
    if (id === SCHED_TWOS) {
      this.sum[o + i] = this.sum[o + 2 * i] + this.sum[o + 2 * i + 1];
      return;
    }
    const a = this.win[o + 2 * i], c = this.win[o + 2 * i + 1];
    const base = b * IDX_CAP;
    this.win[o + i] = a < 0
      ? c
      : c < 0
      ? a
      : this.#better(id, this.destAt[base + a], this.destAt[base + c])
      ? c
      : a;
  }

  #setLeaf(id: number, b: number, pos: number, d: number): void {
    const ok = d >= 0 && this.#eligible(id, d);
    const i = b * 2 * IDX_CAP + IDX_CAP + pos;
    if (id === SCHED_TWOS) this.sum[i] = ok ? this.#dests.weight[d] : 0;
    else this.win[i] = ok ? pos : -1;
  }

  /** Frees the service's index, if any. */
  drop(svc: number): void {
    const s = this.#svcs.schedState;
    const b = s[svc * SCHED_WORDS + W_BLOCK];
    if (b < 0) return;
    this.#free[this.#top++] = b;
    s[svc * SCHED_WORDS + W_BLOCK] = -1;
  }

  /** (Re)builds the service's index from its list; only between `min` and IDX_CAP dests. */
  build(svc: number): void {
    const svcs = this.#svcs, dests = this.#dests;
    const id = svcs.sched[svc];
    const h = dests.head(svc);
    let n = 0;
    for (let d = dests.next[h]; d !== h; d = dests.next[d]) n++;
    if (n < this.min || n > IDX_CAP) {
      this.drop(svc);
      return;
    }
    const o = svc * SCHED_WORDS;
    let b = svcs.schedState[o + W_BLOCK];
    if (b < 0) {
      if (this.#top === 0) return;
      b = this.#free[--this.#top];
      svcs.schedState[o + W_BLOCK] = b;
    }
    svcs.schedState[o + W_COUNT] = n;
    let pos = 0;
    for (let d = dests.next[h]; d !== h; d = dests.next[d]) {
      this.destAt[b * IDX_CAP + pos] = d;
      dests.pos[d] = pos;
      this.#setLeaf(id, b, pos, d);
      pos++;
    }
    for (; pos < IDX_CAP; pos++) this.#setLeaf(id, b, pos, -1);
    for (let i = IDX_CAP - 1; i >= 1; i--) this.#pull(id, b, i);
  }

  /** A dest's counts, weight or flags changed: refresh its leaf and the path to the root. */
  touch(d: number): void {
    const dests = this.#dests;
    if (dests.used[d] === 0 || (dests.flags[d] & IP_VS_DEST_F_AVAILABLE) === 0) return;
    const svc = dests.svc[d];
    const svcs = this.#svcs;
    const b = svcs.schedState[svc * SCHED_WORDS + W_BLOCK];
    if (b < 0) return;
    const id = svcs.sched[svc];
    if (!indexable(id)) return;
    const pos = dests.pos[d];
    this.#setLeaf(id, b, pos, d);
    for (let i = (IDX_CAP + pos) >> 1; i >= 1; i >>= 1) this.#pull(id, b, i);
  }

  indexed(svc: number): boolean {
    return this.#svcs.schedState[svc * SCHED_WORDS + W_BLOCK] >= 0;
  }

  /** The winner (lc, wlc, sed, nq, fo, ovf), or NO_DEST. */
  winner(svc: number): number {
    const b = this.#svcs.schedState[svc * SCHED_WORDS + W_BLOCK];
    const w = this.win[b * 2 * IDX_CAP + 1];
    return w < 0 ? NO_DEST : this.destAt[b * IDX_CAP + w];
  }

  /** twos: the sum of the eligible weights. */
  total(svc: number): number {
    return this.sum[this.#svcs.schedState[svc * SCHED_WORDS + W_BLOCK] * 2 * IDX_CAP + 1];
  }

  /** twos: the first eligible dest whose running weight reaches max(r, 1). */
  draw(svc: number, r: number): number {
    const b = this.#svcs.schedState[svc * SCHED_WORDS + W_BLOCK];
    const o = b * 2 * IDX_CAP;
    let need = r > 0 ? r : 1;
    let i = 1;
    while (i < IDX_CAP) {
      const left = this.sum[o + 2 * i];
      if (left >= need) i = 2 * i;
      else {
        need -= left;
        i = 2 * i + 1;
      }
    }
    return this.destAt[b * IDX_CAP + i - IDX_CAP];
  }
}

/**
 * A scheduler served by an index when its service has one: init and list changes (re)build
 * it, done frees it, and the winner replaces the list walk (twos draws through it itself).
 */
export function withIndex(ops: SchedulerOps): SchedulerOps {
  const twos = ops.name === "twos";
  return {
    ...ops,
    initService(svcs, dests, svc, ctx) {
      ops.initService(svcs, dests, svc, ctx);
      svcs.schedState[svc * SCHED_WORDS + W_BLOCK] = -1;
      ctx.index.build(svc);
    },
    doneService(_svcs, _dests, svc, ctx) {
      ctx.index.drop(svc);
    },
    updateService(_svcs, _dests, svc, _dest, event, ctx) {
      if (event !== DEST_EDITED) ctx.index.build(svc);
    },
    schedule(svcs, dests, svc, ctx) {
      if (!twos && ctx.index.indexed(svc)) return ctx.index.winner(svc);
      return ops.schedule(svcs, dests, svc, ctx);
    },
  };
}
