// The connection table (ip_vs_conn.c): a slab of 64-byte entries (abi.ts CN_*),
// 48-byte IPv6 address blocks, and one chained hash with one node per entry,
// keyed on the client side (af, proto, caddr, cport) as the reference engine's:
// an in lookup hashes (src, sport), an out lookup (dst, dport), and both compare
// the rest of their key along the chain. There are maxConns buckets and bucket i's
// head lives in entry i (CN_BUCKET), so the table is the slab and nothing else.
// New entries go to the head of their chain, so chains are searched newest first.
// Free entries and blocks form LIFO lists threaded through themselves that hand
// out 0, 1, 2, ... first, so both engines number entries identically
// (ARCHITECTURE.md, Expiry).
import {
  AF_INET,
  C_CONNS,
  C_CONNS6,
  C_CONN_EXPIRED,
  C_CONN_NEW,
  CN_AF,
  CN_BUCKET,
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
  IP_VS_CONN_F_NO_CPORT,
  IP_VS_CONN_F_TEMPLATE,
  TCP_S_NONE,
  T_NEW,
} from "./abi";
import { DS_ADDR, DS_AF, DS_FWD, destAt, destBind, destUnbind } from "./dest";
import { addrWord, hashFinish, hashMix } from "./hash";
import { tplRetry, tplUnlink } from "./persist";
import { Edge, Eng, Mem, Pkt } from "./state";
import { count, countDec, statsConn } from "./stats";
import { copy16, equal16 } from "./wire/bytes";

export const NIL: u32 = 0xffffffff;

/** Offsets inside an IPv6 address block. */
export const C6_CADDR: u32 = 0;
export const C6_VADDR: u32 = 16;
export const C6_DADDR: u32 = 32;

/**
 * The u64 at CN_CPORT holds cport, vport, dport, proto and af (bytes 12-19).
 * An in key compares all but dport, an out key all but vport.
 */
const KEY_IN_MASK: u64 = 0xffff_0000_ffff_ffff;
const KEY_OUT_MASK: u64 = 0xffff_ffff_0000_ffff;

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

/** Resets the table at init: every entry and block free, buckets empty. */
export function connReset(): void {
  memory.fill(Mem.conns, 0, <usize>Mem.maxConns * CONN_SIZE);
  // Empty buckets; free lists in index order, so the first pops hand out 0, 1, 2, ...
  for (let i: u32 = 0; i < Mem.maxConns; i++) {
    const e = connAt(i);
    store<u32>(e, NIL, CN_BUCKET);
    store<u32>(e, i + 1 < Mem.maxConns ? i + 1 : NIL, CN_LINK_IN);
  }
  for (let i: u32 = 0; i < Mem.maxConns6; i++) {
    store<u32>(conn6At(i), i + 1 < Mem.maxConns6 ? i + 1 : NIL);
  }
  Eng.connFree = 0;
  Eng.conn6Free = Mem.maxConns6 > 0 ? 0 : NIL;
  Eng.connTop = Mem.maxConns;
  Eng.expireCursor = 0;
  Eng.conn6Top = Mem.maxConns6;
}

// ---- Hashing -------------------------------------------------------------------

/**
 * The bucket (the address of its head word) of a client-side key: (af, proto,
 * caddr, cport), where `c` is the address's word (hash.ts addrWord) and `cport`
 * the port as loaded from the wire. The bucket number is the hash scaled to
 * [0, maxConns) (multiply-high, so any table size works). Bucket numbers are never
 * observable; only chain order (newest first) is.
 *
 * Why the heads live in the entries: a separate u32 array would add 4 bytes per
 * connection (68 in all), and 64-byte entries that straddle no cache line beat
 * 60-byte ones by ~10% with 1e6 connections (bench "NAT established, 1,000,000
 * conns": 195 against 219 ns a frame), while the heads in the slab cost the same
 * as a dense array there (195 against 199) and ~4 ns with 1e3 connections.
 */
@inline export function connBucket(af: u32, proto: u32, c: u32, cport: u32): usize {
  const h = hashFinish(hashMix(hashMix(Eng.seed, c), cport | (proto << 16) | (af << 24)));
  const b = <u32>((<u64>h * <u64>Mem.maxConns) >> 32);
  return Mem.conns + <usize>b * CONN_SIZE + CN_BUCKET;
}

/** The bucket an entry is linked in. */
function entryBucket(e: usize): usize {
  const af: u32 = load<u8>(e, CN_AF);
  const c = af == AF_INET ? load<u32>(e, CN_CADDR) : addrWord(af, conn6At(load<u32>(e, CN_EXT)));
  return connBucket(af, load<u8>(e, CN_PROTO), c, load<u16>(e, CN_CPORT));
}

function link(bucket: usize, slot: u32): void {
  store<u32>(connAt(slot), load<u32>(bucket), CN_LINK_IN);
  store<u32>(bucket, slot);
}

function unlink(bucket: usize, slot: u32): void {
  let p = bucket;
  let t = load<u32>(p);
  while (t != NIL) {
    const link = connAt(t) + CN_LINK_IN;
    if (t == slot) {
      store<u32>(p, load<u32>(link));
      return;
    }
    p = link;
    t = load<u32>(p);
  }
}

// ---- Lookups (data path; addresses are pointers into the packet) -------------------

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
  // Key words as the entry stores them: IPv6 keeps the last address words inline.
  const v4 = af == AF_INET;
  const ca = load<u32>(src + (v4 ? 0 : 12));
  const va = load<u32>(dst + (v4 ? 0 : 12));
  const addrs = <u64>ca | (<u64>va << 32);
  const key = <u64>(sport | (dport << 16)) | (<u64>(proto | (af << 8)) << 48);
  let t = load<u32>(connBucket(af, proto, v4 ? ca : addrWord(af, src), sport));
  while (t != NIL) {
    const e = connAt(t);
    if (load<u64>(e, CN_CADDR) == addrs && (load<u64>(e, CN_CPORT) & KEY_IN_MASK) == key) {
      if (v4) return t;
      const x = conn6At(load<u32>(e, CN_EXT));
      if (equal16(x + C6_CADDR, src) && equal16(x + C6_VADDR, dst)) return t;
    }
    t = load<u32>(e, CN_LINK_IN);
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
  const v4 = af == AF_INET;
  const ca = load<u32>(dst + (v4 ? 0 : 12));
  const da = load<u32>(src + (v4 ? 0 : 12));
  const key = <u64>dport | (<u64>sport << 32) | (<u64>(proto | (af << 8)) << 48);
  let t = load<u32>(connBucket(af, proto, v4 ? ca : addrWord(af, dst), dport));
  while (t != NIL) {
    const e = connAt(t);
    if (
      load<u32>(e, CN_CADDR) == ca && (load<u64>(e, CN_CPORT) & KEY_OUT_MASK) == key &&
      load<u32>(e, CN_DADDR) == da &&
      (load<u32>(e, CN_FLAGS) & IP_VS_CONN_F_FWD_MASK) == IP_VS_CONN_F_MASQ
    ) {
      if (v4) return t;
      const x = conn6At(load<u32>(e, CN_EXT));
      if (equal16(x + C6_DADDR, src) && equal16(x + C6_CADDR, dst)) return t;
    }
    t = load<u32>(e, CN_LINK_IN);
  }
  return NIL;
}

// ---- Lookup hints (the batch prefetch of core.ts) -----------------------------------

/**
 * One record per frame of the batch (HINT_SIZE bytes at Mem.hints): the node a
 * walk has reached, its key (the client word and port being looked for), the
 * phase (in walk, out walk, done) and the out key for when the in walk ends.
 */
export const HINT_SIZE: u32 = 32;
const H_NODE: u32 = 0;
const H_C: u32 = 4;
const H_PORT: u32 = 8;
const H_PHASE: u32 = 12;
const H_OUT_C: u32 = 16;
const H_OUT_PORT: u32 = 20;
const H_AF_PROTO: u32 = 24;
const H_OUT_CMP: u32 = 28;
const PHASE_IN: u32 = 0;
const PHASE_OUT: u32 = 1;
const PHASE_DONE: u32 = 2;
/** Chain steps per walk: chains are short (load factor <= 1). */
const HINT_STEPS: u32 = 3;

@inline function hintAt(i: u32): usize {
  return Mem.hints + <usize>i * HINT_SIZE;
}

/**
 * Starts frame `i`'s walk: loads the head of its in-lookup bucket. The arguments
 * are what the frame's headers seem to say (nothing is validated yet).
 */
@inline export function connHint(
  i: u32,
  af: u32,
  proto: u32,
  src: usize,
  sport: u32,
  dst: usize,
  dport: u32,
): void {
  const h = hintAt(i);
  const c = addrWord(af, src);
  // The bucket only: its head is loaded by the first, tight loop of the walk.
  store<u32>(h, <u32>connBucket(af, proto, c, sport), H_NODE);
  // Entries keep the last word of an IPv6 address: compare that one.
  store<u32>(h, af == AF_INET ? c : load<u32>(src, 12), H_C);
  store<u32>(h, sport, H_PORT);
  store<u32>(h, PHASE_IN, H_PHASE);
  const d = addrWord(af, dst);
  store<u32>(h, d, H_OUT_C);
  store<u32>(h, af == AF_INET ? d : load<u32>(dst, 12), H_OUT_CMP);
  store<u32>(h, dport, H_OUT_PORT);
  store<u32>(h, af | (proto << 8), H_AF_PROTO);
}

/** Frame `i` needs no lookup (not IP, or a bad descriptor). */
@inline export function connHintNone(i: u32): void {
  const h = hintAt(i);
  store<u32>(h, <u32>(Mem.conns + CN_BUCKET), H_NODE);
  store<u32>(h, PHASE_DONE, H_PHASE);
}

/**
 * Advances the walks of frames [from, to) one node per pass, each pass one short
 * loop over the frames, so that the misses of different frames overlap: a walk
 * stops at an entry whose client word and port match, or at the end of its chain,
 * where an in walk turns into the out walk (the out lookup comes next then).
 */
export function connHintWalk(from: u32, to: u32): void {
  // A load per iteration and little else, so that many misses are in flight
  // (a miss blocks retirement: the reorder buffer must hold the loads of many
  // frames at once). Done frames point at a bucket too (any will do).
  for (let i = from; i < to; i++) {
    const h = hintAt(i);
    store<u32>(h, load<u32>(<usize>load<u32>(h, H_NODE)), H_NODE);
  }
  let sink: u32 = 0;
  for (let step: u32 = 0; step < HINT_STEPS; step++) {
    // The same for the entries: touch both ends (an entry may straddle two lines).
    for (let i = from; i < to; i++) {
      const h = hintAt(i);
      const t = load<u32>(h, H_NODE);
      if (t < Mem.maxConns && load<u32>(h, H_PHASE) != PHASE_DONE) {
        const e = connAt(t);
        sink += load<u32>(e) + load<u32>(e, CONN_SIZE - 4);
      }
    }
    // Then compare and advance, all in cache now.
    let active: u32 = 0;
    for (let i = from; i < to; i++) {
      const h = hintAt(i);
      const phase = load<u32>(h, H_PHASE);
      if (phase == PHASE_DONE) continue;
      const t = load<u32>(h, H_NODE);
      if (t == NIL) {
        if (phase == PHASE_IN) {
          const ap = load<u32>(h, H_AF_PROTO);
          const port = load<u32>(h, H_OUT_PORT);
          const b = connBucket(ap & 0xff, ap >> 8, load<u32>(h, H_OUT_C), port);
          store<u32>(h, load<u32>(b), H_NODE);
          store<u32>(h, load<u32>(h, H_OUT_CMP), H_C);
          store<u32>(h, port, H_PORT);
          store<u32>(h, PHASE_OUT, H_PHASE);
          active++;
        } else {
          store<u32>(h, PHASE_DONE, H_PHASE);
        }
        continue;
      }
      const e = connAt(t);
      if (load<u32>(e, CN_CADDR) == load<u32>(h, H_C) && <u32>load<u16>(e, CN_CPORT) == load<u32>(h, H_PORT)) {
        store<u32>(h, PHASE_DONE, H_PHASE);
      } else {
        store<u32>(h, load<u32>(e, CN_LINK_IN), H_NODE);
        active++;
      }
    }
    if (active == 0) break;
  }
  Eng.sink = sink;
}

// ---- Create and free -----------------------------------------------------------------

/**
 * Takes a free entry (and, unless `v4`, an IPv6 block, stored at CN_EXT; NIL there for
 * IPv4). NIL when none is free. The caller fills every other field.
 */
export function connAlloc(v4: bool): u32 {
  const slot = Eng.connFree;
  if (slot == NIL || (!v4 && Eng.conn6Free == NIL)) return NIL;
  const e = connAt(slot);
  Eng.connFree = load<u32>(e, CN_LINK_IN);
  Eng.connTop--;
  let ext = NIL;
  if (!v4) {
    ext = Eng.conn6Free;
    Eng.conn6Free = load<u32>(conn6At(ext));
    Eng.conn6Top--;
  }
  store<u32>(e, ext, CN_EXT);
  return slot;
}

/**
 * Fills a fresh entry `e` (from connAlloc, so CN_EXT is set) for client `caddr`
 * port `cportW` to `vaddr` port `vportW` (addresses are pointers to 4 or 16
 * bytes, ports wire order) scheduled to `dest` of `svc`: addresses (IPv6 in the
 * entry's block), ports, protocol, `state`, the dest's forwarding flags with
 * INACTIVE, NOOUTPUT unless MASQ, and `extraFlags`; `timeoutMs` from now;
 * uncontrolled. Binding, counting and linking are the caller's. Shared by
 * connections (connCreate) and persistence templates (persist.ts).
 */
export function connFill(
  e: usize, af: u32, caddr: usize, vaddr: usize, dest: u32, cportW: u32, vportW: u32,
  dportW: u32, proto: u32, state: u32, extraFlags: u32, timeoutMs: u32, svc: u32,
): void {
  const d = destAt(dest);
  const fwd: u32 = load<u8>(d, DS_FWD);
  // The dest may be of the other family (TUN only): its address is 4 bytes at
  // DS_ADDR for IPv4 or 16 bytes for IPv6; entry words keep the last 32 bits.
  const destV4 = load<u8>(d, DS_AF) == AF_INET;
  if (af == AF_INET) {
    store<u32>(e, load<u32>(caddr), CN_CADDR);
    store<u32>(e, load<u32>(vaddr), CN_VADDR);
    store<u32>(e, load<u32>(d + DS_ADDR + (destV4 ? 0 : 12)), CN_DADDR);
  } else {
    const x = conn6At(load<u32>(e, CN_EXT));
    copy16(x + C6_CADDR, caddr);
    copy16(x + C6_VADDR, vaddr);
    copy16(x + C6_DADDR, d + DS_ADDR);
    store<u32>(e, load<u32>(x, C6_CADDR + 12), CN_CADDR);
    store<u32>(e, load<u32>(x, C6_VADDR + 12), CN_VADDR);
    store<u32>(e, load<u32>(x + C6_DADDR + (destV4 ? 0 : 12)), CN_DADDR);
  }
  store<u16>(e, <u16>cportW, CN_CPORT);
  store<u16>(e, <u16>vportW, CN_VPORT);
  store<u16>(e, <u16>dportW, CN_DPORT);
  store<u8>(e, <u8>proto, CN_PROTO);
  store<u8>(e, <u8>state, CN_STATE);
  let flags = fwd | IP_VS_CONN_F_INACTIVE | extraFlags;
  if (fwd != IP_VS_CONN_F_MASQ) flags |= IP_VS_CONN_F_NOOUTPUT;
  store<u32>(e, flags, CN_FLAGS);
  store<u32>(e, dest, CN_DEST);
  store<u32>(e, timeoutMs, CN_TIMEOUT);
  store<u32>(e, Eng.nowMs + timeoutMs, CN_EXPIRES);
  store<u32>(e, NIL, CN_CONTROL);
  store<u32>(e, 0, CN_IN_PKTS);
  store<u16>(e, 0, CN_N_CONTROL);
  store<u8>(e, <u8>af, CN_AF);
  store<u8>(e, 1, CN_USED);
  store<u32>(e, svc, CN_SVC);
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
  const timeout = load<u32>(Mem.timeouts + (<usize>T_NEW << 2)) * 1000;
  const e = connAt(slot);
  connFill(e, af, Pkt.saddr, Pkt.daddr, dest, Pkt.sport, Pkt.dport, dportW, Pkt.proto, TCP_S_NONE, extraFlags, timeout, svc);
  destBind(dest);
  count(C_CONN_NEW);
  count(C_CONNS);
  if (!v4) count(C_CONNS6);
  statsConn(svc, dest);
  link(entryBucket(e), slot);
  return slot;
}

/**
 * Frees an entry (expiry, reuse, expire_nodest_conn): unlinks its node,
 * unbinds the dest, counts C_CONN_EXPIRED and pushes the slot (and block).
 */
export function connFree(slot: u32): void {
  const e = connAt(slot);
  const flags = load<u32>(e, CN_FLAGS);
  const template = (flags & IP_VS_CONN_F_TEMPLATE) != 0;
  if ((flags & IP_VS_CONN_F_NO_CPORT) != 0) Edge.noCport--; // issue 7: FTP passive data (app.ts)
  if (template) {
    tplUnlink(slot);
  } else {
    unlink(entryBucket(e), slot);
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
    const ext = load<u32>(e, CN_EXT);
    store<u32>(conn6At(ext), Eng.conn6Free);
    Eng.conn6Free = ext;
    Eng.conn6Top++;
  }
  store<u8>(e, 0, CN_USED);
  store<u32>(e, Eng.connFree, CN_LINK_IN);
  Eng.connFree = slot;
  Eng.connTop++;
}

/**
 * Fills in the client port of a NO_CPORT entry (IPVS ip_vs_conn_fill_cport; issue 7, FTP
 * passive data connections) and re-links its node under the new key (the client side).
 */
export function connSetCport(slot: u32, cportW: u32): void {
  const e = connAt(slot);
  unlink(entryBucket(e), slot);
  store<u16>(e, <u16>cportW, CN_CPORT);
  link(entryBucket(e), slot);
}

/**
 * Frees the expired entries among `budget` slots from the expiry cursor, in slot order
 * (wrapping past the last slot to 0), and moves the cursor past them; budget 0, or one
 * over maxConns, examines the whole table (from slot 0 while no budgeted call moved the
 * cursor, as the once-a-second sweep always did). Returns the count freed.
 *
 * Why a window (issue 5): a whole sweep costs ~5 ms at 1e6 slots, a stall of the frame
 * loop; the director sweeps a slice every few ms instead, a lap of the table a second.
 * The reference engine (host/engine/reference/conn.ts expire) frees the same slots in the
 * same order, as the free stack makes slot numbers observable.
 */
export function connExpire(budget: u32): u32 {
  const max = Mem.maxConns;
  if (max == 0) return 0;
  const span = budget == 0 || budget > max ? max : budget;
  const start = Eng.expireCursor;
  // start < max and span <= max < 2^26 (the slab fits in 4 GiB): no u32 overflow.
  const next = start + span;
  Eng.expireCursor = next >= max ? next - max : next;
  let n: u32 = 0;
  let deferred: u32 = 0;
  // Pass 1: entries that control nothing. Pass 2: the window's controllers met with
  // n_control > 0 (templates): pass 1 may have freed their last connection, as the
  // kernel's per-entry timers would have (a connection's timer fires before its
  // template's). Pass 2 sees this window only, so a template whose expired connection
  // sits in a later window of the same lap is retried (60 s) rather than freed, like a
  // kernel template whose timer fired first: within a lap, slot order stands for time.
  let slot = start;
  for (let i: u32 = 0; i < span; i++) {
    const e = connAt(slot);
    if (load<u8>(e, CN_USED) != 0 && connExpired(e)) {
      if (load<u16>(e, CN_N_CONTROL) != 0) {
        deferred++;
      } else {
        connFree(slot);
        n++;
      }
    }
    if (++slot == max) slot = 0;
  }
  slot = start;
  for (let i: u32 = 0; deferred > 0 && i < span; i++) {
    const e = connAt(slot);
    if (load<u8>(e, CN_USED) != 0 && connExpired(e)) {
      deferred--;
      // A controller is kept while it controls entries, and retried later.
      if (load<u16>(e, CN_N_CONTROL) != 0) {
        tplRetry(e);
      } else {
        connFree(slot);
        n++;
      }
    }
    if (++slot == max) slot = 0;
  }
  return n;
}
