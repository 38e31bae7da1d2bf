// The locality caches of lblc and lblcr (ip_vs_lblc.c, ip_vs_lblcr.c): per service, 1024
// buckets keyed by hash_32(ntohl(daddr fold), 10), holding entries {daddr, dest or dest
// set, lastuse, lastmod} drawn from engine-wide pools carved at init (EngineConfig
// lblcEntries, lblcNodes). An entry (lblc) or set member (lblcr) holds a reference on its
// dest, as in IPVS, so a deleted dest stays in the trash while a cache names it. When a
// pool is empty the pick is used without caching it (IPVS: allocation failure). GC runs
// from expire(): every 60 s; every 30th run a full sweep of entries idle for
// lblc(r)_expiration, otherwise, above 16384 entries, entries idle 6 min (a bounded batch).
import { AF_INET, NO_DEST, SYS_LBLCR_EXPIRATION, SYS_LBLC_EXPIRATION } from "../abi";
import { sysctl } from "../ctl";
import { destHold, destNext, destPut, destWeight } from "../dest";
import { destActive } from "./scheduler";
import { Eng, Mem } from "../state";
import { equal16 } from "../wire/bytes";
import { addrFoldHost, hash32 } from "./hashing";
import { LBLC_BITS, LBLC_BUCKETS, tableSlot } from "./table";

export const NIL: u32 = 0xffffffff;

// ---- Entry (LBLC_SIZE bytes) -------------------------------------------------------
//  0 daddr (16)  16 dest (lblc) or first set node (lblcr)  20 lastuse (ms)
// 24 next in bucket  28 lastmod (ms, lblcr)  32 set size (lblcr)
export const LBLC_SIZE: u32 = 48;
export const E_DEST: u32 = 16;
export const E_LASTUSE: u32 = 20;
export const E_NEXT: u32 = 24;
export const E_LASTMOD: u32 = 28;
export const E_SIZE: u32 = 32;
// ---- Set node (NODE_SIZE bytes): dest, next ------------------------------------------
export const NODE_SIZE: u32 = 8;
export const N_NEXT: u32 = 4;

// Header words after the buckets, in the service's table block.
const H_ENTRIES: u32 = LBLC_BUCKETS;
/** 0 = GC not armed yet (armed at the first expire() after the service binds). */
const H_COUNTER: u32 = LBLC_BUCKETS + 1;
const H_ROVER: u32 = LBLC_BUCKETS + 2;
const H_NEXT_CHECK: u32 = LBLC_BUCKETS + 3;

const CHECK_INTERVAL_MS: u32 = 60 * 1000;
const ENTRY_TIMEOUT_MS: u32 = 6 * 60 * 1000;
const COUNT_FOR_FULL_EXPIRATION: u32 = 30;
const MAX_SIZE: u32 = LBLC_BUCKETS * 16;
/** Runs of the 60-s check one expire() call catches up at most. */
const MAX_CATCH_UP: u32 = 64;

/** A table block just bound to an lblc/lblcr service: empty buckets, zero header. */
export function localityInit(t: u32): void {
  store<u32>(tableSlot(t, H_ENTRIES), 0);
  store<u32>(tableSlot(t, H_COUNTER), 0);
  store<u32>(tableSlot(t, H_ROVER), 0);
  store<u32>(tableSlot(t, H_NEXT_CHECK), 0);
}

/**
 * "lblc-overloaded" (ip_vs_lblc.c is_overloaded): more active connections than its weight
 * while some dest of the service runs below half its weight (2 × active < weight).
 */
export function localityOverloaded(svc: u32, dest: u32): bool {
  if (destActive(dest) <= <i64>destWeight(dest)) return false;
  for (let d = destNext(svc, NO_DEST); d != NO_DEST; d = destNext(svc, d)) {
    if (destActive(d) * 2 < <i64>destWeight(d)) return true;
  }
  return false;
}

export function localityReset(): void {
  for (let i: u32 = 0; i < Mem.lblcMax; i++) {
    store<u32>(Mem.lblcFree + (<usize>i << 2), Mem.lblcMax - 1 - i);
  }
  for (let i: u32 = 0; i < Mem.lblcNodeMax; i++) {
    store<u32>(Mem.lblcNodeFree + (<usize>i << 2), Mem.lblcNodeMax - 1 - i);
  }
  Eng.lblcTop = Mem.lblcMax;
  Eng.lblcNodeTop = Mem.lblcNodeMax;
}

@inline export function entryAt(e: u32): usize {
  return Mem.lblcEntries + <usize>e * LBLC_SIZE;
}

@inline export function nodeAt(n: u32): usize {
  return Mem.lblcNodes + <usize>n * NODE_SIZE;
}

/** Bucket of a destination address (4 or 16 bytes at `addr`). */
@inline export function localityBucket(af: u32, addr: usize): u32 {
  return hash32(addrFoldHost(af, addr), LBLC_BITS);
}

/** The entry for `addr` in bucket `b` of table `t`, or NIL. */
export function localityFind(t: u32, b: u32, af: u32, addr: usize): u32 {
  let e = load<u32>(tableSlot(t, b));
  while (e != NIL) {
    const p = entryAt(e);
    if (af == AF_INET ? load<u32>(p) == load<u32>(addr) : equal16(p, addr)) return e;
    e = load<u32>(p, E_NEXT);
  }
  return NIL;
}

/** A fresh entry for `addr` linked at the head of bucket `b`; NIL when the pool is empty. */
export function localityNew(t: u32, b: u32, af: u32, addr: usize): u32 {
  if (Eng.lblcTop == 0) return NIL;
  Eng.lblcTop--;
  const e = load<u32>(Mem.lblcFree + (<usize>Eng.lblcTop << 2));
  const p = entryAt(e);
  memory.fill(p, 0, LBLC_SIZE);
  memory.copy(p, addr, af == AF_INET ? 4 : 16);
  store<u32>(p, NIL, E_DEST);
  store<u32>(p, Eng.nowMs, E_LASTUSE);
  const head = tableSlot(t, b);
  store<u32>(p, load<u32>(head), E_NEXT);
  store<u32>(head, e);
  const h = tableSlot(t, H_ENTRIES);
  store<u32>(h, load<u32>(h) + 1);
  return e;
}

// ---- lblcr dest sets --------------------------------------------------------------------

/** ip_vs_dest_set_insert: new members go to the head; `check` skips a present one. */
export function setInsert(e: u32, dest: u32, check: bool): void {
  const p = entryAt(e);
  if (check) {
    for (let n = load<u32>(p, E_DEST); n != NIL; n = load<u32>(nodeAt(n), N_NEXT)) {
      if (load<u32>(nodeAt(n)) == dest) return;
    }
  }
  if (Eng.lblcNodeTop == 0) return;
  Eng.lblcNodeTop--;
  const n = load<u32>(Mem.lblcNodeFree + (<usize>Eng.lblcNodeTop << 2));
  destHold(dest);
  store<u32>(nodeAt(n), dest);
  store<u32>(nodeAt(n), load<u32>(p, E_DEST), N_NEXT);
  store<u32>(p, n, E_DEST);
  store<u32>(p, load<u32>(p, E_SIZE) + 1, E_SIZE);
  store<u32>(p, Eng.nowMs, E_LASTMOD);
}

function nodeFree(n: u32): void {
  destPut(load<u32>(nodeAt(n)));
  store<u32>(Mem.lblcNodeFree + (<usize>Eng.lblcNodeTop << 2), n);
  Eng.lblcNodeTop++;
}

/** ip_vs_dest_set_erase: drops `dest` from the set (lastmod = now). */
export function setErase(e: u32, dest: u32): void {
  const p = entryAt(e);
  let link = p + E_DEST;
  for (let n = load<u32>(link); n != NIL; n = load<u32>(link)) {
    if (load<u32>(nodeAt(n)) == dest) {
      store<u32>(link, load<u32>(nodeAt(n), N_NEXT));
      store<u32>(p, load<u32>(p, E_SIZE) - 1, E_SIZE);
      store<u32>(p, Eng.nowMs, E_LASTMOD);
      nodeFree(n);
      return;
    }
    link = nodeAt(n) + N_NEXT;
  }
}

// ---- Freeing, flush and GC -----------------------------------------------------------

/** Frees entry `e` (already unlinked): drops its dest reference(s), pushes it. */
function entryFree(e: u32, set: bool): void {
  const p = entryAt(e);
  if (set) {
    let n = load<u32>(p, E_DEST);
    while (n != NIL) {
      const next = load<u32>(nodeAt(n), N_NEXT);
      nodeFree(n);
      n = next;
    }
  } else if (load<u32>(p, E_DEST) != NIL) {
    destPut(load<u32>(p, E_DEST));
  }
  store<u32>(Mem.lblcFree + (<usize>Eng.lblcTop << 2), e);
  Eng.lblcTop++;
}

/** Unlinks and frees the entry at `link` (a bucket head or an entry's next word). */
export function entryDelete(t: u32, link: usize, e: u32, set: bool): void {
  store<u32>(link, load<u32>(entryAt(e), E_NEXT));
  const h = tableSlot(t, H_ENTRIES);
  store<u32>(h, load<u32>(h) - 1);
  entryFree(e, set);
}

/** Frees every entry, bucket by bucket, each chain from its head (service done). */
export function localityFlush(t: u32, set: bool): void {
  for (let b: u32 = 0; b < LBLC_BUCKETS; b++) {
    const head = tableSlot(t, b);
    for (let e = load<u32>(head); e != NIL; e = load<u32>(head)) entryDelete(t, head, e, set);
  }
}

/** Deletes, in bucket `b`, the entries idle at least `idle` ms; returns how many. */
function sweepBucket(t: u32, b: u32, idle: u32, set: bool): u32 {
  let n: u32 = 0;
  let link = tableSlot(t, b);
  for (let e = load<u32>(link); e != NIL; e = load<u32>(link)) {
    if (<i32>(Eng.nowMs - (load<u32>(entryAt(e), E_LASTUSE) + idle)) >= 0) {
      entryDelete(t, link, e, set);
      n++;
    } else {
      link = entryAt(e) + E_NEXT;
    }
  }
  return n;
}

/** One run of ip_vs_lblc(r)_check_expire. */
function check(t: u32, set: bool): void {
  const counter = tableSlot(t, H_COUNTER);
  if (load<u32>(counter) % COUNT_FOR_FULL_EXPIRATION == 0) {
    const exp = min<u32>(sysctl(set ? SYS_LBLCR_EXPIRATION : SYS_LBLC_EXPIRATION), 2147483) * 1000;
    for (let b: u32 = 0; b < LBLC_BUCKETS; b++) sweepBucket(t, b, exp, set);
    store<u32>(counter, 1);
    return;
  }
  const entries = load<u32>(tableSlot(t, H_ENTRIES));
  if (entries <= MAX_SIZE) {
    store<u32>(counter, load<u32>(counter) + 1);
    return;
  }
  let goal = <i32>((entries - MAX_SIZE) * 4 / 3);
  if (goal > <i32>(MAX_SIZE / 2)) goal = <i32>(MAX_SIZE / 2);
  let j = load<u32>(tableSlot(t, H_ROVER));
  for (let i: u32 = 0; i < LBLC_BUCKETS; i++) {
    j = (j + 1) & (LBLC_BUCKETS - 1);
    goal -= <i32>sweepBucket(t, j, ENTRY_TIMEOUT_MS, set);
    if (goal <= 0) break;
  }
  store<u32>(tableSlot(t, H_ROVER), j);
}

/** The service's 60-s timer, driven by expire(now): arms, then runs every check due. */
export function localityTick(t: u32, set: bool): void {
  const counter = tableSlot(t, H_COUNTER);
  const next = tableSlot(t, H_NEXT_CHECK);
  if (load<u32>(counter) == 0) {
    store<u32>(counter, 1);
    store<u32>(next, Eng.nowMs + CHECK_INTERVAL_MS);
    return;
  }
  for (let i: u32 = 0; i < MAX_CATCH_UP && <i32>(Eng.nowMs - load<u32>(next)) >= 0; i++) {
    check(t, set);
    store<u32>(next, load<u32>(next) + CHECK_INTERVAL_MS);
  }
  if (<i32>(Eng.nowMs - load<u32>(next)) >= 0) store<u32>(next, Eng.nowMs + CHECK_INTERVAL_MS);
}
