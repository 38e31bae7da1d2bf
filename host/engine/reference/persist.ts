// Persistence templates and controlled connections (ip_vs_core.c ip_vs_sched_persist,
// ip_vs_conn.c ip_vs_check_template / ip_vs_control_add / ip_vs_expire_nodest_conn_flush;
// spec ipvs-data-plane.md §2.4, §2.5). Mirrors assembly/persist.ts. A template is a
// ConnTable entry with IP_VS_CONN_F_TEMPLATE keyed (af, proto, client network, cport 0,
// vaddr, vport), linked in its own chains here so packet lookups never meet one. Each
// connection made through it is controlled by it (control / nControl); a template is not
// freed while it controls anything (ConnTable.retry). Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import { FTP_WIRE, type ServiceTable } from "./service.ts";
import type { EngineState, Packet } from "./state.ts";
import { SCHEDULERS } from "./sched/registry.ts";

const {
  AF_INET,
  C_CONN_NEW,
  C_CONNS,
  C_CONNS6,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NOOUTPUT,
  IP_VS_CONN_F_TEMPLATE,
  IP_VS_CTPL_S_ASSURED,
  IP_VS_CTPL_S_NONE,
  IP_VS_DEST_F_AVAILABLE,
  IPPROTO_IP,
  IPPROTO_TCP,
  NO_DEST,
  R_CONN_FULL,
  R_NO_DEST,
  SYS_EXPIRE_QUIESCENT_TEMPLATE,
  TCP_S_ESTABLISHED,
} = abi;

/** An invalidated template's vport and dport (0xffff): never matched again. */
const INVALID_PORT = 0xffff;
const MAX_TIMEOUT = 2147483;

function hashKey(af: number, proto: number, k: Uint32Array, vport: number): number {
  let h = Math.imul(af | (proto << 8) | (vport << 16), 0x9e3779b1);
  for (let i = 0; i < 8; i++) h = Math.imul(h ^ k[i] ^ (h >>> 15), 0x85ebca77);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Template chains, and the scratch of the template step of the packet being scheduled. */
export class TemplateChains {
  readonly #buckets: Int32Array;
  readonly #mask: number;
  readonly #next: Int32Array;
  readonly #prev: Int32Array;
  readonly #bucketOf: Int32Array;
  /** The key being looked up: client network words 0-3, vaddr words 4-7. */
  readonly key = new Uint32Array(8);
  readonly #k = new Uint32Array(8);
  /** The template of the new connection (-1: none), and why a persistent pick failed. */
  tpl = -1;
  err = 0;
  readonly #st: EngineState;

  constructor(st: EngineState, max: number) {
    let nb = 16;
    while (nb < max / 4) nb *= 2;
    this.#buckets = new Int32Array(nb).fill(-1);
    this.#mask = nb - 1;
    this.#next = new Int32Array(max).fill(-1);
    this.#prev = new Int32Array(max).fill(-1);
    this.#bucketOf = new Int32Array(max);
    this.#st = st;
  }

  /** Entry `c`'s key words into `k` (the client network and vaddr as stored). */
  #keyOf(c: number, k: Uint32Array): void {
    const conns = this.#st.conns;
    if (conns.af[c] === AF_INET) {
      k.fill(0);
      k[0] = conns.caddr[c];
      k[4] = conns.vaddr[c];
      return;
    }
    const b = conns.block[c] * 12;
    for (let i = 0; i < 8; i++) k[i] = conns.addr6[b + i];
  }

  link(c: number): void {
    const conns = this.#st.conns;
    this.#keyOf(c, this.#k);
    const bi = hashKey(conns.af[c], conns.proto[c], this.#k, conns.vport[c]) & this.#mask;
    const first = this.#buckets[bi];
    this.#bucketOf[c] = bi;
    this.#next[c] = first;
    this.#prev[c] = -1;
    if (first >= 0) this.#prev[first] = c;
    this.#buckets[bi] = c;
  }

  /** Unlinks template `c` (ConnTable.free calls this for TEMPLATE entries). */
  unlink(c: number): void {
    const n = this.#next[c];
    const pv = this.#prev[c];
    if (pv >= 0) this.#next[pv] = n;
    else this.#buckets[this.#bucketOf[c]] = n;
    if (n >= 0) this.#prev[n] = pv;
  }

  /** The newest template with the key in `key`, or -1. */
  find(af: number, proto: number, vport: number): number {
    const conns = this.#st.conns;
    const k = this.key;
    for (
      let c = this.#buckets[hashKey(af, proto, k, vport) & this.#mask];
      c >= 0;
      c = this.#next[c]
    ) {
      if (conns.vport[c] !== vport || conns.proto[c] !== proto || conns.af[c] !== af) continue;
      this.#keyOf(c, this.#k);
      let same = true;
      for (let i = 0; i < 8; i++) same &&= this.#k[i] === k[i];
      if (same) return c;
    }
    return -1;
  }
}

/** ip_vs_conn_put on a template: its timer restarts with its timeout. */
export function tplTouch(st: EngineState, c: number, nowMs: number): void {
  st.conns.expires[c] = (nowMs + st.conns.timeout[c]) >>> 0;
}

/** ip_vs_check_template: the dest is AVAILABLE and not quiesced under the sysctl. */
function usable(st: EngineState, c: number): boolean {
  const d = st.conns.dest[c];
  if ((st.dests.flags[d] & IP_VS_DEST_F_AVAILABLE) === 0) return false;
  return !(st.sysctl[SYS_EXPIRE_QUIESCENT_TEMPLATE] !== 0 && st.dests.weight[d] === 0);
}

/** Re-keys an unusable template with vport = dport = 0xffff, cport 0: it only expires. */
function invalidate(st: EngineState, c: number): void {
  const conns = st.conns;
  if (conns.vport[c] === INVALID_PORT) return;
  st.templates.unlink(c);
  conns.vport[c] = INVALID_PORT;
  conns.dport[c] = INVALID_PORT;
  conns.cport[c] = 0;
  st.templates.link(c);
}

/**
 * A template for dest `d` keyed (af, proto, st.templates.key, vport), bound and linked
 * (ip_vs_conn_new with TEMPLATE): the scheduler's and the sync backup's. `flags` are added
 * to TEMPLATE and the dest's. -1 when the table is full.
 */
export function tplAdd(
  st: EngineState,
  svc: number,
  d: number,
  af: number,
  proto: number,
  vport: number,
  dportW: number,
  state: number,
  flags: number,
  timeoutMs: number,
  nowMs: number,
): number {
  const conns = st.conns;
  const dests = st.dests;
  if (!conns.hasRoom(af)) return -1;
  const c = conns.take(af);
  const k = st.templates.key;
  const da = dests.addr;
  const dw = d * 4;
  if (af === AF_INET) {
    conns.caddr[c] = k[0];
    conns.vaddr[c] = k[4];
    conns.daddr[c] = da[dw];
  } else {
    const b = conns.block[c] * 12;
    for (let i = 0; i < 8; i++) conns.addr6[b + i] = k[i];
    for (let i = 0; i < 4; i++) conns.addr6[b + 8 + i] = da[dw + i];
    conns.caddr[c] = k[3];
    conns.vaddr[c] = k[7];
    conns.daddr[c] = da[dw + 3];
    st.counters[C_CONNS6]++;
  }
  conns.af[c] = af;
  conns.proto[c] = proto;
  conns.state[c] = state;
  const fwd = dests.fwd[d];
  conns.flags[c] = IP_VS_CONN_F_TEMPLATE | fwd | IP_VS_CONN_F_INACTIVE | flags |
    (fwd === IP_VS_CONN_F_MASQ ? 0 : IP_VS_CONN_F_NOOUTPUT);
  conns.cport[c] = 0;
  conns.vport[c] = vport;
  conns.dport[c] = dportW;
  conns.dest[c] = d;
  conns.svc[c] = svc;
  conns.timeout[c] = timeoutMs;
  conns.expires[c] = (nowMs + timeoutMs) >>> 0;
  conns.inPkts[c] = 0;
  conns.nControl[c] = 0;
  conns.control[c] = -1;
  dests.bindTemplate(d);
  st.counters[C_CONN_NEW]++;
  st.counters[C_CONNS]++;
  st.templates.link(c);
  return c;
}

/** Writes the template key's client network (caddr & netmask, or the IPv6 prefix). */
function clientNet(svcs: ServiceTable, svc: number, p: Packet, k: Uint32Array): void {
  const mask = svcs.netmask[svc];
  k.fill(0, 0, 4);
  if (p.af === AF_INET) {
    // The netmask is host order; the address word holds wire bytes little-endian.
    const m = (mask << 24) | ((mask & 0xff00) << 8) | ((mask >>> 8) & 0xff00) | (mask >>> 24);
    k[0] = (p.s0 & m) >>> 0;
    return;
  }
  const plen = Math.min(mask, 128);
  for (let i = 0; i < 4; i++) {
    const w = i === 0 ? p.s0 : i === 1 ? p.s1 : i === 2 ? p.s2 : p.s3;
    const bits = Math.max(0, Math.min(plen - 32 * i, 32));
    // Mask the first `bits` wire bytes' bits: the word is little-endian, so byte j is
    // bits 8j..8j+7 and the address bits run from each byte's top bit down.
    let m = 0;
    for (let j = 0; j < 4; j++) {
      const b = Math.max(0, Math.min(bits - 8 * j, 8));
      m |= ((0xff00 >> b) & 0xff) << (8 * j);
    }
    k[i] = (w & m) >>> 0;
  }
}

/**
 * Writes the template key of packet `p` for service `svc` into st.templates.key (client
 * network, vaddr) and returns (protocol << 16) | vport (wire order).
 */
function keyOf(st: EngineState, p: Packet, svc: number): number {
  const svcs = st.svcs;
  const k = st.templates.key;
  clientNet(svcs, svc, p, k);
  // The template key (spec §2.4): the service port for ordinary services; vport 0 for
  // FTP (21) and for packets reaching a port-zero or fwmark service; fwmark services use
  // protocol IPPROTO_IP and the mark, in network order, as the address.
  const svcPort = svcs.portW[svc];
  const fwmark = svcs.fwmark[svc];
  const atPort = p.dport === svcPort;
  let proto = p.proto;
  let vport = 0;
  if (atPort || fwmark === 0) {
    k[4] = p.d0;
    k[5] = p.d1;
    k[6] = p.d2;
    k[7] = p.d3;
    if (atPort && svcPort !== FTP_WIRE) vport = svcPort;
  } else {
    proto = IPPROTO_IP;
    k[4] = ((fwmark << 24) | ((fwmark & 0xff00) << 8) | ((fwmark >>> 8) & 0xff00) |
      (fwmark >>> 24)) >>> 0;
    k[5] = k[6] = k[7] = 0;
  }
  return (proto << 16) | vport;
}

/**
 * The live template a new connection of packet `p` to persistent service `svc` would go
 * through, without scheduling or touching it (the sync backup links its connections to
 * it); -1 if none or expired.
 */
export function persistLookup(st: EngineState, p: Packet, svc: number, nowMs: number): number {
  const pv = keyOf(st, p, svc);
  const t = st.templates.find(p.af, pv >>> 16, pv & 0xffff);
  return t >= 0 && !st.conns.isExpired(t, nowMs) ? t : -1;
}

/**
 * Steps 9-10 for a persistent service: the dest of a usable template for the client's
 * network, or a freshly scheduled one with a new template. Sets st.templates.tpl; on
 * failure returns NO_DEST with st.templates.err (R_NO_DEST, R_CONN_FULL).
 */
export function persistSchedule(st: EngineState, p: Packet, svc: number, nowMs: number): number {
  const tc = st.templates;
  const svcs = st.svcs;
  const conns = st.conns;
  tc.tpl = -1;
  const pv = keyOf(st, p, svc);
  const proto = pv >>> 16;
  const vport = pv & 0xffff;
  const svcPort = svcs.portW[svc];
  const atPort = p.dport === svcPort;
  let t = tc.find(p.af, proto, vport);
  if (t >= 0 && conns.isExpired(t, nowMs)) {
    if (conns.nControl[t] === 0) {
      conns.free(t);
      t = -1;
    } else {
      conns.retry(t, nowMs);
    }
  }
  if (t >= 0 && !usable(st, t)) {
    invalidate(st, t);
    t = -1;
  }
  let d: number;
  if (t < 0) {
    d = SCHEDULERS[svcs.sched[svc]].schedule(svcs, st.dests, svc, st.sched);
    if (d === NO_DEST) {
      tc.err = R_NO_DEST;
      return NO_DEST;
    }
    const dportW = atPort && svcPort !== FTP_WIRE ? st.dests.portW[d] : 0;
    const timeout = Math.min(svcs.timeout[svc], MAX_TIMEOUT) * 1000;
    t = tplAdd(st, svc, d, p.af, proto, vport, dportW, IP_VS_CTPL_S_NONE, 0, timeout, nowMs);
    if (t < 0) {
      tc.err = R_CONN_FULL;
      return NO_DEST;
    }
  } else {
    d = conns.dest[t];
  }
  tc.tpl = t;
  return d;
}

/** ip_vs_control_add + ip_vs_conn_put(template): entry `c` is controlled by the template. */
export function persistAttach(st: EngineState, c: number, nowMs: number): void {
  const t = st.templates.tpl;
  tplControl(st, c, t);
  tplTouch(st, t, nowMs);
}

/** ip_vs_control_add: entry `c` is controlled by template `t` (it keeps `t` alive). */
export function tplControl(st: EngineState, c: number, t: number): void {
  st.conns.control[c] = t;
  st.conns.nControl[t]++;
}

/**
 * ip_vs_control_assure_ct: a controlled TCP entry that is ESTABLISHED, or a controlled UDP
 * entry that sees a reply, makes its template ASSURED.
 */
export function persistAssure(st: EngineState, c: number, out: boolean): void {
  const conns = st.conns;
  const t = conns.control[c];
  if (t < 0) return;
  const assure = conns.proto[c] === IPPROTO_TCP ? conns.state[c] === TCP_S_ESTABLISHED : out;
  if (assure && (conns.flags[t] & IP_VS_CONN_F_TEMPLATE) !== 0) {
    conns.state[t] = IP_VS_CTPL_S_ASSURED;
  }
}

/**
 * ip_vs_expire_nodest_conn_flush (expire_nodest_conn = 1, after a dest or service is
 * deleted): frees, in slot order, every entry that controls nothing and whose dest is not
 * AVAILABLE, then its controller if that now controls nothing.
 */
export function flushNodest(st: EngineState): void {
  const conns = st.conns;
  const dests = st.dests;
  for (let c = 0; c < conns.max; c++) {
    if (conns.af[c] === 0 || conns.nControl[c] !== 0) continue;
    if ((dests.flags[conns.dest[c]] & IP_VS_DEST_F_AVAILABLE) !== 0) continue;
    const ctl = conns.control[c];
    conns.free(c);
    if (ctl >= 0 && conns.af[ctl] !== 0 && conns.nControl[ctl] === 0) conns.free(ctl);
  }
}
