// Scheduler table blocks: the slot tables of sh, dh and mh and the bucket arrays of the
// lblc/lblcr caches, one block per service that uses such a scheduler, from a LIFO pool
// sized at init (EngineConfig schedTables). The sh/dh/mh slots are written by the control
// plane as changes (setSchedSlots; STYLE G13) and only read by the data path; an empty
// slot is -1. Mirrors assembly/sched/table.ts. Runtime-agnostic.
import { SCHED_DH, SCHED_MH, SCHED_SH } from "../../abi.gen.ts";

/** sh and dh: 2^8 slots; lblc/lblcr: 2^10 buckets and a few header words. */
export const SH_BITS = 8;
export const SH_SIZE = 1 << SH_BITS;
export const LBLC_BITS = 10;
export const LBLC_BUCKETS = 1 << LBLC_BITS;
export const LBLC_HEADER = 4;

/** Words per block: the largest table (M, or the lblc buckets and header), 16-aligned. */
export function blockWords(mhSize: number): number {
  return (Math.max(mhSize, LBLC_BUCKETS + LBLC_HEADER) + 15) & ~15;
}

/** Slots of a scheduler's slot table (sh, dh: 256; mh: M; others 0). */
export function slotCount(sched: number, mhSize: number): number {
  if (sched === SCHED_SH || sched === SCHED_DH) return SH_SIZE;
  return sched === SCHED_MH ? mhSize : 0;
}

export class TablePool {
  readonly words: number;
  readonly count: number;
  /** All blocks, `words` each: dest index or -1 (slots), entry index or -1 (buckets). */
  readonly data: Int32Array;
  readonly #free: Int32Array;
  #top: number;

  constructor(count: number, mhSize: number) {
    this.words = blockWords(mhSize);
    this.count = count;
    this.data = new Int32Array(count * this.words);
    this.#free = Int32Array.from({ length: count }, (_, k) => count - 1 - k);
    this.#top = count;
  }

  available(): boolean {
    return this.#top > 0;
  }

  /** Takes a block (check available() first), every word -1; returns its base word. */
  alloc(): number {
    const t = this.#free[--this.#top];
    const base = t * this.words;
    this.data.fill(-1, base, base + this.words);
    return t;
  }

  free(t: number): void {
    this.#free[this.#top++] = t;
  }
}

/** Scheduler word 0 of a table-backed service names its block (SCHED_WORDS words each). */
export const TABLE_WORD = 0;

/** The base word of service `svc`'s block in `pool.data`. */
export function tableBase(pool: TablePool, schedState: Int32Array, svc: number, words: number) {
  return schedState[svc * words + TABLE_WORD] * pool.words;
}

/** A deleted dest leaves every slot it held empty until the control plane refills them. */
export function tableForget(pool: TablePool, base: number, n: number, dest: number): void {
  const t = pool.data;
  for (let i = base; i < base + n; i++) if (t[i] === dest) t[i] = -1;
}
