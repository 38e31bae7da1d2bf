// The locality caches of lblc and lblcr (ip_vs_lblc.c, ip_vs_lblcr.c): per service, 1024
// buckets (in its table block) keyed by hash_32(ntohl(daddr fold), 10), holding entries
// {daddr, dest or dest set, lastuse, lastmod} from engine-wide pools sized at init. An
// entry (lblc) or set member (lblcr) holds a reference on its dest, as in IPVS. When a pool
// is empty the pick is used without caching it. GC runs from expire(): every 60 s; every
// 30th run a full sweep of entries idle for lblc(r)_expiration, otherwise, above 16384
// entries, entries idle 6 min. Mirrors assembly/sched/locality.ts. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { DestTable } from "../dest.ts";
import { addrFoldHost, hash32 } from "./hashing.ts";
import { LBLC_BITS, LBLC_BUCKETS } from "./table.ts";

const { SYS_LBLC_EXPIRATION, SYS_LBLCR_EXPIRATION } = abi;

// Header words after the buckets in the service's block.
const H_ENTRIES = LBLC_BUCKETS;
/** 0 = GC not armed yet (armed at the first expire() after the service binds). */
const H_COUNTER = LBLC_BUCKETS + 1;
const H_ROVER = LBLC_BUCKETS + 2;
const H_NEXT_CHECK = LBLC_BUCKETS + 3;

const CHECK_INTERVAL_MS = 60 * 1000;
const ENTRY_TIMEOUT_MS = 6 * 60 * 1000;
const COUNT_FOR_FULL_EXPIRATION = 30;
const MAX_SIZE = LBLC_BUCKETS * 16;
const MAX_CATCH_UP = 64;
const MAX_TIMEOUT = 2147483;

/** True once `now` has reached `t` (wrap-safe, engine milliseconds). */
function reached(now: number, t: number): boolean {
  return ((now - t) | 0) >= 0;
}

export class LocalityCache {
  /** Entry daddr as 4 little-endian words of wire bytes (IPv4: word 0, zeros). */
  readonly addr: Uint32Array;
  /** lblc: the dest; lblcr: the first set node (-1: none). */
  readonly dest: Int32Array;
  readonly lastuse: Uint32Array;
  readonly next: Int32Array;
  readonly lastmod: Uint32Array;
  readonly size: Int32Array;
  readonly nodeDest: Int32Array;
  readonly nodeNext: Int32Array;
  readonly #free: Int32Array;
  #top: number;
  readonly #nodeFree: Int32Array;
  #nodeTop: number;

  constructor(entries: number, nodes: number) {
    this.addr = new Uint32Array(entries * 4);
    this.dest = new Int32Array(entries);
    this.lastuse = new Uint32Array(entries);
    this.next = new Int32Array(entries);
    this.lastmod = new Uint32Array(entries);
    this.size = new Int32Array(entries);
    this.nodeDest = new Int32Array(nodes);
    this.nodeNext = new Int32Array(nodes);
    this.#free = Int32Array.from({ length: entries }, (_, k) => entries - 1 - k);
    this.#top = entries;
    this.#nodeFree = Int32Array.from({ length: nodes }, (_, k) => nodes - 1 - k);
    this.#nodeTop = nodes;
  }

  /** A block just bound to an lblc/lblcr service: empty buckets, zero header. */
  init(t: Int32Array, base: number): void {
    t[base + H_ENTRIES] = 0;
    t[base + H_COUNTER] = 0;
    t[base + H_ROVER] = 0;
    t[base + H_NEXT_CHECK] = 0;
  }

  bucket(w0: number, w1: number, w2: number, w3: number): number {
    return hash32(addrFoldHost(w0, w1, w2, w3), LBLC_BITS);
  }

  find(t: Int32Array, base: number, b: number, w0: number, w1: number, w2: number, w3: number) {
    const a = this.addr;
    for (let e = t[base + b]; e >= 0; e = this.next[e]) {
      const o = e * 4;
      if (a[o] === w0 && a[o + 1] === w1 && a[o + 2] === w2 && a[o + 3] === w3) return e;
    }
    return -1;
  }

  /** A fresh entry linked at the head of bucket `b`; -1 when the pool is empty. */
  add(
    t: Int32Array,
    base: number,
    b: number,
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    nowMs: number,
  ): number {
    if (this.#top === 0) return -1;
    const e = this.#free[--this.#top];
    const o = e * 4;
    this.addr[o] = w0;
    this.addr[o + 1] = w1;
    this.addr[o + 2] = w2;
    this.addr[o + 3] = w3;
    this.dest[e] = -1;
    this.lastuse[e] = nowMs;
    this.lastmod[e] = 0;
    this.size[e] = 0;
    this.next[e] = t[base + b];
    t[base + b] = e;
    t[base + H_ENTRIES]++;
    return e;
  }

  /** ip_vs_dest_set_insert: new members go to the head; `check` skips a present one. */
  setInsert(e: number, d: number, check: boolean, dests: DestTable, nowMs: number): void {
    if (check) {
      for (let n = this.dest[e]; n >= 0; n = this.nodeNext[n]) if (this.nodeDest[n] === d) return;
    }
    if (this.#nodeTop === 0) return;
    const n = this.#nodeFree[--this.#nodeTop];
    dests.hold(d);
    this.nodeDest[n] = d;
    this.nodeNext[n] = this.dest[e];
    this.dest[e] = n;
    this.size[e]++;
    this.lastmod[e] = nowMs;
  }

  #nodeFreeOne(n: number, dests: DestTable): void {
    dests.put(this.nodeDest[n]);
    this.#nodeFree[this.#nodeTop++] = n;
  }

  /** ip_vs_dest_set_erase: drops `d` from the set (lastmod = now). */
  setErase(e: number, d: number, dests: DestTable, nowMs: number): void {
    let prev = -1;
    for (let n = this.dest[e]; n >= 0; prev = n, n = this.nodeNext[n]) {
      if (this.nodeDest[n] !== d) continue;
      if (prev < 0) this.dest[e] = this.nodeNext[n];
      else this.nodeNext[prev] = this.nodeNext[n];
      this.size[e]--;
      this.lastmod[e] = nowMs;
      this.#nodeFreeOne(n, dests);
      return;
    }
  }

  /** Unlinks entry `e` (after `prev`, or the bucket head) and frees it with its references. */
  remove(
    t: Int32Array,
    base: number,
    b: number,
    prev: number,
    e: number,
    set: boolean,
    dests: DestTable,
  ): void {
    if (prev < 0) t[base + b] = this.next[e];
    else this.next[prev] = this.next[e];
    t[base + H_ENTRIES]--;
    if (set) {
      for (let n = this.dest[e]; n >= 0;) {
        const nx = this.nodeNext[n];
        this.#nodeFreeOne(n, dests);
        n = nx;
      }
    } else if (this.dest[e] >= 0) {
      dests.put(this.dest[e]);
    }
    this.#free[this.#top++] = e;
  }

  /** The entry before `e` in bucket `b` (-1: `e` is the head). */
  prevOf(t: Int32Array, base: number, b: number, e: number): number {
    let prev = -1;
    for (let x = t[base + b]; x !== e; x = this.next[x]) prev = x;
    return prev;
  }

  /** Frees every entry, bucket by bucket, each chain from its head (service done). */
  flush(t: Int32Array, base: number, set: boolean, dests: DestTable): void {
    for (let b = 0; b < LBLC_BUCKETS; b++) {
      while (t[base + b] >= 0) this.remove(t, base, b, -1, t[base + b], set, dests);
    }
  }

  #sweep(
    t: Int32Array,
    base: number,
    b: number,
    idle: number,
    set: boolean,
    dests: DestTable,
    now: number,
  ): number {
    let n = 0;
    let prev = -1;
    for (let e = t[base + b]; e >= 0;) {
      const nx = this.next[e];
      if (reached(now, this.lastuse[e] + idle)) {
        this.remove(t, base, b, prev, e, set, dests);
        n++;
      } else {
        prev = e;
      }
      e = nx;
    }
    return n;
  }

  #check(
    t: Int32Array,
    base: number,
    set: boolean,
    dests: DestTable,
    sysctl: Int32Array,
    now: number,
  ): void {
    if (t[base + H_COUNTER] % COUNT_FOR_FULL_EXPIRATION === 0) {
      const s = sysctl[set ? SYS_LBLCR_EXPIRATION : SYS_LBLC_EXPIRATION] >>> 0;
      const exp = Math.min(s, MAX_TIMEOUT) * 1000;
      for (let b = 0; b < LBLC_BUCKETS; b++) this.#sweep(t, base, b, exp, set, dests, now);
      t[base + H_COUNTER] = 1;
      return;
    }
    const entries = t[base + H_ENTRIES];
    if (entries <= MAX_SIZE) {
      t[base + H_COUNTER]++;
      return;
    }
    let goal = Math.min(Math.floor((entries - MAX_SIZE) * 4 / 3), MAX_SIZE / 2);
    let j = t[base + H_ROVER];
    for (let i = 0; i < LBLC_BUCKETS; i++) {
      j = (j + 1) & (LBLC_BUCKETS - 1);
      goal -= this.#sweep(t, base, j, ENTRY_TIMEOUT_MS, set, dests, now);
      if (goal <= 0) break;
    }
    t[base + H_ROVER] = j;
  }

  /** The service's 60-s timer, driven by expire(now): arms, then runs every check due. */
  tick(
    t: Int32Array,
    base: number,
    set: boolean,
    dests: DestTable,
    sysctl: Int32Array,
    now: number,
  ): void {
    if (t[base + H_COUNTER] === 0) {
      t[base + H_COUNTER] = 1;
      t[base + H_NEXT_CHECK] = (now + CHECK_INTERVAL_MS) | 0;
      return;
    }
    for (let i = 0; i < MAX_CATCH_UP && reached(now, t[base + H_NEXT_CHECK] >>> 0); i++) {
      this.#check(t, base, set, dests, sysctl, now);
      t[base + H_NEXT_CHECK] = ((t[base + H_NEXT_CHECK] >>> 0) + CHECK_INTERVAL_MS) | 0;
    }
    if (reached(now, t[base + H_NEXT_CHECK] >>> 0)) {
      t[base + H_NEXT_CHECK] = (now + CHECK_INTERVAL_MS) | 0;
    }
  }
}
