// Application helpers (ip_vs_app.c): per-connection helper state (the FTP control
// connection, app_ftp.ts), IPVS's TCP sequence adjustment after a segment changed length
// (spec §5: per direction {init_seq, delta, previous_delta}), and the related data
// connections a helper makes (ip_vs_conn_new, ip_vs_control_add, ip_vs_tcp_conn_listen).
// APP_MAX records found by connection slot; stale ones are reclaimed when the table is
// full. Mirrors assembly/app.ts. Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import { liveEntry } from "./icmp.ts";
import type { EngineState, Packet } from "./state.ts";
import { swap16 } from "./wire/bytes.ts";
import * as checksumWire from "./wire/checksum.ts";

const {
  AF_INET,
  APP_MAX,
  C_CONN_NEW,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NO_CPORT,
  IP_VS_CONN_F_NOOUTPUT,
  IPPROTO_TCP,
  SYS_FTP_PORT,
  T_TCP_BASE,
  TCP_S_LISTEN,
} = abi;
const { delta32, update } = checksumWire;

export const IN_SEQ = 0x0400;
export const OUT_SEQ = 0x0200;

/** The helper records (struct of arrays), their buckets and free stack. */
export class AppState {
  readonly owner = new Int32Array(APP_MAX);
  readonly caddr = new Uint32Array(APP_MAX);
  readonly cport = new Uint16Array(APP_MAX);
  readonly mode = new Uint8Array(APP_MAX);
  readonly used = new Uint8Array(APP_MAX);
  /** Per direction (0 in, 1 out): init_seq, delta, previous_delta. */
  readonly init = new Uint32Array(APP_MAX * 2);
  readonly delta = new Int32Array(APP_MAX * 2);
  readonly prev = new Int32Array(APP_MAX * 2);
  readonly next = new Int32Array(APP_MAX).fill(-1);
  readonly buckets = new Int32Array(APP_MAX).fill(-1);
  readonly free = Int32Array.from({ length: APP_MAX }, (_, i) => APP_MAX - 1 - i);
  top = APP_MAX;
}

/** True when after(a, b) in sequence space (IPVS after()). */
function after(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

/** True when entry `c` is an FTP control connection: NAT, TCP, to the helper's port. */
export function appConn(st: EngineState, c: number): boolean {
  const port = st.sysctl[SYS_FTP_PORT] >>> 0;
  const conns = st.conns;
  return port !== 0 && conns.proto[c] === IPPROTO_TCP &&
    (conns.flags[c] & IP_VS_CONN_F_FWD_MASK) === IP_VS_CONN_F_MASQ &&
    conns.vport[c] === swap16(port);
}

function owns(st: EngineState, r: number, slot: number): boolean {
  const a = st.edge.app;
  const conns = st.conns;
  return conns.af[slot] !== 0 && a.caddr[r] === conns.caddr[slot] &&
    a.cport[r] === conns.cport[slot] && appConn(st, slot);
}

function unlinkRec(a: AppState, i: number): void {
  const b = a.owner[i] & (APP_MAX - 1);
  if (a.buckets[b] === i) {
    a.buckets[b] = a.next[i];
  } else {
    for (let x = a.buckets[b]; x >= 0; x = a.next[x]) {
      if (a.next[x] === i) {
        a.next[x] = a.next[i];
        break;
      }
    }
  }
  a.used[i] = 0;
  a.free[a.top++] = i;
}

/** The record of entry `slot`, or -1; a stale one is freed on the way. */
export function appFind(st: EngineState, slot: number): number {
  const a = st.edge.app;
  for (let x = a.buckets[slot & (APP_MAX - 1)]; x >= 0; x = a.next[x]) {
    if (a.owner[x] === slot) {
      if (owns(st, x, slot)) return x;
      unlinkRec(a, x);
      return -1;
    }
  }
  return -1;
}

export function appDrop(st: EngineState, r: number): void {
  unlinkRec(st.edge.app, r);
}

/** A fresh record for entry `slot`, or -1 when the table is full of live ones. */
export function appAlloc(st: EngineState, slot: number): number {
  const a = st.edge.app;
  if (a.top === 0) {
    for (let i = 0; i < APP_MAX; i++) {
      if (a.used[i] !== 0 && !owns(st, i, a.owner[i])) unlinkRec(a, i);
    }
    if (a.top === 0) return -1;
  }
  const i = a.free[--a.top];
  a.owner[i] = slot;
  a.caddr[i] = st.conns.caddr[slot];
  a.cport[i] = st.conns.cport[slot];
  a.mode[i] = 0;
  a.used[i] = 1;
  a.init.fill(0, i * 2, i * 2 + 2);
  a.delta.fill(0, i * 2, i * 2 + 2);
  a.prev.fill(0, i * 2, i * 2 + 2);
  const b = slot & (APP_MAX - 1);
  a.next[i] = a.buckets[b];
  a.buckets[b] = i;
  return i;
}

/**
 * The sequence number moves by its direction's delta, the acknowledgement by the other's
 * (vs_fix_seq, vs_fix_ack_seq), the TCP checksum updated incrementally.
 */
export function appFixSeq(
  st: EngineState,
  p: Packet,
  r: number,
  out: boolean,
  inSeq: boolean,
  outSeq: boolean,
): void {
  const a = st.edge.app;
  const dv = st.dv;
  const th = p.th;
  const mine = r * 2 + (out ? 1 : 0);
  const other = r * 2 + (out ? 0 : 1);
  const oldSeq = dv.getUint32(th + 4, true);
  const oldAck = dv.getUint32(th + 8, true);
  if (out ? outSeq : inSeq) {
    const d = a.delta[mine], pd = a.prev[mine];
    if (d !== 0 || pd !== 0) {
      const seq = dv.getUint32(th + 4);
      dv.setUint32(th + 4, (seq + (after(seq, a.init[mine]) ? d : pd)) >>> 0);
    }
  }
  if (out ? inSeq : outSeq) {
    const d = a.delta[other], pd = a.prev[other];
    if (d !== 0 || pd !== 0) {
      const ack = dv.getUint32(th + 8);
      const lim = (a.init[other] + d) >>> 0;
      dv.setUint32(th + 8, (ack - (after(ack, lim) ? d : pd)) >>> 0);
    }
  }
  const newSeq = dv.getUint32(th + 4, true);
  const newAck = dv.getUint32(th + 8, true);
  if (newSeq === oldSeq && newAck === oldAck) return;
  const delta = delta32(oldSeq, newSeq) + delta32(oldAck, newAck);
  dv.setUint16(th + 16, update(dv.getUint16(th + 16, true), delta), true);
}

/** vs_seq_update: the out segment of original sequence `seq` changed length by `diff`. */
export function appSeqUpdate(st: EngineState, r: number, c: number, seq: number, diff: number) {
  const a = st.edge.app;
  const v = r * 2 + 1;
  const flags = st.conns.flags[c];
  if ((flags & OUT_SEQ) === 0 || after(seq, a.init[v])) {
    a.prev[v] = a.delta[v];
    a.delta[v] = (a.delta[v] + diff) | 0;
    a.init[v] = seq >>> 0;
    st.conns.flags[c] = flags | OUT_SEQ;
  }
}

/**
 * Entry `slot`'s sequence adjustment into `out` (in {init_seq, delta, previous_delta}, then
 * out), or zeros when it has no helper record: the sync master's option 1.
 */
export function appSeqRead(st: EngineState, slot: number, out: Uint32Array): void {
  const r = appFind(st, slot);
  if (r < 0) {
    out.fill(0);
    return;
  }
  const a = st.edge.app;
  for (let dir = 0; dir < 2; dir++) {
    const v = r * 2 + dir;
    out[dir * 3] = a.init[v];
    out[dir * 3 + 1] = a.delta[v];
    out[dir * 3 + 2] = a.prev[v];
  }
}

/**
 * The sync backup's copy of option 1 (ip_vs_proc_conn: cp->in_seq, cp->out_seq), in
 * appSeqRead's order. Only helper connections read it (appFixSeq), so other entries keep
 * none; a full record table loses it.
 */
export function appSeqWrite(st: EngineState, slot: number, seq: ArrayLike<number>): void {
  if (!appConn(st, slot)) return;
  let r = appFind(st, slot);
  if (r < 0) r = appAlloc(st, slot);
  if (r < 0) return;
  const a = st.edge.app;
  for (let dir = 0; dir < 2; dir++) {
    const v = r * 2 + dir;
    a.init[v] = seq[dir * 3] >>> 0;
    a.delta[v] = seq[dir * 3 + 1] | 0;
    a.prev[v] = seq[dir * 3 + 2] | 0;
  }
}

/** Sets the lookup key of `p` (client words, ports) and returns what it was. */
function swapKey(p: Packet, w: Uint32Array, o: number): number[] {
  const saved = [p.s0, p.s1, p.s2, p.s3, p.d0, p.d1, p.d2, p.d3, p.sport, p.dport, p.proto, p.af];
  p.s0 = w[0], p.s1 = w[1], p.s2 = w[2], p.s3 = w[3];
  p.d0 = w[4], p.d1 = w[5], p.d2 = w[6], p.d3 = w[7];
  p.sport = o & 0xffff;
  p.dport = o >>> 16;
  p.proto = IPPROTO_TCP;
  return saved;
}

function restoreKey(p: Packet, s: number[]): void {
  [p.s0, p.s1, p.s2, p.s3, p.d0, p.d1, p.d2, p.d3, p.sport, p.dport, p.proto, p.af] = s;
}

/**
 * The data connection of control entry `ctl`: client address `caddr` (4 LE words, IPv4 in
 * the first) port `cportW`, the control's VIP, virtual port `vportW`, the control's real
 * server at `dportW`. Reused, or made (NO_CPORT when `cportW` is 0) bound to the control's
 * dest without the scheduler's statistics, controlled by `ctl`; either way in LISTEN.
 * Returns its slot or -1.
 */
export function appDataConn(
  st: EngineState,
  p: Packet,
  ctl: number,
  caddr: Uint32Array,
  cportW: number,
  vportW: number,
  dportW: number,
): number {
  const conns = st.conns;
  const dests = st.dests;
  const af = conns.af[ctl];
  const key = st.edge.appKey;
  key.set(caddr.subarray(0, 4));
  if (af === AF_INET) {
    key[4] = conns.vaddr[ctl], key[5] = 0, key[6] = 0, key[7] = 0;
  } else {
    key.set(conns.addr6.subarray(conns.block[ctl] * 12 + 4, conns.block[ctl] * 12 + 8), 4);
  }
  const saved = swapKey(p, key, cportW | (vportW << 16));
  p.af = af;
  let c = liveEntry(st, conns.inGet(p), st.sched.nowMs);
  if (c < 0) {
    const d = conns.dest[ctl];
    if (conns.hasRoom(af)) {
      const fwd = dests.fwd[d];
      const flags = fwd | IP_VS_CONN_F_INACTIVE |
        (fwd === IP_VS_CONN_F_MASQ ? 0 : IP_VS_CONN_F_NOOUTPUT) |
        (cportW === 0 ? IP_VS_CONN_F_NO_CPORT : 0);
      c = conns.create(p, d, dportW, flags, conns.svc[ctl]);
      dests.bind(d);
      st.counters[C_CONN_NEW]++;
      conns.control[c] = ctl;
      conns.nControl[ctl]++;
      if (cportW === 0) conns.noCport++;
    }
  }
  restoreKey(p, saved);
  if (c < 0) return -1;
  // ip_vs_tcp_conn_listen: LISTEN (inactive) with its timeout.
  if ((conns.flags[c] & IP_VS_CONN_F_INACTIVE) === 0) {
    dests.setActive(conns.dest[c], false);
    conns.flags[c] |= IP_VS_CONN_F_INACTIVE;
  }
  conns.state[c] = TCP_S_LISTEN;
  const t = st.timeoutMs[T_TCP_BASE + TCP_S_LISTEN];
  conns.timeout[c] = t;
  conns.expires[c] = (st.sched.nowMs + t) >>> 0;
  return c;
}

/** In lookup retry with client port 0: a passive data connection's first packet. */
export function appNoCport(st: EngineState, p: Packet): number {
  if (p.proto !== IPPROTO_TCP) return -1;
  const conns = st.conns;
  const sport = p.sport;
  p.sport = 0;
  const c = liveEntry(st, conns.inGet(p), st.sched.nowMs);
  p.sport = sport;
  if (c < 0 || (conns.flags[c] & IP_VS_CONN_F_NO_CPORT) === 0) return -1;
  conns.setCport(c, sport);
  conns.flags[c] &= ~IP_VS_CONN_F_NO_CPORT;
  conns.noCport--;
  return c;
}
