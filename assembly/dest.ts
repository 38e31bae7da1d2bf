// Real servers (dests) of a service: the list, the connection counters and the
// thresholds (ip_vs_ctl.c __ip_vs_update_dest, ip_vs_conn.c ip_vs_bind_dest /
// ip_vs_unbind_dest). A service's dests form a doubly linked list whose head H is
// NO_DEST (next(H) = first dest, next(last) = H); new dests go to the head, so
// list order is newest first as in IPVS. A deleted dest leaves the list and loses
// AVAILABLE but keeps its record (IPVS's trash) until its last connection goes.
import {
  AF_INET,
  AF_INET6,
  CTL_ADDR,
  CTL_AF,
  CTL_FWD,
  CTL_LTHRESH,
  CTL_PORT,
  CTL_TUN_FLAGS,
  CTL_TUN_PORT,
  CTL_TUN_TYPE,
  CTL_UTHRESH,
  CTL_WEIGHT,
  EEXIST,
  EINVAL,
  ENOENT,
  ENOMEM,
  ERANGE,
  ESRCH,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  IP_VS_DEST_F_AVAILABLE,
  IP_VS_DEST_F_OVERLOAD,
  NO_DEST,
  SYS_EXPIRE_NODEST_CONN,
} from "./abi";
import { sysctl } from "./ctl";
import { connFlushNodest } from "./persist";
import { indexTouch } from "./sched/index";
import { schedAddDest, schedDelDest, schedEditDest } from "./sched/registry";
import {
  SV_AF,
  SV_DEST_COUNT,
  SV_DEST_HEAD,
  SV_DEST_RECORDS,
  svcAt,
  svcDropDestRecord,
  svcIsLive,
} from "./service";
import { Eng, Mem } from "./state";
import { neighForgetDest } from "./neigh";
import { statsZeroDest } from "./stats";
import { equal16 } from "./wire/bytes";

// ---- Dest record (DEST_SIZE bytes) -------------------------------------------
//  0 af  1 fwd  2 used  3 tun type  4 flags (AVAILABLE, OVERLOAD)  8 port (wire)
// 10 tun port (wire)  12 tun flags  16 weight (i32)  20 u-threshold  24 l-threshold
// 28 active  32 inactive  36 persistent  40 refcnt (bound conns)  44 svc
// 48 next  52 prev  56 last weight (the latest non-zero weight; ip_vs_mh.c uses it)
// 60 list position (scheduler index)
// 64 addr (16; IPv4 in the first 4 bytes)  80 learned path MTU (0: none)  84 when (ms)
export const DEST_SIZE: u32 = 128;
export const DS_AF: u32 = 0;
export const DS_FWD: u32 = 1;
export const DS_USED: u32 = 2;
export const DS_TUN_TYPE: u32 = 3;
export const DS_FLAGS: u32 = 4;
export const DS_PORT: u32 = 8;
export const DS_TUN_PORT: u32 = 10;
export const DS_TUN_FLAGS: u32 = 12;
export const DS_WEIGHT: u32 = 16;
export const DS_UTHRESH: u32 = 20;
export const DS_LTHRESH: u32 = 24;
export const DS_ACTIVE: u32 = 28;
export const DS_INACT: u32 = 32;
export const DS_PERSIST: u32 = 36;
export const DS_REFCNT: u32 = 40;
export const DS_SVC: u32 = 44;
export const DS_NEXT: u32 = 48;
export const DS_PREV: u32 = 52;
export const DS_LAST_WEIGHT: u32 = 56;
/** The dest's list position while its service has a scheduler index (sched/index.ts). */
export const DS_POS: u32 = 60;
export const DS_ADDR: u32 = 64;
/** Path MTU toward the dest learned from tunnel errors, and when (pmtu.ts pmtuLearn). */
export const DS_PMTU: u32 = 80;
export const DS_PMTU_AT: u32 = 84;

export const DEST_FREE: u32 = 0;
export const DEST_LIVE: u32 = 1;
export const DEST_TRASH: u32 = 2;

@inline export function destAt(dest: u32): usize {
  return Mem.dests + <usize>dest * DEST_SIZE;
}

@inline function isLive(dest: u32): bool {
  return dest < Mem.maxDests && load<u8>(destAt(dest), DS_USED) == DEST_LIVE;
}

/** 1 when `dest` is listed in a service (the host checks this before validating a spec). */
export function destListed(dest: u32): u32 {
  return Mem.ready && isLive(dest) ? 1 : 0;
}

/** The dest after `dest` in the service's list; next(H) is the first, next(last) is H. */
@inline export function destNext(svc: u32, dest: u32): u32 {
  return dest == NO_DEST ? load<u32>(svcAt(svc), SV_DEST_HEAD) : load<u32>(destAt(dest), DS_NEXT);
}

@inline export function destWeight(dest: u32): i32 {
  return load<i32>(destAt(dest), DS_WEIGHT);
}

@inline export function destOverloaded(dest: u32): bool {
  return (load<u32>(destAt(dest), DS_FLAGS) & IP_VS_DEST_F_OVERLOAD) != 0;
}

/** Resets the table at init: all slots free, handed out 0, 1, 2, ... */
export function destReset(): void {
  memory.fill(Mem.dests, 0, <usize>Mem.maxDests * DEST_SIZE);
  for (let i: u32 = 0; i < Mem.maxDests; i++) {
    store<u32>(Mem.destFree + (<usize>i << 2), Mem.maxDests - 1 - i);
  }
  Eng.destTop = Mem.maxDests;
}

// ---- Connection binding (data path) -------------------------------------------

/** Binds a new (inactive) connection: inactConns++, reference, upper threshold. */
export function destBind(dest: u32): void {
  const d = destAt(dest);
  const inact = load<u32>(d, DS_INACT) + 1;
  store<u32>(d, inact, DS_INACT);
  store<u32>(d, load<u32>(d, DS_REFCNT) + 1, DS_REFCNT);
  const u = load<u32>(d, DS_UTHRESH);
  if (u > 0 && <u64>load<u32>(d, DS_ACTIVE) + <u64>inact >= <u64>u) {
    store<u32>(d, load<u32>(d, DS_FLAGS) | IP_VS_DEST_F_OVERLOAD, DS_FLAGS);
  }
  indexTouch(dest);
}

/** Binds a persistence template: persistConns++, reference, upper threshold (active + inact). */
export function destBindTemplate(dest: u32): void {
  const d = destAt(dest);
  store<u32>(d, load<u32>(d, DS_PERSIST) + 1, DS_PERSIST);
  store<u32>(d, load<u32>(d, DS_REFCNT) + 1, DS_REFCNT);
  const u = load<u32>(d, DS_UTHRESH);
  if (u > 0 && <u64>load<u32>(d, DS_ACTIVE) + <u64>load<u32>(d, DS_INACT) >= <u64>u) {
    store<u32>(d, load<u32>(d, DS_FLAGS) | IP_VS_DEST_F_OVERLOAD, DS_FLAGS);
  }
  indexTouch(dest);
}

/** Takes a reference on a dest (an lblc/lblcr cache entry naming it). */
export function destHold(dest: u32): void {
  const d = destAt(dest);
  store<u32>(d, load<u32>(d, DS_REFCNT) + 1, DS_REFCNT);
}

/** Drops a reference; a trash dest with no references left is freed. */
export function destPut(dest: u32): void {
  const d = destAt(dest);
  const refs = load<u32>(d, DS_REFCNT) - 1;
  store<u32>(d, refs, DS_REFCNT);
  if (refs == 0 && load<u8>(d, DS_USED) == DEST_TRASH) destFree(dest);
}

/** Moves one connection between inactConns and activeConns. */
export function destSetActive(dest: u32, active: bool): void {
  const d = destAt(dest);
  if (active) {
    store<u32>(d, load<u32>(d, DS_INACT) - 1, DS_INACT);
    store<u32>(d, load<u32>(d, DS_ACTIVE) + 1, DS_ACTIVE);
  } else {
    store<u32>(d, load<u32>(d, DS_ACTIVE) - 1, DS_ACTIVE);
    store<u32>(d, load<u32>(d, DS_INACT) + 1, DS_INACT);
  }
  indexTouch(dest);
}

/**
 * Unbinds a freed connection: decrements its counter, clears OVERLOAD below the
 * lower threshold (or 3/4 of the upper one, or at once when neither is set), and
 * drops the reference; a trash dest with no references left is freed.
 */
export function destUnbind(dest: u32, inactive: bool, template: bool): void {
  const d = destAt(dest);
  if (template) store<u32>(d, load<u32>(d, DS_PERSIST) - 1, DS_PERSIST);
  else if (inactive) store<u32>(d, load<u32>(d, DS_INACT) - 1, DS_INACT);
  else store<u32>(d, load<u32>(d, DS_ACTIVE) - 1, DS_ACTIVE);
  const total = <u64>load<u32>(d, DS_ACTIVE) + <u64>load<u32>(d, DS_INACT);
  const l = <u64>load<u32>(d, DS_LTHRESH);
  const u = <u64>load<u32>(d, DS_UTHRESH);
  const clear = l > 0 ? total < l : u > 0 ? total * 4 < u * 3 : true;
  if (clear) store<u32>(d, load<u32>(d, DS_FLAGS) & ~IP_VS_DEST_F_OVERLOAD, DS_FLAGS);
  indexTouch(dest);
  const refs = load<u32>(d, DS_REFCNT) - 1;
  store<u32>(d, refs, DS_REFCNT);
  if (refs == 0 && load<u8>(d, DS_USED) == DEST_TRASH) destFree(dest);
}

function destFree(dest: u32): void {
  const d = destAt(dest);
  const svc = load<u32>(d, DS_SVC);
  store<u8>(d, DEST_FREE, DS_USED);
  store<u32>(Mem.destFree + (<usize>Eng.destTop << 2), dest);
  Eng.destTop++;
  svcDropDestRecord(svc);
}

// ---- Control operations -------------------------------------------------------

/**
 * Checks the dest record in the mailbox (family `af`) against service `svc`.
 * Only NAT, DR and TUN are forwarding methods here; only TUN may cross families.
 */
function checkSpec(svc: u32, af: u32): i32 {
  const c = Mem.ctl;
  const fwd: u32 = load<u8>(c, CTL_FWD);
  if (af != AF_INET && af != AF_INET6) return -EINVAL;
  if (fwd != IP_VS_CONN_F_MASQ && fwd != IP_VS_CONN_F_TUNNEL && fwd != IP_VS_CONN_F_DROUTE) {
    return -EINVAL;
  }
  if (af != <u32>load<u8>(svcAt(svc), SV_AF) && fwd != IP_VS_CONN_F_TUNNEL) return -EINVAL;
  if (load<i32>(c, CTL_WEIGHT) < 0) return -ERANGE;
  if (load<u32>(c, CTL_LTHRESH) > load<u32>(c, CTL_UTHRESH)) return -ERANGE;
  return 0;
}

/** Copies the editable fields (fwd, weight, thresholds, tunnel) from the mailbox. */
function applySpec(d: usize): void {
  const c = Mem.ctl;
  store<u8>(d, load<u8>(c, CTL_FWD), DS_FWD);
  store<i32>(d, load<i32>(c, CTL_WEIGHT), DS_WEIGHT);
  store<u32>(d, load<u32>(c, CTL_UTHRESH), DS_UTHRESH);
  store<u32>(d, load<u32>(c, CTL_LTHRESH), DS_LTHRESH);
  store<u8>(d, load<u8>(c, CTL_TUN_TYPE), DS_TUN_TYPE);
  store<u16>(d, load<u16>(c, CTL_TUN_PORT), DS_TUN_PORT);
  store<u32>(d, load<u16>(c, CTL_TUN_FLAGS), DS_TUN_FLAGS);
}

/** Finds a listed dest of `svc` with the mailbox's (af, addr, port). */
function findInList(svc: u32): u32 {
  const c = Mem.ctl;
  const af: u32 = load<u8>(c, CTL_AF);
  const port = load<u16>(c, CTL_PORT);
  let dest = destNext(svc, NO_DEST);
  while (dest != NO_DEST) {
    const d = destAt(dest);
    if (
      load<u8>(d, DS_AF) == af && load<u16>(d, DS_PORT) == port &&
      equal16(d + DS_ADDR, c + CTL_ADDR)
    ) return dest;
    dest = load<u32>(d, DS_NEXT);
  }
  return NO_DEST;
}

/** Adds the dest in the mailbox at the head of `svc`'s list; its index or -errno. */
export function addDest(svc: u32): i32 {
  if (!Mem.ready || !svcIsLive(svc)) return -ESRCH;
  const c = Mem.ctl;
  const af: u32 = load<u8>(c, CTL_AF);
  const err = checkSpec(svc, af);
  if (err < 0) return err;
  if (af == AF_INET) memory.fill(c + CTL_ADDR + 4, 0, 12);
  if (findInList(svc) != NO_DEST) return -EEXIST;
  if (Eng.destTop == 0) return -ENOMEM;
  Eng.destTop--;
  const dest = load<u32>(Mem.destFree + (<usize>Eng.destTop << 2));
  const d = destAt(dest);
  memory.fill(d, 0, DEST_SIZE);
  store<u8>(d, <u8>af, DS_AF);
  store<u8>(d, DEST_LIVE, DS_USED);
  store<u32>(d, IP_VS_DEST_F_AVAILABLE, DS_FLAGS);
  store<u16>(d, load<u16>(c, CTL_PORT), DS_PORT);
  memory.copy(d + DS_ADDR, c + CTL_ADDR, 16);
  applySpec(d);
  store<i32>(d, load<i32>(d, DS_WEIGHT), DS_LAST_WEIGHT);
  store<u32>(d, svc, DS_SVC);
  // Link at the head (IPVS list_add_rcu onto svc->destinations).
  const s = svcAt(svc);
  const first = load<u32>(s, SV_DEST_HEAD);
  store<u32>(d, first, DS_NEXT);
  store<u32>(d, NO_DEST, DS_PREV);
  if (first != NO_DEST) store<u32>(destAt(first), dest, DS_PREV);
  store<u32>(s, dest, SV_DEST_HEAD);
  store<u32>(s, load<u32>(s, SV_DEST_COUNT) + 1, SV_DEST_COUNT);
  store<u32>(s, load<u32>(s, SV_DEST_RECORDS) + 1, SV_DEST_RECORDS);
  statsZeroDest(dest);
  neighForgetDest(dest);
  schedAddDest(svc, dest);
  return <i32>dest;
}

/**
 * Edits fwd, weight, thresholds and tunnel fields (address and port are the
 * key and stay). OVERLOAD clears when the new u-threshold is 0 or above the old
 * one (__ip_vs_update_dest). Existing connections keep their forwarding method.
 */
export function editDest(dest: u32): i32 {
  if (!Mem.ready || !isLive(dest)) return -ENOENT;
  const d = destAt(dest);
  const svc = load<u32>(d, DS_SVC);
  const err = checkSpec(svc, load<u8>(d, DS_AF));
  if (err < 0) return err;
  const oldU = load<u32>(d, DS_UTHRESH);
  const newU = load<u32>(Mem.ctl, CTL_UTHRESH);
  if (newU == 0 || newU > oldU) {
    store<u32>(d, load<u32>(d, DS_FLAGS) & ~IP_VS_DEST_F_OVERLOAD, DS_FLAGS);
  }
  applySpec(d);
  // __ip_vs_update_dest keeps the latest non-zero weight (mh tables use it).
  if (load<i32>(d, DS_WEIGHT) != 0) store<i32>(d, load<i32>(d, DS_WEIGHT), DS_LAST_WEIGHT);
  schedEditDest(svc, dest);
  indexTouch(dest);
  return <i32>dest;
}

/** Unlinks a listed dest, clears AVAILABLE; frees it at once if nothing refers to it. */
function destDelete(dest: u32, hook: bool): void {
  const d = destAt(dest);
  const svc = load<u32>(d, DS_SVC);
  const s = svcAt(svc);
  const next = load<u32>(d, DS_NEXT);
  const prev = load<u32>(d, DS_PREV);
  if (prev == NO_DEST) store<u32>(s, next, SV_DEST_HEAD);
  else store<u32>(destAt(prev), next, DS_NEXT);
  if (next != NO_DEST) store<u32>(destAt(next), prev, DS_PREV);
  store<u32>(s, load<u32>(s, SV_DEST_COUNT) - 1, SV_DEST_COUNT);
  store<u32>(d, load<u32>(d, DS_FLAGS) & ~IP_VS_DEST_F_AVAILABLE, DS_FLAGS);
  store<u8>(d, DEST_TRASH, DS_USED);
  // The hook still sees the dest's own prev/next (rr moves its cursor to prev).
  // A service being deleted skips it: its scheduler state dies with it.
  if (hook) schedDelDest(svc, dest);
  if (load<u32>(d, DS_REFCNT) == 0) destFree(dest);
}

/** Deletes a dest (ipvsadm -d). Returns 0 or -ENOENT. */
export function delDest(dest: u32): i32 {
  if (!Mem.ready || !isLive(dest)) return -ENOENT;
  destDelete(dest, true);
  if (sysctl(SYS_EXPIRE_NODEST_CONN) != 0) connFlushNodest();
  return 0;
}

/** Deletes every dest of `svc`, head first, without scheduler callbacks (ip_vs_del_service). */
export function destDeleteAll(svc: u32): void {
  let dest = load<u32>(svcAt(svc), SV_DEST_HEAD);
  while (dest != NO_DEST) {
    const next = load<u32>(destAt(dest), DS_NEXT);
    destDelete(dest, false);
    dest = next;
  }
}

// ---- Getters for the host (destCounts) ------------------------------------------

@inline function used(dest: u32): bool {
  return dest < Mem.maxDests && load<u8>(destAt(dest), DS_USED) != DEST_FREE;
}

export function destActiveConns(dest: u32): u32 {
  return used(dest) ? load<u32>(destAt(dest), DS_ACTIVE) : 0;
}

export function destInactConns(dest: u32): u32 {
  return used(dest) ? load<u32>(destAt(dest), DS_INACT) : 0;
}

export function destPersistConns(dest: u32): u32 {
  return used(dest) ? load<u32>(destAt(dest), DS_PERSIST) : 0;
}

export function destFlags(dest: u32): u32 {
  return used(dest) ? load<u32>(destAt(dest), DS_FLAGS) : 0;
}

/** The dest's family (0 when the slot is free); its address is at destAddr(). */
export function destAf(dest: u32): u32 {
  return used(dest) ? load<u8>(destAt(dest), DS_AF) : 0;
}

/** Address of the dest's 16-byte address field (IPv4 in the first 4 bytes). */
export function destAddr(dest: u32): usize {
  return dest < Mem.maxDests ? destAt(dest) + DS_ADDR : 0;
}

/**
 * Writes a dest's identity and weights at L_SCRATCH (u32 words: svc, af, port (host order),
 * weight, last weight, flags, then the 16 address bytes); 0, or -ENOENT for a free slot.
 */
export function destInfoInto(dest: u32): i32 {
  if (!Mem.ready || !used(dest)) return -ENOENT;
  const d = destAt(dest);
  const p = Mem.scratch;
  store<u32>(p, load<u32>(d, DS_SVC));
  store<u32>(p, load<u8>(d, DS_AF), 4);
  store<u32>(p, <u32>bswap<u16>(load<u16>(d, DS_PORT)), 8);
  store<i32>(p, load<i32>(d, DS_WEIGHT), 12);
  store<i32>(p, load<i32>(d, DS_LAST_WEIGHT), 16);
  store<u32>(p, load<u32>(d, DS_FLAGS), 20);
  memory.copy(p + 24, d + DS_ADDR, 16);
  return 0;
}
