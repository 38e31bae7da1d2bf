// Connection sync in the reference engine (ip_vs_sync.c; spec ipvs-data-plane.md §7.5, §7.6),
// the twin of assembly/sync.ts. Master side: syncPacket() runs after every in-direction
// packet while the master role is on and copies the entries IPVS would send (the entry,
// then its controllers) into the sync ring in shared memory (abi.ts SR_* records, with
// sequence data). Backup side: syncConn() creates or updates a connection or a persistence
// template from one decoded sync entry, links connections to their templates, and keeps
// an FTP control connection's sequence data.
// Invariants: nothing on the packet path allocates; the ring never overflows; an entry's
// INACTIVE flag mirrors its state's activity class (a template's is always set).
// Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import type { SyncConnSpec, SyncParams } from "../engine.ts";
import { appDrop, appFind, appSeqRead, appSeqWrite } from "./app.ts";
import { CONN6_WORDS } from "./conn.ts";
import { persistLookup, tplAdd, tplControl } from "./persist.ts";
import { FTP_WIRE, packetService } from "./service.ts";
import { TCP_ACTIVE } from "./proto/tcp.ts";
import { type EngineState, Packet } from "./state.ts";
import { swap16 } from "./wire/bytes.ts";

const {
  AF_INET,
  AF_INET6,
  C_CONN_NEW,
  EEXIST,
  EINVAL,
  ENOENT,
  ENOMEM,
  IPPROTO_IP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IP_VS_CONN_F_BACKUP_MASK,
  IP_VS_CONN_F_BACKUP_UPD_MASK,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NOOUTPUT,
  IP_VS_CONN_F_ONE_PACKET,
  IP_VS_CONN_F_SEQ_MASK,
  IP_VS_CONN_F_SYNC,
  IP_VS_CONN_F_TEMPLATE,
  IP_VS_CTPL_S_ASSURED,
  IP_VS_SVC_F_PERSISTENT,
  SR_AF,
  SR_CADDR,
  SR_CPORT,
  SR_DADDR,
  SR_DPORT,
  SR_FLAGS,
  SR_FWMARK,
  SR_IN_SEQ,
  SR_OPT_SEQ,
  SR_OPTS,
  SR_PROTO,
  SR_STATE,
  SR_TIMEOUT,
  SR_VADDR,
  SR_VPORT,
  SYNC_PERIOD_DEFAULT,
  SYNC_REC_SIZE,
  SYNC_RING_PER_FRAME,
  SYNC_TEMPLATE_TIMEOUT,
  SYNC_THRESHOLD_DEFAULT,
  T_TCP_BASE,
  T_UDP,
  TCP_S_CLOSE,
  TCP_S_CLOSE_WAIT,
  TCP_S_COUNT,
  TCP_S_ESTABLISHED,
  TCP_S_FIN_WAIT,
  TCP_S_TIME_WAIT,
} = abi;

/** TCP states whose entries are ever sent (ip_vs_sync_conn_needed). */
const TCP_SYNC_STATES = (1 << TCP_S_ESTABLISHED) | (1 << TCP_S_FIN_WAIT) | (1 << TCP_S_CLOSE) |
  (1 << TCP_S_CLOSE_WAIT) | (1 << TCP_S_TIME_WAIT);
/** Largest timeout, s, whose value in ms fits the wrap-safe i32 expiry compare. */
const MAX_TIMEOUT = 2147483;
/** Scratch of one entry's sequence data: in {init, delta, previous}, out {…}. */
const SEQ = new Uint32Array(6);

/** The sync settings and per-entry sync history (IPVS's cp->old_state, cp->sync_endtime). */
export class SyncState {
  master = false;
  version = 1;
  threshold = SYNC_THRESHOLD_DEFAULT;
  period = SYNC_PERIOD_DEFAULT;
  refreshMs = 0;
  retries = 0;
  persistMode = 0;
  /** Records in the ring (byte offset `ring` of memory, `cap` records). */
  n = 0;
  readonly ring: number;
  readonly cap: number;
  /** Expected end of the last sync, ms (low 2 bits: retries), and the state then sent. */
  readonly end: Uint32Array;
  readonly oldState: Uint8Array;
  readonly #pkt = new Packet();

  constructor(ring: number, batch: number, maxConns: number) {
    this.ring = ring;
    this.cap = batch * SYNC_RING_PER_FRAME;
    this.end = new Uint32Array(maxConns);
    this.oldState = new Uint8Array(maxConns);
  }

  /** Bytes of shared memory the ring needs for `batch`. */
  static ringBytes(batch: number): number {
    return batch * SYNC_RING_PER_FRAME * SYNC_REC_SIZE;
  }

  setup(p: SyncParams): void {
    if (p.master && !this.master) {
      this.end.fill(0);
      this.oldState.fill(0);
    }
    this.master = p.master;
    this.version = p.version;
    this.threshold = p.threshold;
    this.period = p.period;
    this.refreshMs = p.refreshPeriod * 1000;
    this.retries = p.retries;
    this.persistMode = p.persistMode;
    this.n = 0;
  }

  drain(): number {
    const n = this.n;
    this.n = 0;
    return n;
  }

  get scratch(): Packet {
    return this.#pkt;
  }
}

/** The entry controlling `c` (a template, an FTP control connection), or -1. */
function controlOf(st: EngineState, c: number): number {
  return st.conns.control[c];
}

function inPersistence(st: EngineState, c: number): boolean {
  let x = controlOf(st, c);
  for (let depth = 0; x >= 0 && depth < 8; depth++) {
    if (st.conns.flags[x] & IP_VS_CONN_F_TEMPLATE) return true;
    x = controlOf(st, x);
  }
  return false;
}

/** ip_vs_sync_conn_needed for entry `c` with `pkts` in packets at `now` ms. */
function needed(st: EngineState, c: number, pkts: number, now: number): boolean {
  const s = st.sync;
  const conns = st.conns;
  const orig = s.end[c];
  const timeout = conns.timeout[c];
  let n = ((now + timeout) & ~3) >>> 0;
  const flags = conns.flags[c];
  const template = (flags & IP_VS_CONN_F_TEMPLATE) !== 0;
  const state = conns.state[c];
  if (!template) {
    if (s.persistMode !== 0 && inPersistence(st, c)) return false;
    if (conns.proto[c] === IPPROTO_TCP) {
      if (((1 << state) & TCP_SYNC_STATES) === 0) return false;
      // A change to a closing state goes out at once ("force"); ESTABLISHED waits its turn.
      if (state !== s.oldState[c] && state !== TCP_S_ESTABLISHED) {
        s.oldState[c] = state;
        s.end[c] = n;
        return true;
      }
    }
  }
  if (s.refreshMs > 0) {
    const diff = (n - orig) | 0;
    const minDiff = Math.max(timeout >>> 1, 10000);
    if (Math.abs(diff) < Math.min(s.refreshMs, minDiff)) {
      const retries = orig & 3;
      if (retries >= s.retries) return false;
      if (((now - ((orig - timeout + (s.refreshMs >>> 3)) >>> 0)) | 0) < 0) return false;
      n = (n | (retries + 1)) >>> 0;
    }
  }
  if (s.period > 0) {
    if (!template && pkts % s.period !== s.threshold) return false;
  } else if (s.refreshMs === 0 && pkts !== s.threshold) {
    return false;
  }
  s.oldState[c] = state;
  s.end[c] = n;
  return true;
}

/**
 * Copies entry `c` into the next ring record, with its sequence data when it has SEQ flags
 * (entries whose dest is of another family are not sent).
 */
function record(st: EngineState, c: number): void {
  const s = st.sync;
  if (s.n >= s.cap) return;
  const conns = st.conns;
  const af = conns.af[c];
  const d = conns.dest[c];
  if (d >= 0 && st.dests.af[d] !== af) return;
  const r = s.ring + s.n * SYNC_REC_SIZE;
  s.n++;
  const dv = st.dv;
  st.u8.fill(0, r, r + SYNC_REC_SIZE);
  dv.setUint8(r + SR_AF, af);
  dv.setUint8(r + SR_PROTO, conns.proto[c]);
  dv.setUint16(r + SR_STATE, conns.state[c], true);
  dv.setUint32(r + SR_FLAGS, conns.flags[c], true);
  dv.setUint16(r + SR_CPORT, conns.cport[c], true);
  dv.setUint16(r + SR_VPORT, conns.vport[c], true);
  dv.setUint16(r + SR_DPORT, conns.dport[c], true);
  const svc = conns.svc[c];
  dv.setUint32(r + SR_FWMARK, svc >= 0 && svc < st.svcs.max ? st.svcs.fwmark[svc] : 0, true);
  dv.setUint32(r + SR_TIMEOUT, Math.floor(conns.timeout[c] / 1000), true);
  if (conns.flags[c] & IP_VS_CONN_F_SEQ_MASK) {
    dv.setUint8(r + SR_OPTS, SR_OPT_SEQ);
    appSeqRead(st, c, SEQ);
    for (let k = 0; k < 6; k++) dv.setUint32(r + SR_IN_SEQ + 4 * k, SEQ[k], true);
  }
  if (af === AF_INET) {
    dv.setUint32(r + SR_CADDR, conns.caddr[c], true);
    dv.setUint32(r + SR_VADDR, conns.vaddr[c], true);
    dv.setUint32(r + SR_DADDR, conns.daddr[c], true);
  } else {
    const a6 = conns.addr6;
    const b = conns.block[c] * CONN6_WORDS;
    for (let k = 0; k < 4; k++) {
      dv.setUint32(r + SR_CADDR + 4 * k, a6[b + k], true);
      dv.setUint32(r + SR_VADDR + 4 * k, a6[b + 4 + k], true);
      dv.setUint32(r + SR_DADDR + 4 * k, a6[b + 8 + k], true);
    }
  }
}

/**
 * ip_vs_sync_conn / ip_vs_sync_conn_v0 for an in-direction packet on entry `c` (its in_pkts
 * already counted): the entry, then its controllers.
 */
export function syncPacket(st: EngineState, c: number, now: number): void {
  const s = st.sync;
  const conns = st.conns;
  let pkts = conns.inPkts[c];
  // The first in packet of an entry is the one that created it (ip_vs_conn_new).
  if (pkts === 1) {
    s.end[c] = (now & ~3) >>> 0;
    s.oldState[c] = 0;
  }
  for (let depth = 0; depth < SYNC_RING_PER_FRAME; depth++) {
    const flags = conns.flags[c];
    if (s.version === 0) {
      // v0: IPv4 only, and a controller only after its entry was sent.
      if (conns.af[c] !== AF_INET || (flags & IP_VS_CONN_F_ONE_PACKET) !== 0) return;
      if (!needed(st, c, pkts, now)) return;
      record(st, c);
    } else if ((flags & IP_VS_CONN_F_ONE_PACKET) === 0 && needed(st, c, pkts, now)) {
      record(st, c);
    }
    c = controlOf(st, c);
    if (c < 0) return;
    if (conns.flags[c] & IP_VS_CONN_F_TEMPLATE) {
      if (conns.inPkts[c] !== 0xffffffff) conns.inPkts[c]++;
      pkts = conns.inPkts[c];
      if (pkts === 1) {
        s.end[c] = (now & ~3) >>> 0;
        s.oldState[c] = 0;
      }
    } else {
      pkts = s.threshold;
    }
  }
}

// ---- Backup ------------------------------------------------------------------------------

/** findDest's port for "any port". */
const ANY_PORT = -1;

function words(a: Uint8Array, out: Uint32Array): void {
  const dv = new DataView(a.buffer, a.byteOffset, a.byteLength);
  out.fill(0);
  for (let k = 0; k < a.length >>> 2; k++) out[k] = dv.getUint32(4 * k, true);
}

/** The listed dest of `svc` with address words `w` and wire-order port `portW` (or ANY_PORT), or -1. */
function findDest(st: EngineState, svc: number, af: number, w: Uint32Array, portW: number): number {
  const dests = st.dests;
  const h = dests.head(svc);
  for (let d = dests.next[h]; d !== h; d = dests.next[d]) {
    const o = d * 4;
    if (
      dests.af[d] === af && (portW === ANY_PORT || dests.portW[d] === portW) &&
      dests.addr[o] === w[0] && dests.addr[o + 1] === w[1] && dests.addr[o + 2] === w[2] &&
      dests.addr[o + 3] === w[3]
    ) return d;
  }
  return -1;
}

/**
 * ip_vs_find_dest, first half: the service (ip_vs_service_find with its fallbacks), or -1;
 * a TCP template of vport 0 also names the port-21 service (WVS; assembly/sync.ts syncSvc).
 */
function syncSvc(st: EngineState, p: Packet, fwmark: number, template: boolean): number {
  const s = packetService(st, p, fwmark);
  if (s >= 0 || !template || p.dport !== 0 || p.proto !== IPPROTO_TCP) return s;
  return st.svcs.findExact(p.af, p.proto, p.d0, p.d1, p.d2, p.d3, FTP_WIRE);
}

/**
 * ip_vs_find_dest, second half: (daddr, port), then (daddr, port ^ dport), port 0 for a
 * fwmark service without NAT; a template of dport 0 takes the first dest at daddr (WVS;
 * assembly/sync.ts syncDest).
 */
function syncDest(
  st: EngineState,
  svc: number,
  c: SyncConnSpec,
  flags: number,
  template: boolean,
): number {
  const dportW = swap16(c.dport & 0xffff);
  const port = c.fwmark && (flags & IP_VS_CONN_F_FWD_MASK) !== IP_VS_CONN_F_MASQ ? 0 : dportW;
  let d = findDest(st, svc, c.af, W_DADDR, port);
  if (d < 0 && (port ^ dportW) !== port) d = findDest(st, svc, c.af, W_DADDR, port ^ dportW);
  if (d < 0 && template && dportW === 0) d = findDest(st, svc, c.af, W_DADDR, ANY_PORT);
  return d;
}

/**
 * Sets state, in_pkts and timer, and the flags: INACTIVE of a connection from its state's
 * class (moving the dest count); a template's stays set.
 */
function setState(
  st: EngineState,
  c: number,
  state: number,
  flags: number,
  timeoutS: number,
  now: number,
): void {
  const conns = st.conns;
  const template = (flags & IP_VS_CONN_F_TEMPLATE) !== 0;
  const tcp = conns.proto[c] === IPPROTO_TCP;
  const active = !template && tcp && TCP_ACTIVE[state] !== 0;
  const wasActive = (conns.flags[c] & IP_VS_CONN_F_INACTIVE) === 0;
  const d = conns.dest[c];
  // setActive keeps the scheduler indexes current.
  if (!template && active !== wasActive) st.dests.setActive(d, active);
  conns.flags[c] = (flags & ~IP_VS_CONN_F_INACTIVE) | (active ? 0 : IP_VS_CONN_F_INACTIVE);
  conns.state[c] = state;
  conns.inPkts[c] = st.sync.threshold;
  const t = timeoutS > 0
    ? timeoutS
    : template
    ? SYNC_TEMPLATE_TIMEOUT
    : st.timeoutSec[tcp ? T_TCP_BASE + state : T_UDP];
  const ms = Math.min(t, MAX_TIMEOUT) * 1000;
  conns.timeout[c] = ms;
  conns.expires[c] = (now + ms) >>> 0;
  st.sync.oldState[c] = state;
}

const W_ADDR = new Uint32Array(4);
const W_DADDR = new Uint32Array(4);

/** A template entry: updated (SEQ bits, state, timer; never its dest) or made (assembly/sync.ts syncTemplate). */
function syncTemplate(
  st: EngineState,
  p: Packet,
  c: SyncConnSpec,
  flags: number,
  now: number,
): number {
  const conns = st.conns;
  const tc = st.templates;
  // The template key: client network and vaddr words as the message carries them.
  const k = tc.key;
  words(c.caddr, W_ADDR);
  k.set(W_ADDR, 0);
  words(c.vaddr, W_ADDR);
  k.set(W_ADDR, 4);
  let e = tc.find(p.af, p.proto, p.dport);
  if (e >= 0 && conns.isExpired(e, now) && conns.nControl[e] === 0) {
    conns.free(e);
    e = -1;
  }
  if (e >= 0) {
    const keep = conns.flags[e] & ~IP_VS_CONN_F_SEQ_MASK;
    setState(st, e, c.state, keep | (flags & IP_VS_CONN_F_SEQ_MASK), c.timeout >>> 0, now);
    return e;
  }
  const svc = syncSvc(st, p, c.fwmark >>> 0, true);
  if (svc < 0) return -ENOENT;
  const d = syncDest(st, svc, c, flags, true);
  if (d < 0) return -ENOENT;
  const extra = flags & ~(IP_VS_CONN_F_FWD_MASK | IP_VS_CONN_F_NOOUTPUT | IP_VS_CONN_F_TEMPLATE);
  const dportW = swap16(c.dport & 0xffff);
  e = tplAdd(st, svc, d, p.af, p.proto, p.dport, dportW, c.state, extra, 0, now);
  if (e < 0) return -ENOMEM;
  setState(st, e, c.state, conns.flags[e], c.timeout >>> 0, now);
  st.sync.end[e] = (now & ~3) >>> 0;
  return e;
}

/** A connection entry: updated, or made bound to the backup's dest (assembly/sync.ts syncEntry). */
function syncEntry(
  st: EngineState,
  p: Packet,
  c: SyncConnSpec,
  msgFlags: number,
  flags: number,
  now: number,
): number {
  const af = c.af;
  const state = c.state;
  const timeoutS = c.timeout >>> 0;
  const dportW = swap16(c.dport & 0xffff);
  const conns = st.conns;
  let e = conns.inGet(p);
  if (e >= 0 && conns.isExpired(e, now)) {
    conns.free(e);
    e = -1;
  }
  if (e >= 0) {
    const same = conns.dport[e] === dportW &&
      (af === AF_INET
        ? conns.daddr[e] === W_DADDR[0]
        : conns.addr6.subarray(conns.block[e] * CONN6_WORDS + 8, conns.block[e] * CONN6_WORDS + 12)
          .every((x, k) => x === W_DADDR[k]));
    if (!same) {
      // An inactive message about another real server describes the entry this one replaced.
      if (msgFlags & IP_VS_CONN_F_INACTIVE) return -EEXIST;
      conns.free(e);
      e = -1;
    }
  }
  if (e >= 0) {
    const keep = conns.flags[e] & ~IP_VS_CONN_F_BACKUP_UPD_MASK;
    setState(st, e, state, keep | (flags & IP_VS_CONN_F_BACKUP_UPD_MASK), timeoutS, now);
    syncControl(st, p, e, now);
    return e;
  }
  const svc = syncSvc(st, p, c.fwmark >>> 0, false);
  if (svc < 0) return -ENOENT;
  const d = syncDest(st, svc, c, flags, false);
  if (d < 0) return -ENOENT;
  if (!conns.hasRoom(af)) return -ENOMEM;
  const dests = st.dests;
  const fwd = dests.fwd[d];
  let f = (flags & ~(IP_VS_CONN_F_FWD_MASK | IP_VS_CONN_F_NOOUTPUT)) | fwd | IP_VS_CONN_F_INACTIVE;
  if (fwd !== IP_VS_CONN_F_MASQ) f |= IP_VS_CONN_F_NOOUTPUT;
  // The data path's rule for the entry's dport: the dest's port, or the client's one for port 0.
  e = conns.create(p, d, dests.port[d] === 0 ? p.dport : dests.portW[d], f, svc);
  dests.bind(d);
  st.counters[C_CONN_NEW]++;
  // A helper record left by an earlier entry in this slot is not this one's.
  const old = appFind(st, e);
  if (old >= 0) appDrop(st, old);
  setState(st, e, state, f, timeoutS, now);
  st.sync.end[e] = (now & ~3) >>> 0;
  syncControl(st, p, e, now);
  return e;
}

/** Links a persistent service's connection to its template (WVS; assembly/sync.ts syncControl). */
function syncControl(st: EngineState, p: Packet, e: number, now: number): void {
  const conns = st.conns;
  if (conns.control[e] >= 0) return;
  const svc = conns.svc[e];
  if ((st.svcs.flags[svc] & IP_VS_SVC_F_PERSISTENT) === 0) return;
  const t = persistLookup(st, p, svc, now);
  if (t >= 0 && conns.dest[t] === conns.dest[e]) tplControl(st, e, t);
}

/**
 * ip_vs_proc_conn: a template or connection entry is updated or created bound to the
 * matching dest of the matching service, and takes the sequence data if any. Returns the
 * entry index or -EINVAL / -ENOENT / -EEXIST / -ENOMEM, as assembly/sync.ts documents.
 */
export function syncConn(st: EngineState, c: SyncConnSpec, nowUs: number): number {
  const now = Math.floor(nowUs / 1000) >>> 0;
  const af = c.af;
  const alen = af === AF_INET ? 4 : 16;
  if (
    (af !== AF_INET && af !== AF_INET6) || !(c.caddr instanceof Uint8Array) ||
    c.caddr.length !== alen || c.vaddr?.length !== alen || c.daddr?.length !== alen
  ) return -EINVAL;
  const proto = c.protocol;
  const state = c.state;
  const msgFlags = c.flags >>> 0;
  const flags = (msgFlags & IP_VS_CONN_F_BACKUP_MASK) | IP_VS_CONN_F_SYNC;
  const template = (flags & IP_VS_CONN_F_TEMPLATE) !== 0;
  if (template) {
    // IPVS only logs a template state past ASSURED; WVS refuses it, and a template with a
    // client port (a persistence engine's), which no packet lookup would match.
    if (!(state >= 0 && state <= IP_VS_CTPL_S_ASSURED) || (c.cport & 0xffff) !== 0) return -EINVAL;
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP && proto !== IPPROTO_IP) return -EINVAL;
  } else if (
    proto === IPPROTO_TCP
      ? !(state >= 0 && state < TCP_S_COUNT)
      : proto !== IPPROTO_UDP || state !== 0
  ) {
    return -EINVAL;
  }
  const p = st.sync.scratch;
  p.af = af;
  p.proto = proto;
  p.sport = swap16(c.cport & 0xffff);
  p.dport = swap16(c.vport & 0xffff);
  const w = W_ADDR;
  words(c.caddr, w);
  [p.s0, p.s1, p.s2, p.s3] = w;
  words(c.vaddr, w);
  [p.d0, p.d1, p.d2, p.d3] = w;
  words(c.daddr, W_DADDR);
  const e = template
    ? syncTemplate(st, p, c, flags, now)
    : syncEntry(st, p, c, msgFlags, flags, now);
  if (e >= 0 && (c.inSeq || c.outSeq)) {
    const i = c.inSeq, o = c.outSeq;
    SEQ[0] = i?.initSeq ?? 0;
    SEQ[1] = i?.delta ?? 0;
    SEQ[2] = i?.previousDelta ?? 0;
    SEQ[3] = o?.initSeq ?? 0;
    SEQ[4] = o?.delta ?? 0;
    SEQ[5] = o?.previousDelta ?? 0;
    appSeqWrite(st, e, SEQ);
  }
  return e;
}
