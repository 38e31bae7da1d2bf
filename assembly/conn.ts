// The connection table (ip_vs_conn.c): a slab of 64-byte entries (abi.ts CN_*),
// 48-byte IPv6 address blocks, and one chained hash whose buckets serve both
// directions. Each entry has two hash nodes: the in node (client -> VIP key),
// always linked, and the out node (real server -> client key), linked for NAT
// entries only. A link is a tagged word `slot << 1 | dir` (NIL ends a chain);
// new nodes go to the head of their chain, so chains are searched newest first.
// Slots and IPv6 blocks come from LIFO free stacks that hand out 0, 1, 2, ...
// first, so both engines number entries identically (ARCHITECTURE.md, Expiry).
import {
  AF_INET,
  C_CONNS,
  C_CONNS6,
  C_CONN_EXPIRED,
  C_CONN_NEW,
  CN_AF,
  CN_CADDR,
  CN_CONTROL,
  CN_CPORT,
  CN_DADDR,
  CN_DEST,
  CN_DPORT,
  CN_EXPIRES,
  CN_EXT,
  CN_FLAGS,
  CN_IN_PKTS,
  CN_LINK_IN,
  CN_LINK_OUT,
  CN_N_CONTROL,
  CN_PROTO,
  CN_STATE,
  CN_SVC,
  CN_TIMEOUT,
  CN_USED,
  CN_VADDR,
  CN_VPORT,
  CONN6_SIZE,
  CONN_SIZE,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NOOUTPUT,
  IP_VS_CONN_F_TEMPLATE,
  TCP_S_NONE,
  T_NEW,
} from "./abi";
import { DS_ADDR, DS_AF, DS_FWD, destAt, destBind, destUnbind } from "./dest";
import { addrWord, hashFinish, hashMix } from "./hash";
import { tplRetry, tplUnlink } from "./persist";
import { Eng, Mem, Pkt } from "./state";
import { count, countDec, statsConn } from "./stats";
import { copy16, equal16 } from "./wire/bytes";

export const NIL: u32 = 0xffffffff;
const DIR_IN: u32 = 0;
const DIR_OUT: u32 = 1;

/** Offsets inside an IPv6 address block. */
export const C6_CADDR: u32 = 0;
export const C6_VADDR: u32 = 16;
export const C6_DADDR: u32 = 32;

@inline export function connAt(slot: u32): usize {
  return Mem.conns + <usize>slot * CONN_SIZE;
}

@inline export function conn6At(ext: u32): usize {
  return Mem.conn6 + <usize>ext * CONN6_SIZE;
}

/** Wrap-safe: the entry has expired when (nowMs - expires) as i32 >= 0. */
@inline export function connExpired(e: usize): bool {
  return <i32>(Eng.nowMs - load<u32>(e, CN_EXPIRES)) >= 0;
}

/** Resets the table at init: every slot and block free, buckets empty. */
export function connReset(): void {
  memory.fill(Mem.conns, 0, <usize>Mem.maxConns * CONN_SIZE);
  memory.fill(Mem.buckets, 0xff, <usize>(Mem.bucketMask + 1) << 2);
  for (let i: u32 = 0; i < Mem.maxConns; i++) {
    store<u32>(Mem.connFree + (<usize>i << 2), Mem.maxConns - 1 - i);
  }
  for (let i: u32 = 0; i < Mem.maxConns6; i++) {
    store<u32>(Mem.conn6Free + (<usize>i << 2), Mem.maxConns6 - 1 - i);
  }
  Eng.connTop = Mem.maxConns;
  Eng.conn6Top = Mem.maxConns6;
}

// ---- Hashing -------------------------------------------------------------------

/** Bucket of an in key (caddr, cport, vaddr, vport) or out key (daddr, dport, caddr, cport). */
@inline function bucketOf(dir: u32, af: u32, proto: u32, a1: u32, a2: u32, ports: u32): usize {
  let h = hashMix(Eng.seed, af | (proto << 8) | (dir << 16));
  h = hashMix(h, a1);
  h = hashMix(h, a2);
  h = hashMix(h, ports);
  return Mem.buckets + (<usize>(hashFinish(h) & Mem.bucketMask) << 2);
}

/** Pointers to an entry's three addresses (the IPv6 block, or the entry words). */
@inline function caddrOf(e: usize, af: u32): usize {
  return af == AF_INET ? e + CN_CADDR : conn6At(load<u32>(e, CN_EXT)) + C6_CADDR;
}

@inline function vaddrOf(e: usize, af: u32): usize {
  return af == AF_INET ? e + CN_VADDR : conn6At(load<u32>(e, CN_EXT)) + C6_VADDR;
}

@inline function daddrOf(e: usize, af: u32): usize {
  return af == AF_INET ? e + CN_DADDR : conn6At(load<u32>(e, CN_EXT)) + C6_DADDR;
}

function entryBucket(e: usize, dir: u32): usize {
  const af: u32 = load<u8>(e, CN_AF);
  const proto: u32 = load<u8>(e, CN_PROTO);
  const c = addrWord(af, caddrOf(e, af));
  const cport: u32 = load<u16>(e, CN_CPORT);
  if (dir == DIR_IN) {
    const vport: u32 = load<u16>(e, CN_VPORT);
    return bucketOf(DIR_IN, af, proto, c, addrWord(af, vaddrOf(e, af)), cport | (vport << 16));
  }
  const dport: u32 = load<u16>(e, CN_DPORT);
  return bucketOf(DIR_OUT, af, proto, addrWord(af, daddrOf(e, af)), c, dport | (cport << 16));
}

@inline function linkField(tag: u32): usize {
  return connAt(tag >> 1) + ((tag & 1) != 0 ? CN_LINK_OUT : CN_LINK_IN);
}

function link(bucket: usize, tag: u32): void {
  store<u32>(linkField(tag), load<u32>(bucket));
  store<u32>(bucket, tag);
}

function unlink(bucket: usize, tag: u32): void {
  let p = bucket;
  let t = load<u32>(p);
  while (t != NIL) {
    if (t == tag) {
      store<u32>(p, load<u32>(linkField(t)));
      return;
    }
    p = linkField(t);
    t = load<u32>(p);
  }
}

// ---- Lookups (data path; addresses are pointers into the packet) -------------------

@inline function addrEq(af: u32, word: u32, ext: usize, p: usize): bool {
  if (af == AF_INET) return word == load<u32>(p);
  return word == load<u32>(p, 12) && equal16(ext, p);
}

/**
 * In-direction lookup for a client -> VIP packet: caddr = src, cport = sport,
 * vaddr = dst, vport = dport. Returns the newest matching slot or NIL.
 */
export function connInGet(
  af: u32,
  proto: u32,
  src: usize,
  sport: u32,
  dst: usize,
  dport: u32,
): u32 {
  const ports = sport | (dport << 16);
  let t = load<u32>(bucketOf(DIR_IN, af, proto, addrWord(af, src), addrWord(af, dst), ports));
  while (t != NIL) {
    const e = connAt(t >> 1);
    if (
      (t & 1) == DIR_IN && load<u32>(e, CN_CPORT) == ports && load<u8>(e, CN_PROTO) == proto &&
      load<u8>(e, CN_AF) == af
    ) {
      const x: usize = af == AF_INET ? 0 : conn6At(load<u32>(e, CN_EXT));
      if (
        addrEq(af, load<u32>(e, CN_CADDR), x + C6_CADDR, src) &&
        addrEq(af, load<u32>(e, CN_VADDR), x + C6_VADDR, dst)
      ) return t >> 1;
    }
    t = load<u32>(e + ((t & 1) != 0 ? CN_LINK_OUT : CN_LINK_IN));
  }
  return NIL;
}

/**
 * Out-direction lookup for a real server -> client packet (NAT entries only):
 * daddr = src, dport = sport, caddr = dst, cport = dport. Newest match or NIL.
 */
export function connOutGet(
  af: u32,
  proto: u32,
  src: usize,
  sport: u32,
  dst: usize,
  dport: u32,
): u32 {
  const ports = sport | (dport << 16);
  let t = load<u32>(bucketOf(DIR_OUT, af, proto, addrWord(af, src), addrWord(af, dst), ports));
  while (t != NIL) {
    const e = connAt(t >> 1);
    if (
      (t & 1) == DIR_OUT && load<u16>(e, CN_DPORT) == sport && load<u16>(e, CN_CPORT) == dport &&
      load<u8>(e, CN_PROTO) == proto && load<u8>(e, CN_AF) == af
    ) {
      const x: usize = af == AF_INET ? 0 : conn6At(load<u32>(e, CN_EXT));
      if (
        addrEq(af, load<u32>(e, CN_DADDR), x + C6_DADDR, src) &&
        addrEq(af, load<u32>(e, CN_CADDR), x + C6_CADDR, dst)
      ) return t >> 1;
    }
    t = load<u32>(e + ((t & 1) != 0 ? CN_LINK_OUT : CN_LINK_IN));
  }
  return NIL;
}

// ---- Create and free -----------------------------------------------------------------

/**
 * Takes a free entry (and, unless `v4`, an IPv6 block, stored at CN_EXT; NIL there for
 * IPv4). NIL when none is free. The caller fills every other field.
 */
export function connAlloc(v4: bool): u32 {
  if (Eng.connTop == 0 || (!v4 && Eng.conn6Top == 0)) return NIL;
  Eng.connTop--;
  const slot = load<u32>(Mem.connFree + (<usize>Eng.connTop << 2));
  let ext = NIL;
  if (!v4) {
    Eng.conn6Top--;
    ext = load<u32>(Mem.conn6Free + (<usize>Eng.conn6Top << 2));
  }
  store<u32>(connAt(slot), ext, CN_EXT);
  return slot;
}

/**
 * Creates an entry for the current packet (Pkt) scheduled to `dest` of `svc`
 * (ARCHITECTURE.md step 10) with destination port `dportW` (wire order) and flags
 * `extraFlags` (ONE_PACKET) on top of the dest's: binds the dest, counts, links. NIL when no slot
 * (or, for IPv6, no address block) is free.
 */
export function connCreate(svc: u32, dest: u32, dportW: u32, extraFlags: u32): u32 {
  const af = Pkt.af;
  const v4 = af == AF_INET;
  const slot = connAlloc(v4);
  if (slot == NIL) return NIL;
  const e = connAt(slot);
  const d = destAt(dest);
  const fwd: u32 = load<u8>(d, DS_FWD);
  // The dest may be of the other family (TUN only): its address is 4 bytes at
  // DS_ADDR for IPv4 or 16 bytes for IPv6; entry words keep the last 32 bits.
  const destV4 = load<u8>(d, DS_AF) == AF_INET;
  if (v4) {
    store<u32>(e, load<u32>(Pkt.saddr), CN_CADDR);
    store<u32>(e, load<u32>(Pkt.daddr), CN_VADDR);
    store<u32>(e, load<u32>(d + DS_ADDR + (destV4 ? 0 : 12)), CN_DADDR);
    store<u32>(e, NIL, CN_EXT);
  } else {
    const ext = load<u32>(e, CN_EXT);
    const x = conn6At(ext);
    copy16(x + C6_CADDR, Pkt.saddr);
    copy16(x + C6_VADDR, Pkt.daddr);
    copy16(x + C6_DADDR, d + DS_ADDR);
    store<u32>(e, load<u32>(x, C6_CADDR + 12), CN_CADDR);
    store<u32>(e, load<u32>(x, C6_VADDR + 12), CN_VADDR);
    store<u32>(e, load<u32>(x + C6_DADDR + (destV4 ? 0 : 12)), CN_DADDR);
  }
  store<u16>(e, <u16>Pkt.sport, CN_CPORT);
  store<u16>(e, <u16>Pkt.dport, CN_VPORT);
  store<u16>(e, <u16>dportW, CN_DPORT);
  store<u8>(e, <u8>Pkt.proto, CN_PROTO);
  store<u8>(e, <u8>TCP_S_NONE, CN_STATE);
  let flags = fwd | IP_VS_CONN_F_INACTIVE | extraFlags;
  if (fwd != IP_VS_CONN_F_MASQ) flags |= IP_VS_CONN_F_NOOUTPUT;
  store<u32>(e, flags, CN_FLAGS);
  store<u32>(e, dest, CN_DEST);
  const timeout = load<u32>(Mem.timeouts + (<usize>T_NEW << 2)) * 1000;
  store<u32>(e, timeout, CN_TIMEOUT);
  store<u32>(e, Eng.nowMs + timeout, CN_EXPIRES);
  store<u32>(e, NIL, CN_CONTROL);
  store<u32>(e, 0, CN_IN_PKTS);
  store<u16>(e, 0, CN_N_CONTROL);
  store<u8>(e, <u8>af, CN_AF);
  store<u8>(e, 1, CN_USED);
  store<u32>(e, svc, CN_SVC);
  destBind(dest);
  count(C_CONN_NEW);
  count(C_CONNS);
  if (!v4) count(C_CONNS6);
  statsConn(svc, dest);
  link(entryBucket(e, DIR_IN), slot << 1);
  if (fwd == IP_VS_CONN_F_MASQ) link(entryBucket(e, DIR_OUT), (slot << 1) | DIR_OUT);
  return slot;
}

/**
 * Frees an entry (expiry, reuse, expire_nodest_conn): unlinks both nodes,
 * unbinds the dest, counts C_CONN_EXPIRED and pushes the slot (and block).
 */
export function connFree(slot: u32): void {
  const e = connAt(slot);
  const flags = load<u32>(e, CN_FLAGS);
  const template = (flags & IP_VS_CONN_F_TEMPLATE) != 0;
  if (template) {
    tplUnlink(slot);
  } else {
    unlink(entryBucket(e, DIR_IN), slot << 1);
    if ((flags & IP_VS_CONN_F_FWD_MASK) == IP_VS_CONN_F_MASQ) {
      unlink(entryBucket(e, DIR_OUT), (slot << 1) | DIR_OUT);
    }
  }
  // ip_vs_control_del: the controller (a template) stops counting this entry.
  const ctl = load<u32>(e, CN_CONTROL);
  if (ctl != NIL) {
    const c = connAt(ctl);
    store<u16>(c, load<u16>(c, CN_N_CONTROL) - 1, CN_N_CONTROL);
  }
  destUnbind(load<u32>(e, CN_DEST), (flags & IP_VS_CONN_F_INACTIVE) != 0, template);
  count(C_CONN_EXPIRED);
  countDec(C_CONNS);
  if (load<u8>(e, CN_AF) != AF_INET) {
    countDec(C_CONNS6);
    store<u32>(Mem.conn6Free + (<usize>Eng.conn6Top << 2), load<u32>(e, CN_EXT));
    Eng.conn6Top++;
  }
  store<u8>(e, 0, CN_USED);
  store<u32>(Mem.connFree + (<usize>Eng.connTop << 2), slot);
  Eng.connTop++;
}

/** Frees every used entry that has expired, in slot order; returns the count. */
export function connExpireAll(): u32 {
  let n: u32 = 0;
  let deferred: u32 = 0;
  // Pass 1: entries that control nothing. Pass 2: the controllers met with n_control > 0
  // (templates): the first pass may have freed their last connection, as the kernel's
  // per-entry timers would have (a connection's timer fires before its template's).
  for (let slot: u32 = 0; slot < Mem.maxConns; slot++) {
    const e = connAt(slot);
    if (load<u8>(e, CN_USED) != 0 && connExpired(e)) {
      if (load<u16>(e, CN_N_CONTROL) != 0) {
        deferred++;
        continue;
      }
      connFree(slot);
      n++;
    }
  }
  for (let slot: u32 = 0; deferred > 0 && slot < Mem.maxConns; slot++) {
    const e = connAt(slot);
    if (load<u8>(e, CN_USED) != 0 && connExpired(e)) {
      deferred--;
      // A controller is kept while it controls entries, and retried later.
      if (load<u16>(e, CN_N_CONTROL) != 0) {
        tplRetry(e);
        continue;
      }
      connFree(slot);
      n++;
    }
  }
  return n;
}
