// Virtual services (ip_vs_ctl.c): slots from a LIFO free stack, hashed by
// (af, proto, addr, port) or by (af, fwmark) in one chained table. A deleted
// service is unhashed at once and its dests are deleted; its slot is freed once
// no dest record (one kept in the trash by connections) refers to it anymore.
// Control operations read their record from the CTL mailbox (abi.ts CTL_*).
import {
  AF_INET,
  AF_INET6,
  CTL_ADDR,
  CTL_AF,
  CTL_FLAGS,
  CTL_FWMARK,
  CTL_NETMASK,
  CTL_PORT,
  CTL_PROTO,
  CTL_SCHED,
  CTL_TIMEOUT,
  EEXIST,
  EINVAL,
  ENOENT,
  ENOMEM,
  ESRCH,
  IPPROTO_TCP,
  NO_DEST,
  SCHED_COUNT,
  SYS_EXPIRE_NODEST_CONN,
  SYS_IP_UNPRIVILEGED_PORT_START,
} from "./abi";
import { addrWord, hashFinish, hashMix } from "./hash";
import { destDeleteAll, destNext } from "./dest";
import { sysctl } from "./ctl";
import { connFlushNodest } from "./persist";
import { schedDoneService, schedInitService, schedNeedsTable, schedTick } from "./sched/registry";
import { tableAvailable } from "./sched/table";
import { Eng, Mem } from "./state";
import { statsZeroSvc } from "./stats";
import { equal16 } from "./wire/bytes";

// ---- Service record (SVC_SIZE bytes) -----------------------------------------
//  0 af  1 proto  2 sched  3 used  4 port (wire)  8 flags  12 fwmark  16 timeout
// 20 netmask  24 hash next  28 dest list head  32 dest count (list)
// 36 dest records (list + trash)  40 scheduler data (4 words)  64 addr (16)
export const SVC_SIZE: u32 = 128;
export const SV_AF: u32 = 0;
export const SV_PROTO: u32 = 1;
export const SV_SCHED: u32 = 2;
export const SV_USED: u32 = 3;
export const SV_PORT: u32 = 4;
export const SV_FLAGS: u32 = 8;
export const SV_FWMARK: u32 = 12;
export const SV_TIMEOUT: u32 = 16;
export const SV_NETMASK: u32 = 20;
export const SV_NEXT: u32 = 24;
export const SV_DEST_HEAD: u32 = 28;
export const SV_DEST_COUNT: u32 = 32;
export const SV_DEST_RECORDS: u32 = 36;
/** Per-service scheduler state (rr: cursor; wrr: cl, cw, mw, di). */
export const SV_SCHED_DATA: u32 = 40;
export const SV_ADDR: u32 = 64;

export const SVC_FREE: u32 = 0;
export const SVC_LIVE: u32 = 1;
/** Unhashed, waiting for its trash dests to go. */
export const SVC_DELETED: u32 = 2;

export const NIL: u32 = 0xffffffff;
/** Port 21 in wire order, and the FTP data port (host order). */
export const FTP_WIRE: u32 = 21 << 8;
const FTPDATA_PORT: u32 = 20;

@inline export function svcAt(svc: u32): usize {
  return Mem.svcs + <usize>svc * SVC_SIZE;
}

/** True when `svc` is a live (hashed) service index. */
@inline export function svcIsLive(svc: u32): bool {
  return svc < Mem.maxSvcs && load<u8>(svcAt(svc), SV_USED) == SVC_LIVE;
}

/** Resets the table at init: all slots free, handed out 0, 1, 2, ... */
export function svcReset(): void {
  memory.fill(Mem.svcs, 0, <usize>Mem.maxSvcs * SVC_SIZE);
  memory.fill(Mem.svcBuckets, 0xff, <usize>(Mem.svcBucketMask + 1) << 2);
  for (let i: u32 = 0; i < Mem.maxSvcs; i++) {
    store<u32>(Mem.svcFree + (<usize>i << 2), Mem.maxSvcs - 1 - i);
  }
  Eng.svcTop = Mem.maxSvcs;
}

@inline function addrLen(af: u32): usize {
  return af == AF_INET ? 4 : 16;
}

function bucketOf(af: u32, proto: u32, addr: usize, port: u32, fwmark: u32): usize {
  let h = Eng.seed;
  if (fwmark != 0) {
    h = hashMix(h, af | 0x10000);
    h = hashMix(h, fwmark);
  } else {
    h = hashMix(h, af | (proto << 8));
    h = hashMix(h, addrWord(af, addr));
    h = hashMix(h, port);
  }
  return Mem.svcBuckets + (<usize>(hashFinish(h) & Mem.svcBucketMask) << 2);
}

/** Exact lookup (af, proto, vaddr, vport); ports in wire order. NIL if none. */
export function svcFind(af: u32, proto: u32, addr: usize, port: u32): u32 {
  let i = load<u32>(bucketOf(af, proto, addr, port, 0));
  while (i != NIL) {
    const s = svcAt(i);
    if (
      load<u32>(s, SV_FWMARK) == 0 && load<u8>(s, SV_AF) == af &&
      load<u8>(s, SV_PROTO) == proto && load<u16>(s, SV_PORT) == port
    ) {
      if (af == AF_INET ? load<u32>(s, SV_ADDR) == load<u32>(addr) : equal16(s + SV_ADDR, addr)) {
        return i;
      }
    }
    i = load<u32>(s, SV_NEXT);
  }
  return NIL;
}

/** Firewall-mark lookup (af, mark). NIL if none. */
export function svcFindFwmark(af: u32, mark: u32): u32 {
  let i = load<u32>(bucketOf(af, 0, 0, 0, mark));
  while (i != NIL) {
    const s = svcAt(i);
    if (load<u32>(s, SV_FWMARK) == mark && load<u8>(s, SV_AF) == af) return i;
    i = load<u32>(s, SV_NEXT);
  }
  return NIL;
}

/**
 * The service a packet without an entry belongs to (spec §2.7, ip_vs_service_find): the
 * fwmark table first when the packet is marked, then the exact key; then, for TCP, the
 * (VIP, 21) service for destination port 20 or an unprivileged port; then (VIP, 0).
 * Ports in wire order. NIL if none.
 */
export function svcLookup(af: u32, proto: u32, addr: usize, port: u32, mark: u32): u32 {
  if (mark != 0) {
    const s = svcFindFwmark(af, mark);
    if (s != NIL) return s;
  }
  let s = svcFind(af, proto, addr, port);
  if (s != NIL) return s;
  if (proto == IPPROTO_TCP && Eng.ftpSvcs != 0) {
    const hp = <u32>bswap<u16>(<u16>port);
    if (hp == FTPDATA_PORT || hp >= sysctl(SYS_IP_UNPRIVILEGED_PORT_START)) {
      s = svcFind(af, proto, addr, FTP_WIRE);
      if (s != NIL) return s;
    }
  }
  if (Eng.nullSvcs != 0) s = svcFind(af, proto, addr, 0);
  return s;
}

/** Counts port-21 and port-0 services (the lookup's fallbacks run only when some exist). */
function countSpecialPort(s: usize, delta: i32): void {
  if (load<u32>(s, SV_FWMARK) != 0) return;
  const port: u32 = load<u16>(s, SV_PORT);
  if (port == FTP_WIRE) Eng.ftpSvcs += <u32>delta;
  else if (port == 0) Eng.nullSvcs += <u32>delta;
}

function bucketOfSvc(s: usize): usize {
  return bucketOf(
    load<u8>(s, SV_AF),
    load<u8>(s, SV_PROTO),
    s + SV_ADDR,
    load<u16>(s, SV_PORT),
    load<u32>(s, SV_FWMARK),
  );
}

function svcUnhash(svc: u32): void {
  const s = svcAt(svc);
  let p = bucketOfSvc(s);
  while (load<u32>(p) != NIL) {
    const i = load<u32>(p);
    if (i == svc) {
      store<u32>(p, load<u32>(s, SV_NEXT));
      return;
    }
    p = svcAt(i) + SV_NEXT;
  }
}

/** Pushes a service slot back on its free stack. */
function svcFree(svc: u32): void {
  store<u8>(svcAt(svc), SVC_FREE, SV_USED);
  store<u32>(Mem.svcFree + (<usize>Eng.svcTop << 2), svc);
  Eng.svcTop++;
}

/** A dest record of `svc` was freed; frees a deleted service with no records left. */
export function svcDropDestRecord(svc: u32): void {
  const s = svcAt(svc);
  const n = load<u32>(s, SV_DEST_RECORDS) - 1;
  store<u32>(s, n, SV_DEST_RECORDS);
  if (n == 0 && load<u8>(s, SV_USED) == SVC_DELETED) svcFree(svc);
}

// ---- Control operations (exported through index.ts) ---------------------------

/**
 * Adds the service in the mailbox; returns its index, -EINVAL (family, protocol 0
 * without a fwmark), -ENOENT (unknown scheduler), -EEXIST or -ENOMEM.
 */
export function addService(): i32 {
  if (!Mem.ready) return -EINVAL;
  const c = Mem.ctl;
  const af: u32 = load<u8>(c, CTL_AF);
  const proto: u32 = load<u8>(c, CTL_PROTO);
  const sched: u32 = load<u8>(c, CTL_SCHED);
  const port: u32 = load<u16>(c, CTL_PORT);
  const fwmark = load<u32>(c, CTL_FWMARK);
  if (af != AF_INET && af != AF_INET6) return -EINVAL;
  // ip_vs_add_service: "Scheduler module ip_vs_%s not found" is -ENOENT.
  if (sched >= SCHED_COUNT) return -ENOENT;
  if (fwmark == 0 && proto == 0) return -EINVAL;
  const addr = c + CTL_ADDR;
  if (fwmark != 0 ? svcFindFwmark(af, fwmark) != NIL : svcFind(af, proto, addr, port) != NIL) {
    return -EEXIST;
  }
  if (Eng.svcTop == 0 || (schedNeedsTable(sched) && !tableAvailable())) return -ENOMEM;
  Eng.svcTop--;
  const svc = load<u32>(Mem.svcFree + (<usize>Eng.svcTop << 2));
  const s = svcAt(svc);
  memory.fill(s, 0, SVC_SIZE);
  store<u8>(s, <u8>af, SV_AF);
  store<u8>(s, <u8>(fwmark != 0 ? 0 : proto), SV_PROTO);
  store<u8>(s, <u8>sched, SV_SCHED);
  store<u8>(s, SVC_LIVE, SV_USED);
  store<u32>(s, fwmark, SV_FWMARK);
  if (fwmark == 0) {
    store<u16>(s, <u16>port, SV_PORT);
    memory.copy(s + SV_ADDR, addr, addrLen(af));
  }
  store<u32>(s, load<u32>(c, CTL_FLAGS), SV_FLAGS);
  store<u32>(s, load<u32>(c, CTL_TIMEOUT), SV_TIMEOUT);
  store<u32>(s, load<u32>(c, CTL_NETMASK), SV_NETMASK);
  store<u32>(s, NO_DEST, SV_DEST_HEAD);
  const b = bucketOfSvc(s);
  store<u32>(s, load<u32>(b), SV_NEXT);
  store<u32>(b, svc);
  countSpecialPort(s, 1);
  statsZeroSvc(svc);
  schedInitService(svc);
  return <i32>svc;
}

/**
 * Edits scheduler, flags, persistence timeout and netmask (identity fields in
 * the mailbox are ignored). A changed scheduler starts from fresh state; the same
 * scheduler keeps its state (ip_vs_edit_service). Returns `svc` or -errno.
 */
export function editService(svc: u32): i32 {
  if (!Mem.ready || !svcIsLive(svc)) return -ESRCH;
  const c = Mem.ctl;
  const sched: u32 = load<u8>(c, CTL_SCHED);
  if (sched >= SCHED_COUNT) return -ENOENT;
  const s = svcAt(svc);
  const old: u32 = load<u8>(s, SV_SCHED);
  if (sched != old && schedNeedsTable(sched) && !schedNeedsTable(old) && !tableAvailable()) {
    return -ENOMEM;
  }
  store<u32>(s, load<u32>(c, CTL_FLAGS), SV_FLAGS);
  store<u32>(s, load<u32>(c, CTL_TIMEOUT), SV_TIMEOUT);
  store<u32>(s, load<u32>(c, CTL_NETMASK), SV_NETMASK);
  if (sched != old) {
    schedDoneService(svc);
    store<u8>(s, <u8>sched, SV_SCHED);
    schedInitService(svc);
  }
  return <i32>svc;
}

/** Unhashes the service and deletes its dests (head first). Returns 0 or -ESRCH. */
export function delService(svc: u32): i32 {
  if (!Mem.ready || !svcIsLive(svc)) return -ESRCH;
  svcUnhash(svc);
  const s = svcAt(svc);
  countSpecialPort(s, -1);
  destDeleteAll(svc);
  schedDoneService(svc);
  if (sysctl(SYS_EXPIRE_NODEST_CONN) != 0) connFlushNodest();
  store<u8>(s, SVC_DELETED, SV_USED);
  if (load<u32>(s, SV_DEST_RECORDS) == 0) svcFree(svc);
  return 0;
}

/** 1 when `svc` is a live service (the host checks this before validating a spec). */
export function serviceLive(svc: u32): u32 {
  return Mem.ready && svcIsLive(svc) ? 1 : 0;
}

/** Writes the service's dest indices (list order) at L_SCRATCH; returns the count. */
export function destListInto(svc: u32): i32 {
  if (!Mem.ready || !svcIsLive(svc)) return -ESRCH;
  let n: u32 = 0;
  let d = destNext(svc, NO_DEST);
  while (d != NO_DEST && n < Mem.maxDests) {
    store<u32>(Mem.scratch + (<usize>n << 2), d);
    n++;
    d = destNext(svc, d);
  }
  return <i32>n;
}

/** The schedulers' timers at expire() time, in service order (lblc/lblcr cache GC). */
export function svcTickAll(): void {
  for (let svc: u32 = 0; svc < Mem.maxSvcs; svc++) {
    if (svcIsLive(svc)) schedTick(svc);
  }
}
