// Connection sync in the engine (ip_vs_sync.c; spec ipvs-data-plane.md §7.5, §7.6).
// Master side: syncPacket() runs after every in-direction packet on an entry while the
// master role is on, decides with IPVS's sync_threshold/period/refresh rules whether the
// entry (and then its controllers) must be sent, and copies those entries into the sync
// ring (abi.ts SR_* records, with the FTP helper's sequence data) that the host drains
// after the batch (syncDrain). Backup side: syncConn() creates or updates a connection or
// a persistence template from one record the host decoded from a sync message, links a
// persistent service's connection to its template, and keeps the sequence data. The wire
// format itself lives in the host (host/sync/wire.ts).
// Invariants: nothing here allocates; the ring never overflows (SYNC_RING_PER_FRAME
// records per frame); an entry's INACTIVE flag always mirrors its state's activity class
// (a template's is always set: templates count in persistconns).
import {
  AF_INET,
  AF_INET6,
  CN_AF,
  CN_CONTROL,
  CN_DADDR,
  CN_DEST,
  CN_DPORT,
  CN_EXPIRES,
  CN_EXT,
  CN_FLAGS,
  CN_IN_PKTS,
  CN_N_CONTROL,
  CN_PROTO,
  CN_STATE,
  CN_SVC,
  CN_TIMEOUT,
  CN_CADDR,
  CN_CPORT,
  CN_VADDR,
  CN_VPORT,
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
  NO_DEST,
  SR_AF,
  SR_CADDR,
  SR_CPORT,
  SR_DADDR,
  SR_DPORT,
  SR_FLAGS,
  SR_FWMARK,
  SR_IN_SEQ,
  SR_OPTS,
  SR_OPT_SEQ,
  SR_PROTO,
  SR_STATE,
  SR_TIMEOUT,
  SR_VADDR,
  SR_VPORT,
  STATS_WORDS,
  S_CONNS,
  SYNC_REC_SIZE,
  SYNC_RING_PER_FRAME,
  SYNC_TEMPLATE_TIMEOUT,
  TCP_S_CLOSE,
  TCP_S_CLOSE_WAIT,
  TCP_S_COUNT,
  TCP_S_ESTABLISHED,
  TCP_S_FIN_WAIT,
  TCP_S_TIME_WAIT,
  T_TCP_BASE,
  T_UDP,
} from "./abi";
import { appDrop, appFind, appSeqRead, appSeqWrite } from "./app";
import { C6_CADDR, C6_DADDR, C6_VADDR, NIL, conn6At, connAt, connCreate, connExpired, connFree, connInGet } from "./conn";
import { DS_ADDR, DS_AF, DS_FWD, DS_PORT, destAt, destNext, destSetActive } from "./dest";
import { persistLookup, tplAdd, tplControl, tplFind } from "./persist";
import { tcpStateActive } from "./proto/tcp";
import { FTP_WIRE, SV_FLAGS, SV_FWMARK, svcAt, svcFind, svcLookup } from "./service";
import { Eng, Mem, Pkt, Sync } from "./state";
import { copy16, equal16 } from "./wire/bytes";

/** Per-entry sync state: u32 expected end of the last sync (ms; low 2 bits: retries), u8 old state. */
export const SYNC_CONN_SIZE: u32 = 8;
const SC_END: u32 = 0;
const SC_OLD_STATE: u32 = 4;
/** TCP states whose entries are ever sent (ip_vs_sync_conn_needed). */
const TCP_SYNC_STATES: u32 = (1 << TCP_S_ESTABLISHED) | (1 << TCP_S_FIN_WAIT) |
  (1 << TCP_S_CLOSE) | (1 << TCP_S_CLOSE_WAIT) | (1 << TCP_S_TIME_WAIT);
/** Largest timeout, s, whose value in ms fits the wrap-safe i32 expiry compare (ctl.ts). */
const MAX_TIMEOUT: u32 = 2147483;

@inline function stateAt(slot: u32): usize {
  return Sync.conns + <usize>slot * SYNC_CONN_SIZE;
}

/** Bytes of the ring and of the per-entry state, for layout.ts. */
export function syncRingBytes(batch: u32): u64 {
  return <u64>batch * SYNC_RING_PER_FRAME * SYNC_REC_SIZE;
}

export function syncConnBytes(maxConns: u32): u64 {
  return <u64>maxConns * SYNC_CONN_SIZE;
}

/** Called by init once the regions are carved: everything off, IPVS defaults. */
export function syncReset(ring: usize, cap: u32, conns: usize): void {
  Sync.ring = ring;
  Sync.cap = cap;
  Sync.n = 0;
  Sync.conns = conns;
  Sync.master = false;
  Sync.version = 1;
  Sync.threshold = 3;
  Sync.period = 50;
  Sync.refreshMs = 0;
  Sync.retries = 0;
  Sync.persistMode = 0;
}

/**
 * Sets the master-side parameters (sysctls sync_version, sync_threshold, sync_refresh_period,
 * sync_retries, sync_persist_mode) and the master role. The host validates the ranges.
 */
export function syncSetup(
  master: u32,
  version: u32,
  threshold: u32,
  period: u32,
  refreshMs: u32,
  retries: u32,
  persistMode: u32,
): void {
  if (!Mem.ready) return;
  // Entries seen before the role starts get a fresh sync history (old state NONE).
  if (master != 0 && !Sync.master) memory.fill(Sync.conns, 0, <usize>Mem.maxConns * SYNC_CONN_SIZE);
  Sync.master = master != 0;
  Sync.version = version;
  Sync.threshold = threshold;
  Sync.period = period;
  Sync.refreshMs = refreshMs;
  Sync.retries = retries;
  Sync.persistMode = persistMode;
  Sync.n = 0;
}

/** Returns the number of records in the ring and empties it (they stay readable until the next batch). */
export function syncDrain(): u32 {
  const n = Sync.n;
  Sync.n = 0;
  return n;
}

// ---- Master ------------------------------------------------------------------------------

/** True when a controller chain above `e` holds a template (in_persistence). */
function inPersistence(e: usize): bool {
  let c = load<u32>(e, CN_CONTROL);
  for (let depth = 0; c != NIL && depth < 8; depth++) {
    const x = connAt(c);
    if ((load<u32>(x, CN_FLAGS) & IP_VS_CONN_F_TEMPLATE) != 0) return true;
    c = load<u32>(x, CN_CONTROL);
  }
  return false;
}

/** ip_vs_sync_conn_needed: whether entry `slot` must be sent now, `pkts` its packet count. */
function needed(slot: u32, e: usize, pkts: u32): bool {
  const st = stateAt(slot);
  const orig = load<u32>(st, SC_END);
  const now = Eng.nowMs;
  const timeout = load<u32>(e, CN_TIMEOUT);
  let n = (now + timeout) & ~3;
  const flags = load<u32>(e, CN_FLAGS);
  const template = (flags & IP_VS_CONN_F_TEMPLATE) != 0;
  const state: u32 = load<u8>(e, CN_STATE);
  if (!template) {
    if (Sync.persistMode != 0 && inPersistence(e)) return false;
    if (load<u8>(e, CN_PROTO) == IPPROTO_TCP) {
      if (state >= 32 || ((1 << state) & TCP_SYNC_STATES) == 0) return false;
      // A change to a closing state goes out at once ("force"); ESTABLISHED waits its turn.
      if (state != <u32>load<u8>(st, SC_OLD_STATE) && state != TCP_S_ESTABLISHED) {
        store<u8>(st, <u8>state, SC_OLD_STATE);
        store<u32>(st, n, SC_END);
        return true;
      }
    }
  }
  if (Sync.refreshMs > 0) {
    const diff = <i64><i32>(n - orig);
    const minDiff = max<u32>(timeout >> 1, 10000);
    if (abs<i64>(diff) < <i64>min<u32>(Sync.refreshMs, minDiff)) {
      const retries = orig & 3;
      if (retries >= Sync.retries) return false;
      if (<i32>(now - (orig - timeout + (Sync.refreshMs >> 3))) < 0) return false;
      n |= retries + 1;
    }
  }
  if (Sync.period > 0) {
    if (!template && pkts % Sync.period != Sync.threshold) return false;
  } else if (Sync.refreshMs == 0 && pkts != Sync.threshold) {
    return false;
  }
  store<u8>(st, <u8>state, SC_OLD_STATE);
  store<u32>(st, n, SC_END);
  return true;
}

/**
 * Copies entry `slot` (at `e`) into the next ring record, with its sequence data when it
 * has SEQ flags (entries whose dest is of another family are not sent).
 */
function record(slot: u32, e: usize): void {
  if (Sync.n >= Sync.cap) return;
  const af: u32 = load<u8>(e, CN_AF);
  const dest = load<u32>(e, CN_DEST);
  if (dest != NO_DEST && <u32>load<u8>(destAt(dest), DS_AF) != af) return;
  const r = Sync.ring + <usize>Sync.n * SYNC_REC_SIZE;
  Sync.n++;
  memory.fill(r, 0, SYNC_REC_SIZE);
  store<u8>(r, <u8>af, SR_AF);
  store<u8>(r, load<u8>(e, CN_PROTO), SR_PROTO);
  store<u16>(r, <u16>load<u8>(e, CN_STATE), SR_STATE);
  store<u32>(r, load<u32>(e, CN_FLAGS), SR_FLAGS);
  store<u16>(r, load<u16>(e, CN_CPORT), SR_CPORT);
  store<u16>(r, load<u16>(e, CN_VPORT), SR_VPORT);
  store<u16>(r, load<u16>(e, CN_DPORT), SR_DPORT);
  const svc = load<u32>(e, CN_SVC);
  store<u32>(r, svc < Mem.maxSvcs ? load<u32>(svcAt(svc), SV_FWMARK) : 0, SR_FWMARK);
  store<u32>(r, load<u32>(e, CN_TIMEOUT) / 1000, SR_TIMEOUT);
  if ((load<u32>(e, CN_FLAGS) & IP_VS_CONN_F_SEQ_MASK) != 0) {
    store<u8>(r, <u8>SR_OPT_SEQ, SR_OPTS);
    appSeqRead(slot, r + SR_IN_SEQ);
  }
  if (af == AF_INET) {
    store<u32>(r, load<u32>(e, CN_CADDR), SR_CADDR);
    store<u32>(r, load<u32>(e, CN_VADDR), SR_VADDR);
    store<u32>(r, load<u32>(e, CN_DADDR), SR_DADDR);
  } else {
    const x = conn6At(load<u32>(e, CN_EXT));
    copy16(r + SR_CADDR, x + C6_CADDR);
    copy16(r + SR_VADDR, x + C6_VADDR);
    copy16(r + SR_DADDR, x + C6_DADDR);
  }
}

/**
 * ip_vs_sync_conn / ip_vs_sync_conn_v0 for an in-direction packet on entry `slot` (its
 * in_pkts already counted): the entry, then its controllers (a template with its own
 * ++in_pkts, another controller with sync_threshold).
 */
export function syncPacket(slot: u32): void {
  let c = slot;
  let e = connAt(c);
  let pkts = load<u32>(e, CN_IN_PKTS);
  // The first in packet of an entry is the one that created it: ip_vs_conn_new's
  // old_state = NONE and sync_endtime = creation time.
  if (pkts == 1) {
    store<u32>(stateAt(c), Eng.nowMs & ~3, SC_END);
    store<u8>(stateAt(c), 0, SC_OLD_STATE);
  }
  for (let depth: u32 = 0; depth < SYNC_RING_PER_FRAME; depth++) {
    const flags = load<u32>(e, CN_FLAGS);
    if (Sync.version == 0) {
      // v0: IPv4 only, and a controller only after its entry was sent.
      if (load<u8>(e, CN_AF) != AF_INET || (flags & IP_VS_CONN_F_ONE_PACKET) != 0) return;
      if (!needed(c, e, pkts)) return;
      record(c, e);
    } else if ((flags & IP_VS_CONN_F_ONE_PACKET) == 0 && needed(c, e, pkts)) {
      record(c, e);
    }
    c = load<u32>(e, CN_CONTROL);
    if (c == NIL) return;
    e = connAt(c);
    if ((load<u32>(e, CN_FLAGS) & IP_VS_CONN_F_TEMPLATE) != 0) {
      pkts = load<u32>(e, CN_IN_PKTS);
      if (pkts != 0xffffffff) store<u32>(e, ++pkts, CN_IN_PKTS);
      if (pkts == 1) {
        store<u32>(stateAt(c), Eng.nowMs & ~3, SC_END);
        store<u8>(stateAt(c), 0, SC_OLD_STATE);
      }
    } else {
      pkts = Sync.threshold;
    }
  }
}

// ---- Backup ------------------------------------------------------------------------------

/** findDest's port for "any port". */
const ANY_PORT: u32 = 0xffffffff;

/** The listed dest of `svc` with address `daddr` and wire-order port `port` (or ANY_PORT), or NO_DEST. */
function findDest(svc: u32, af: u32, daddr: usize, port: u32): u32 {
  for (let d = destNext(svc, NO_DEST); d != NO_DEST; d = destNext(svc, d)) {
    const p = destAt(d);
    if (<u32>load<u8>(p, DS_AF) != af) continue;
    if (port != ANY_PORT && <u32>load<u16>(p, DS_PORT) != port) continue;
    if (af == AF_INET ? load<u32>(p, DS_ADDR) == load<u32>(daddr) : equal16(p + DS_ADDR, daddr)) {
      return d;
    }
  }
  return NO_DEST;
}

/**
 * ip_vs_find_dest, first half: the service of a record (ip_vs_service_find: fwmark, exact,
 * FTP and port-zero fallbacks), or NIL. WVS difference, templates only: a template of
 * vport 0 names a TCP port-21 service, which IPVS's lookup misses (see syncDest).
 */
function syncSvc(r: usize, af: u32, proto: u32, template: bool): u32 {
  const vport: u32 = load<u16>(r, SR_VPORT);
  const svc = svcLookup(af, proto, r + SR_VADDR, vport, load<u32>(r, SR_FWMARK));
  if (svc != NIL || !template || vport != 0 || proto != IPPROTO_TCP) return svc;
  return svcFind(af, proto, r + SR_VADDR, FTP_WIRE);
}

/**
 * ip_vs_find_dest, second half: the dest of `svc` at (daddr, port), then (daddr, port ^
 * dport), where port is 0 for a fwmark service without NAT and dport otherwise; NO_DEST if
 * none. WVS difference, templates only: one of dport 0 (FTP, port-zero and fwmark
 * services) takes the first dest at daddr whatever its port. IPVS leaves such templates
 * unbound, so its FTP persistence does not survive a takeover; WVS's does.
 */
function syncDest(svc: u32, r: usize, af: u32, flags: u32, template: bool): u32 {
  const dport: u32 = load<u16>(r, SR_DPORT);
  const fwmark = load<u32>(r, SR_FWMARK);
  const port = fwmark != 0 && (flags & IP_VS_CONN_F_FWD_MASK) != IP_VS_CONN_F_MASQ ? 0 : dport;
  let dest = findDest(svc, af, r + SR_DADDR, port);
  if (dest == NO_DEST && (port ^ dport) != port) dest = findDest(svc, af, r + SR_DADDR, port ^ dport);
  if (dest == NO_DEST && template && dport == 0) dest = findDest(svc, af, r + SR_DADDR, ANY_PORT);
  return dest;
}

/** True when entry `e` (family `af`) has real server `daddr` (record bytes). */
function daddrIs(e: usize, af: u32, daddr: usize): bool {
  if (af == AF_INET) return load<u32>(e, CN_DADDR) == load<u32>(daddr);
  return equal16(conn6At(load<u32>(e, CN_EXT)) + C6_DADDR, daddr);
}

/**
 * Sets state, in_pkts and timer, and the flags: INACTIVE of a connection from its state's
 * class (moving the dest count); a template's stays set (templates count in persistconns).
 */
function syncSetState(slot: u32, e: usize, proto: u32, state: u32, flags: u32, timeoutS: u32): void {
  const template = (flags & IP_VS_CONN_F_TEMPLATE) != 0;
  const old = load<u32>(e, CN_FLAGS);
  const active = !template && proto == IPPROTO_TCP && tcpStateActive(state);
  const inactive: u32 = active ? 0 : IP_VS_CONN_F_INACTIVE;
  if (!template && (old & IP_VS_CONN_F_INACTIVE) != inactive) destSetActive(load<u32>(e, CN_DEST), active);
  store<u32>(e, (flags & ~IP_VS_CONN_F_INACTIVE) | inactive, CN_FLAGS);
  store<u8>(e, <u8>state, CN_STATE);
  store<u32>(e, Sync.threshold, CN_IN_PKTS);
  // No timeout (v0): the state's, or SYNC_TEMPLATE_TIMEOUT for a template.
  let t = timeoutS;
  if (t == 0 && template) t = SYNC_TEMPLATE_TIMEOUT;
  if (t == 0) {
    const slotT = proto == IPPROTO_TCP ? T_TCP_BASE + state : T_UDP;
    t = load<u32>(Mem.timeouts + (<usize>slotT << 2));
  }
  const ms = min<u32>(t, MAX_TIMEOUT) * 1000;
  store<u32>(e, ms, CN_TIMEOUT);
  store<u32>(e, Eng.nowMs + ms, CN_EXPIRES);
  store<u8>(stateAt(slot), <u8>state, SC_OLD_STATE);
}

/**
 * A template entry (ip_vs_proc_conn with ip_vs_ct_in_get): the one with the same key is
 * updated (its SEQ bits, state, timer; never its real server: IPVS keeps a synced
 * template's dest, and so its clients' server, until it expires), else one is made
 * bound to the backup's dest, as tplAdd makes the scheduler's. Key in the record and Pkt.
 */
function syncTemplate(r: usize, af: u32, proto: u32, state: u32, flags: u32, timeoutS: u32): i32 {
  const vport: u32 = load<u16>(r, SR_VPORT);
  let slot = tplFind(af, proto, r + SR_CADDR, r + SR_VADDR, vport);
  // An expired one that controls nothing is gone; one that controls entries is kept.
  if (slot != NIL && connExpired(connAt(slot)) && load<u16>(connAt(slot), CN_N_CONTROL) == 0) {
    connFree(slot);
    slot = NIL;
  }
  if (slot != NIL) {
    const e = connAt(slot);
    const keep = load<u32>(e, CN_FLAGS) & ~IP_VS_CONN_F_SEQ_MASK;
    syncSetState(slot, e, proto, state, keep | (flags & IP_VS_CONN_F_SEQ_MASK), timeoutS);
    return <i32>slot;
  }
  const svc = syncSvc(r, af, proto, true);
  if (svc == NIL) return -ENOENT;
  const dest = syncDest(svc, r, af, flags, true);
  if (dest == NO_DEST) return -ENOENT;
  const extra = flags & ~(IP_VS_CONN_F_FWD_MASK | IP_VS_CONN_F_NOOUTPUT | IP_VS_CONN_F_TEMPLATE);
  slot = tplAdd(svc, dest, af, proto, r + SR_CADDR, r + SR_VADDR, vport, load<u16>(r, SR_DPORT), state, extra, 0);
  if (slot == NIL) return -ENOMEM;
  const e = connAt(slot);
  syncSetState(slot, e, proto, state, load<u32>(e, CN_FLAGS), timeoutS);
  store<u32>(stateAt(slot), Eng.nowMs & ~3, SC_END);
  return <i32>slot;
}

/**
 * A connection entry (ip_vs_proc_conn with ip_vs_conn_in_get): updates the entry with the
 * same in key, or creates one bound to the backup's dest. Key in the record and Pkt.
 */
function syncEntry(r: usize, af: u32, proto: u32, state: u32, msgFlags: u32, flags: u32, timeoutS: u32): i32 {
  const cport: u32 = load<u16>(r, SR_CPORT);
  const vport: u32 = load<u16>(r, SR_VPORT);
  const dport: u32 = load<u16>(r, SR_DPORT);
  let slot = connInGet(af, proto, r + SR_CADDR, cport, r + SR_VADDR, vport);
  if (slot != NIL && connExpired(connAt(slot))) {
    connFree(slot);
    slot = NIL;
  }
  if (slot != NIL) {
    const e = connAt(slot);
    if (<u32>load<u16>(e, CN_DPORT) != dport || !daddrIs(e, af, r + SR_DADDR)) {
      // An inactive message about another real server describes the entry this one replaced.
      if ((msgFlags & IP_VS_CONN_F_INACTIVE) != 0) return -EEXIST;
      connFree(slot);
      slot = NIL;
    }
  }
  if (slot != NIL) {
    const e = connAt(slot);
    const keep = load<u32>(e, CN_FLAGS) & ~IP_VS_CONN_F_BACKUP_UPD_MASK;
    syncSetState(slot, e, proto, state, keep | (flags & IP_VS_CONN_F_BACKUP_UPD_MASK), timeoutS);
    syncControl(slot);
    return <i32>slot;
  }
  const svc = syncSvc(r, af, proto, false);
  if (svc == NIL) return -ENOENT;
  const dest = syncDest(svc, r, af, flags, false);
  if (dest == NO_DEST) return -ENOENT;
  // The dest's port, or the packet's for a dest without one (connCreate takes it resolved).
  const dp: u32 = load<u16>(destAt(dest), DS_PORT);
  slot = connCreate(svc, dest, dp != 0 ? dp : vport, 0);
  if (slot == NIL) return -ENOMEM;
  // connCreate counted the scheduler's conns statistic; IPVS counts it only when scheduling.
  const ss = Mem.svcStats + (<usize>svc * STATS_WORDS + S_CONNS) * 8;
  const ds = Mem.destStats + (<usize>dest * STATS_WORDS + S_CONNS) * 8;
  store<u64>(ss, load<u64>(ss) - 1);
  store<u64>(ds, load<u64>(ds) - 1);
  // A helper record left by an earlier entry in this slot is not this one's.
  const old = appFind(slot);
  if (old != 0) appDrop(old);
  const e = connAt(slot);
  // Bound entries take the forwarding method and NOOUTPUT from the backup's dest.
  const fwd: u32 = load<u8>(destAt(dest), DS_FWD);
  let f = (flags & ~(IP_VS_CONN_F_FWD_MASK | IP_VS_CONN_F_NOOUTPUT)) | fwd;
  if (fwd != IP_VS_CONN_F_MASQ) f |= IP_VS_CONN_F_NOOUTPUT;
  // connCreate bound it as inactive: syncSetState moves it if its state is active.
  syncSetState(slot, e, proto, state, f | IP_VS_CONN_F_INACTIVE, timeoutS);
  store<u32>(stateAt(slot), Eng.nowMs & ~3, SC_END);
  syncControl(slot);
  return <i32>slot;
}

/**
 * WVS addition: a connection of a persistent service is controlled by its template when
 * the backup has it with the same dest (IPVS's backup links none), so after a takeover
 * the template outlives its connections as the master's does, and sync_persist_mode and
 * ASSURED work on it. The master sends a controller after its entry (v1 on every packet,
 * v0 only with the entry), so the host applies a message's templates first (backup.ts).
 */
function syncControl(slot: u32): void {
  const e = connAt(slot);
  if (load<u32>(e, CN_CONTROL) != NIL) return;
  const svc = load<u32>(e, CN_SVC);
  if ((load<u32>(svcAt(svc), SV_FLAGS) & IP_VS_SVC_F_PERSISTENT) == 0) return;
  const t = persistLookup(svc);
  if (t != NIL && load<u32>(connAt(t), CN_DEST) == load<u32>(e, CN_DEST)) tplControl(slot, t);
}

/**
 * ip_vs_proc_conn for the record in the CTL mailbox at `now` µs: a template or a
 * connection entry is updated or created bound to the matching dest of the matching
 * service, and takes the record's sequence data (option 1) if it has any. Returns the
 * entry index; -EINVAL (family, protocol, state, a template with a client port),
 * -ENOENT (no such service or dest here: not created), -EEXIST (a stale message about an
 * entry already replaced) or -ENOMEM (table full).
 */
export function syncConn(now: f64): i32 {
  if (!Mem.ready) return -EINVAL;
  Eng.nowMs = <u32><i64>Math.floor(now / 1000);
  const r = Mem.ctl;
  const af: u32 = load<u8>(r, SR_AF);
  const proto: u32 = load<u8>(r, SR_PROTO);
  const state: u32 = load<u16>(r, SR_STATE);
  const msgFlags = load<u32>(r, SR_FLAGS);
  const flags = (msgFlags & IP_VS_CONN_F_BACKUP_MASK) | IP_VS_CONN_F_SYNC;
  if (af != AF_INET && af != AF_INET6) return -EINVAL;
  const template = (flags & IP_VS_CONN_F_TEMPLATE) != 0;
  if (template) {
    // IPVS only logs a template state past ASSURED; WVS refuses it, and a template with a
    // client port (a persistence engine's), which no packet lookup would ever match.
    if (state > IP_VS_CTPL_S_ASSURED || load<u16>(r, SR_CPORT) != 0) return -EINVAL;
    if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_IP) return -EINVAL;
  } else if (proto == IPPROTO_TCP ? state >= TCP_S_COUNT : proto != IPPROTO_UDP || state != 0) {
    return -EINVAL;
  }
  const timeoutS = load<u32>(r, SR_TIMEOUT);
  Pkt.af = af;
  Pkt.proto = proto;
  Pkt.saddr = r + SR_CADDR;
  Pkt.daddr = r + SR_VADDR;
  Pkt.sport = load<u16>(r, SR_CPORT);
  Pkt.dport = load<u16>(r, SR_VPORT);
  const slot = template
    ? syncTemplate(r, af, proto, state, flags, timeoutS)
    : syncEntry(r, af, proto, state, msgFlags, flags, timeoutS);
  if (slot >= 0 && (load<u8>(r, SR_OPTS) & SR_OPT_SEQ) != 0) appSeqWrite(<u32>slot, r + SR_IN_SEQ);
  return slot;
}
