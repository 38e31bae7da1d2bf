// Application helpers (ip_vs_app.c): the per-connection state of a helper connection (the
// FTP control connection: app_ftp.ts) and IPVS's own TCP sequence adjustment after a helper
// changed a segment's length (spec §5: per direction {init_seq, delta, previous_delta};
// vs_fix_seq, vs_fix_ack_seq, vs_seq_update), and the related data connections a helper
// creates (ip_vs_conn_new + ip_vs_control_add + ip_vs_tcp_conn_listen). Records live in a
// fixed table of APP_MAX, found by their connection's slot; a record whose connection is
// gone or was replaced is reclaimed when the table is full. Nothing here allocates.
import {
  AF_INET,
  APP_MAX,
  CN_AF,
  CN_CADDR,
  CN_CONTROL,
  CN_CPORT,
  CN_DEST,
  CN_EXPIRES,
  CN_EXT,
  CN_FLAGS,
  CN_N_CONTROL,
  CN_PROTO,
  CN_STATE,
  CN_SVC,
  CN_TIMEOUT,
  CN_USED,
  CN_VADDR,
  CN_VPORT,
  IPPROTO_TCP,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NO_CPORT,
  STATS_WORDS,
  S_CONNS,
  SYS_FTP_PORT,
  TCP_S_LISTEN,
  T_TCP_BASE,
} from "./abi";
import { C6_VADDR, NIL, conn6At, connAt, connCreate, connSetCport } from "./conn";
import { sysctl } from "./ctl";
import { destSetActive } from "./dest";
import { liveIn } from "./edge";
import { Edge, Eng, Mem, Pkt } from "./state";
import { csumFinish, csumUpdate32, csumUpdateStart } from "./wire/checksum";
import { TCP_CSUM } from "./wire/tcp";
import { swap16 } from "./wire/bytes";

// ---- Record (APP_SIZE bytes) -------------------------------------------------------------
//  0 conn slot | 4 caddr word | 8 cport | 10 mode u8 | 11 used u8 | 12 in {init_seq, delta,
//  previous_delta} | 24 out {init_seq, delta, previous_delta} | 36 next record (NIL ends)
const APP_SIZE: u32 = 48;
export const AR_MODE: u32 = 10;
export const AR_IN: u32 = 12;
export const AR_OUT: u32 = 24;
const AR_NEXT: u32 = 36;
const SEQ_INIT: u32 = 0;
const SEQ_DELTA: u32 = 4;
const SEQ_PREV: u32 = 8;
const TEXT_BYTES: u32 = 128;

/** Edge region bytes: records, buckets, free stack, scratch text. */
export const APP_BYTES: u32 = APP_MAX * (APP_SIZE + 8) + TEXT_BYTES;

@inline function recAt(i: u32): usize {
  return Edge.appRecs + <usize>i * APP_SIZE;
}

@inline function bucketOf(slot: u32): usize {
  return Edge.appBuckets + (<usize>(slot & (APP_MAX - 1)) << 2);
}

@inline function load32be(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}

@inline function store32be(p: usize, v: u32): void {
  store<u32>(p, bswap<u32>(v));
}

/** True when `a` comes after `b` in sequence space (RFC 1982 arithmetic, IPVS after()). */
@inline function after(a: u32, b: u32): bool {
  return <i32>(b - a) < 0;
}

/** True when entry `e` is an FTP control connection: NAT, TCP, to the helper's port. */
export function appConn(e: usize): bool {
  const port = sysctl(SYS_FTP_PORT);
  return port != 0 && load<u8>(e, CN_PROTO) == IPPROTO_TCP &&
    (load<u32>(e, CN_FLAGS) & IP_VS_CONN_F_FWD_MASK) == IP_VS_CONN_F_MASQ &&
    <u32>load<u16>(e, CN_VPORT) == swap16(port);
}

/** The record still belongs to entry `slot` (the slot was not reused by another client). */
@inline function owns(r: usize, slot: u32): bool {
  const e = connAt(slot);
  return load<u8>(e, CN_USED) != 0 && load<u32>(r, 4) == load<u32>(e, CN_CADDR) &&
    load<u16>(r, 8) == load<u16>(e, CN_CPORT) && appConn(e);
}

function unlinkRec(i: u32): void {
  const r = recAt(i);
  let p = bucketOf(load<u32>(r));
  let x = load<u32>(p);
  while (x != NIL) {
    if (x == i) {
      store<u32>(p, load<u32>(r, AR_NEXT));
      break;
    }
    p = recAt(x) + AR_NEXT;
    x = load<u32>(p);
  }
  store<u8>(r, 0, 11);
  store<u32>(Edge.appFree + (<usize>Edge.appTop << 2), i);
  Edge.appTop++;
}

/** The record of entry `slot`, or 0; a stale one is freed on the way. */
export function appFind(slot: u32): usize {
  let x = load<u32>(bucketOf(slot));
  while (x != NIL) {
    const r = recAt(x);
    if (load<u32>(r) == slot) {
      if (owns(r, slot)) return r;
      unlinkRec(x);
      return 0;
    }
    x = load<u32>(r, AR_NEXT);
  }
  return 0;
}

/** Frees the record `r` (a new connection took its entry's identity). */
export function appDrop(r: usize): void {
  unlinkRec(<u32>((r - Edge.appRecs) / APP_SIZE));
}

/** A fresh record for entry `slot`, or 0 when the table is full of live ones. */
export function appAlloc(slot: u32): usize {
  if (Edge.appTop == 0) {
    // Reclaim the records whose connection is gone or no longer theirs.
    for (let i: u32 = 0; i < APP_MAX; i++) {
      const r = recAt(i);
      if (load<u8>(r, 11) != 0 && !owns(r, load<u32>(r))) unlinkRec(i);
    }
    if (Edge.appTop == 0) return 0;
  }
  Edge.appTop--;
  const i = load<u32>(Edge.appFree + (<usize>Edge.appTop << 2));
  const r = recAt(i);
  const e = connAt(slot);
  memory.fill(r, 0, APP_SIZE);
  store<u32>(r, slot);
  store<u32>(r, load<u32>(e, CN_CADDR), 4);
  store<u16>(r, load<u16>(e, CN_CPORT), 8);
  store<u8>(r, 1, 11);
  const b = bucketOf(slot);
  store<u32>(r, load<u32>(b), AR_NEXT);
  store<u32>(b, i);
  return r;
}

// ---- Sequence adjustment (ip_vs_app.c) ---------------------------------------------------

/**
 * app_tcp_pkt_in / app_tcp_pkt_out's first half: the segment's sequence number moves by
 * its direction's delta, its acknowledgement by the other direction's, with the TCP
 * checksum updated incrementally. `flags` are the entry's (IN_SEQ / OUT_SEQ set).
 */
export function appFixSeq(r: usize, out: bool, inSeq: bool, outSeq: bool): void {
  const th = Pkt.l4;
  const mine = r + (out ? AR_OUT : AR_IN);
  const other = r + (out ? AR_IN : AR_OUT);
  const oldSeq = load<u32>(th, 4);
  const oldAck = load<u32>(th, 8);
  if (out ? outSeq : inSeq) {
    const d = load<i32>(mine, SEQ_DELTA);
    const pd = load<i32>(mine, SEQ_PREV);
    if (d != 0 || pd != 0) {
      const seq = load32be(th + 4);
      store32be(th + 4, seq + <u32>(after(seq, load<u32>(mine, SEQ_INIT)) ? d : pd));
    }
  }
  if (out ? inSeq : outSeq) {
    const d = load<i32>(other, SEQ_DELTA);
    const pd = load<i32>(other, SEQ_PREV);
    if (d != 0 || pd != 0) {
      // ack is the next byte expected: compared with init_seq + delta.
      const ack = load32be(th + 8);
      const lim = load<u32>(other, SEQ_INIT) + <u32>d;
      store32be(th + 8, ack - <u32>(after(ack, lim) ? d : pd));
    }
  }
  const newSeq = load<u32>(th, 4);
  const newAck = load<u32>(th, 8);
  if (newSeq == oldSeq && newAck == oldAck) return;
  let s = csumUpdateStart(load<u16>(th, TCP_CSUM));
  s = csumUpdate32(s, oldSeq, newSeq);
  s = csumUpdate32(s, oldAck, newAck);
  store<u16>(th, <u16>csumFinish(s), TCP_CSUM);
}

/** vs_seq_update: the segment of original sequence `seq` changed length by `diff`. */
export function appSeqUpdate(r: usize, e: usize, out: bool, seq: u32, diff: i32): void {
  const v = r + (out ? AR_OUT : AR_IN);
  const flag: u32 = out ? 0x0200 : 0x0400; // IP_VS_CONN_F_OUT_SEQ / IN_SEQ
  const flags = load<u32>(e, CN_FLAGS);
  if ((flags & flag) == 0 || after(seq, load<u32>(v, SEQ_INIT))) {
    store<i32>(v, load<i32>(v, SEQ_DELTA), SEQ_PREV);
    store<i32>(v, load<i32>(v, SEQ_DELTA) + diff, SEQ_DELTA);
    store<u32>(v, seq, SEQ_INIT);
    store<u32>(e, flags | flag, CN_FLAGS);
  }
}

/** Bytes of one entry's adjustment as sync carries it: in, then out {init, delta, previous}. */
export const APP_SEQ_BYTES: u32 = 24;

/**
 * Copies entry `slot`'s sequence adjustment (AR_IN then AR_OUT, which the record keeps
 * side by side) to `dst`, or zeros when it has no helper record: the sync master's option 1.
 */
export function appSeqRead(slot: u32, dst: usize): void {
  const r = appFind(slot);
  if (r == 0) memory.fill(dst, 0, APP_SEQ_BYTES);
  else memory.copy(dst, r + AR_IN, APP_SEQ_BYTES);
}

/**
 * The sync backup's copy of option 1 (ip_vs_proc_conn: cp->in_seq, cp->out_seq): sets entry
 * `slot`'s adjustment from `src`. Only helper connections read it (appFixSeq), so other
 * entries keep none; a full record table loses it (as a master's would its mode).
 */
export function appSeqWrite(slot: u32, src: usize): void {
  if (!appConn(connAt(slot))) return;
  let r = appFind(slot);
  if (r == 0) r = appAlloc(slot);
  if (r != 0) memory.copy(r + AR_IN, src, APP_SEQ_BYTES);
}

// ---- Related connections -----------------------------------------------------------------

/**
 * The data connection of control entry `ctl` (slot `ctlSlot`): client `caddr` (a pointer,
 * 4 or 16 bytes) port `cportW`, the control's VIP, virtual port `vportW`, the control's
 * real server at `dportW` (wire-order ports). An existing one is reused; a new one is bound
 * to the control's dest without counting in the scheduler statistics, controlled by the
 * control entry, with NO_CPORT when `cportW` is 0. Either way it goes to LISTEN. Returns its
 * slot or NIL (no room).
 */
export function appDataConn(ctlSlot: u32, caddr: usize, cportW: u32, vportW: u32, dportW: u32): u32 {
  const ctl = connAt(ctlSlot);
  const af: u32 = load<u8>(ctl, CN_AF);
  const vaddr = af == AF_INET ? ctl + CN_VADDR : conn6At(load<u32>(ctl, CN_EXT)) + C6_VADDR;
  let slot = liveIn(af, IPPROTO_TCP, caddr, cportW, vaddr, vportW);
  if (slot == NIL) {
    const pAf = Pkt.af, pProto = Pkt.proto, pS = Pkt.saddr, pD = Pkt.daddr;
    const pSport = Pkt.sport, pDport = Pkt.dport;
    Pkt.af = af;
    Pkt.proto = IPPROTO_TCP;
    Pkt.saddr = caddr;
    Pkt.daddr = vaddr;
    Pkt.sport = cportW;
    Pkt.dport = vportW;
    const svc = load<u32>(ctl, CN_SVC);
    const dest = load<u32>(ctl, CN_DEST);
    slot = connCreate(svc, dest, dportW, cportW == 0 ? IP_VS_CONN_F_NO_CPORT : 0);
    Pkt.af = pAf;
    Pkt.proto = pProto;
    Pkt.saddr = pS;
    Pkt.daddr = pD;
    Pkt.sport = pSport;
    Pkt.dport = pDport;
    if (slot == NIL) return NIL;
    // connCreate counted the scheduler's conns statistic; IPVS's ip_vs_conn_new does not.
    const ss = Mem.svcStats + (<usize>svc * STATS_WORDS + S_CONNS) * 8;
    const ds = Mem.destStats + (<usize>dest * STATS_WORDS + S_CONNS) * 8;
    store<u64>(ss, load<u64>(ss) - 1);
    store<u64>(ds, load<u64>(ds) - 1);
    store<u32>(connAt(slot), ctlSlot, CN_CONTROL);
    store<u16>(ctl, load<u16>(ctl, CN_N_CONTROL) + 1, CN_N_CONTROL);
    if (cportW == 0) Edge.noCport++;
  }
  // ip_vs_tcp_conn_listen: LISTEN (inactive) with its timeout.
  const e = connAt(slot);
  const flags = load<u32>(e, CN_FLAGS);
  if ((flags & IP_VS_CONN_F_INACTIVE) == 0) {
    destSetActive(load<u32>(e, CN_DEST), false);
    store<u32>(e, flags | IP_VS_CONN_F_INACTIVE, CN_FLAGS);
  }
  store<u8>(e, <u8>TCP_S_LISTEN, CN_STATE);
  const timeout = load<u32>(Mem.timeouts + (<usize>(T_TCP_BASE + TCP_S_LISTEN) << 2)) * 1000;
  store<u32>(e, timeout, CN_TIMEOUT);
  store<u32>(e, Eng.nowMs + timeout, CN_EXPIRES);
  return slot;
}

/**
 * In lookup retry with client port 0 (ip_vs_conn_in_get with NO_CPORT entries about): the
 * first packet of a passive FTP data connection fills in its client port. Returns the slot.
 */
export function appNoCport(): u32 {
  if (Pkt.proto != IPPROTO_TCP) return NIL;
  const slot = liveIn(Pkt.af, IPPROTO_TCP, Pkt.saddr, 0, Pkt.daddr, Pkt.dport);
  if (slot == NIL) return NIL;
  const e = connAt(slot);
  const flags = load<u32>(e, CN_FLAGS);
  if ((flags & IP_VS_CONN_F_NO_CPORT) == 0) return NIL;
  connSetCport(slot, Pkt.sport);
  store<u32>(e, flags & ~IP_VS_CONN_F_NO_CPORT, CN_FLAGS);
  Edge.noCport--;
  return slot;
}

/** Initial state, at init; `at` is APP_BYTES of the edge region. */
export function appReset(at: usize): void {
  Edge.appRecs = at;
  Edge.appBuckets = at + <usize>APP_MAX * APP_SIZE;
  Edge.appFree = Edge.appBuckets + (<usize>APP_MAX << 2);
  Edge.appText = Edge.appFree + (<usize>APP_MAX << 2);
  memory.fill(Edge.appRecs, 0, <usize>APP_MAX * APP_SIZE);
  memory.fill(Edge.appBuckets, 0xff, <usize>APP_MAX << 2);
  for (let i: u32 = 0; i < APP_MAX; i++) {
    store<u32>(Edge.appFree + (<usize>i << 2), APP_MAX - 1 - i);
  }
  Edge.appTop = APP_MAX;
  Edge.noCport = 0;
}
