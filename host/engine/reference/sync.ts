// Connection sync in the reference engine (ip_vs_sync.c; spec ipvs-data-plane.md §7.5, §7.6),
// the twin of assembly/sync.ts. Master side: syncPacket() runs after every in-direction
// packet while the master role is on and copies the entries IPVS would send (the entry,
// then its controllers) into the sync ring in shared memory (abi.ts SR_* records). Backup
// side: syncConn() creates or updates an entry from one decoded sync entry.
// Invariants: nothing on the packet path allocates; the ring never overflows; an entry's
// INACTIVE flag mirrors its state's activity class. Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import type { SyncConnSpec, SyncParams } from "../engine.ts";
import { CONN6_WORDS } from "./conn.ts";
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
  IPPROTO_TCP,
  IPPROTO_UDP,
  IP_VS_CONN_F_BACKUP_MASK,
  IP_VS_CONN_F_BACKUP_UPD_MASK,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NOOUTPUT,
  IP_VS_CONN_F_ONE_PACKET,
  IP_VS_CONN_F_SYNC,
  IP_VS_CONN_F_TEMPLATE,
  SR_AF,
  SR_CADDR,
  SR_CPORT,
  SR_DADDR,
  SR_DPORT,
  SR_FLAGS,
  SR_FWMARK,
  SR_PROTO,
  SR_STATE,
  SR_TIMEOUT,
  SR_VADDR,
  SR_VPORT,
  SYNC_PERIOD_DEFAULT,
  SYNC_REC_SIZE,
  SYNC_RING_PER_FRAME,
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

/** Copies entry `c` into the next ring record (entries whose dest is of another family are not sent). */
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

function words(a: Uint8Array, out: Uint32Array): void {
  const dv = new DataView(a.buffer, a.byteOffset, a.byteLength);
  out.fill(0);
  for (let k = 0; k < a.length >>> 2; k++) out[k] = dv.getUint32(4 * k, true);
}

/** The listed dest of `svc` with address words `w` and wire-order port `portW`, or -1. */
function findDest(st: EngineState, svc: number, af: number, w: Uint32Array, portW: number): number {
  const dests = st.dests;
  const h = dests.head(svc);
  for (let d = dests.next[h]; d !== h; d = dests.next[d]) {
    const o = d * 4;
    if (
      dests.af[d] === af && dests.portW[d] === portW && dests.addr[o] === w[0] &&
      dests.addr[o + 1] === w[1] && dests.addr[o + 2] === w[2] && dests.addr[o + 3] === w[3]
    ) return d;
  }
  return -1;
}

/** Sets state, INACTIVE (from the state's class, moving the dest count), in_pkts and timer. */
function setState(
  st: EngineState,
  c: number,
  state: number,
  flags: number,
  timeoutS: number,
  now: number,
): void {
  const conns = st.conns;
  const tcp = conns.proto[c] === IPPROTO_TCP;
  const active = tcp && TCP_ACTIVE[state] !== 0;
  const wasActive = (conns.flags[c] & IP_VS_CONN_F_INACTIVE) === 0;
  const d = conns.dest[c];
  // setActive keeps the scheduler indexes current.
  if (active !== wasActive) st.dests.setActive(d, active);
  conns.flags[c] = (flags & ~IP_VS_CONN_F_INACTIVE) | (active ? 0 : IP_VS_CONN_F_INACTIVE);
  conns.state[c] = state;
  conns.inPkts[c] = st.sync.threshold;
  const t = timeoutS > 0 ? timeoutS : st.timeoutSec[tcp ? T_TCP_BASE + state : T_UDP];
  const ms = Math.min(t, MAX_TIMEOUT) * 1000;
  conns.timeout[c] = ms;
  conns.expires[c] = (now + ms) >>> 0;
  st.sync.oldState[c] = state;
}

const W_ADDR = new Uint32Array(4);
const W_DADDR = new Uint32Array(4);

/**
 * ip_vs_proc_conn: updates the entry with `c`'s in key, or creates one bound to the matching
 * dest of the matching service. Returns the entry index or -EINVAL / -ENOENT / -EEXIST /
 * -ENOMEM, as assembly/sync.ts documents.
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
  if (flags & IP_VS_CONN_F_TEMPLATE) return -EINVAL;
  if (
    proto === IPPROTO_TCP
      ? !(state >= 0 && state < TCP_S_COUNT)
      : proto !== IPPROTO_UDP || state !== 0
  ) {
    return -EINVAL;
  }
  const timeoutS = c.timeout >>> 0;
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
    return e;
  }
  // New entry: service by fwmark, then by (proto, vaddr, vport); dest by (daddr, dport), for
  // fwmark services without NAT first with port 0 (ip_vs_find_dest).
  const svcs = st.svcs;
  let svc = c.fwmark ? svcs.findFwmark(af, c.fwmark >>> 0) : -1;
  if (svc < 0) svc = svcs.findExact(af, proto, p.d0, p.d1, p.d2, p.d3, p.dport);
  if (svc < 0) return -ENOENT;
  let d = -1;
  if (c.fwmark && (flags & IP_VS_CONN_F_FWD_MASK) !== IP_VS_CONN_F_MASQ) {
    d = findDest(st, svc, af, W_DADDR, 0);
  }
  if (d < 0) d = findDest(st, svc, af, W_DADDR, dportW);
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
  setState(st, e, state, f, timeoutS, now);
  st.sync.end[e] = (now & ~3) >>> 0;
  return e;
}
