// Persistence templates and controlled connections (ip_vs_core.c ip_vs_sched_persist,
// ip_vs_conn.c ip_vs_check_template / ip_vs_control_add / ip_vs_expire_nodest_conn_flush;
// spec ipvs-data-plane.md §2.4, §2.5). A template is a conn entry with
// IP_VS_CONN_F_TEMPLATE keyed (af, proto, caddr = client network, cport = 0, vaddr,
// vport); it lives in its own hash chains (Mem.tplBuckets, linked through CN_LINK_IN), so
// packet lookups never see one. Each connection made through a template is controlled
// by it (CN_CONTROL, the template's CN_N_CONTROL); a template is not freed while it
// controls anything: its expiry is retried every TEMPLATE_RETRY seconds.
import {
  AF_INET,
  C_CONNS,
  C_CONNS6,
  C_CONN_NEW,
  CN_AF,
  CN_CADDR,
  CN_CONTROL,
  CN_CPORT,
  CN_DEST,
  CN_DPORT,
  CN_EXPIRES,
  CN_EXT,
  CN_FLAGS,
  CN_LINK_IN,
  CN_N_CONTROL,
  CN_PROTO,
  CN_STATE,
  CN_TIMEOUT,
  CN_USED,
  CN_VADDR,
  CN_VPORT,
  IPPROTO_IP,
  IPPROTO_TCP,
  IP_VS_CONN_F_TEMPLATE,
  IP_VS_CTPL_S_ASSURED,
  IP_VS_CTPL_S_NONE,
  IP_VS_DEST_F_AVAILABLE,
  NO_DEST,
  R_CONN_FULL,
  R_NO_DEST,
  SYS_EXPIRE_QUIESCENT_TEMPLATE,
  TCP_S_ESTABLISHED,
  TEMPLATE_RETRY,
} from "./abi";
import { C6_CADDR, C6_VADDR, NIL, conn6At, connAlloc, connAt, connExpired, connFill, connFree } from "./conn";
import { sysctl } from "./ctl";
import {
  DS_FLAGS,
  DS_PORT,
  destAt,
  destBindTemplate,
  destWeight,
} from "./dest";
import { addrWord, hashFinish, hashMix } from "./hash";
import { schedule } from "./sched/registry";
import { FTP_WIRE, SV_FWMARK, SV_NETMASK, SV_PORT, SV_TIMEOUT, svcAt } from "./service";
import { Eng, Mem, Pkt } from "./state";
import { count } from "./stats";
import { equal16 } from "./wire/bytes";

/** An invalidated template's vport and dport: never matched again (0xffff). */
const INVALID_PORT: u32 = 0xffff;
/** Largest timeout, s, whose value in ms fits the wrap-safe i32 expiry compare. */
const MAX_TIMEOUT: u32 = 2147483;

// ---- Template hash chains ------------------------------------------------------------

@inline function isV4(e: usize): bool {
  return load<u8>(e, CN_AF) == AF_INET;
}

@inline function tplCaddr(e: usize): usize {
  return isV4(e) ? e + CN_CADDR : conn6At(load<u32>(e, CN_EXT)) + C6_CADDR;
}

@inline function tplVaddr(e: usize): usize {
  return isV4(e) ? e + CN_VADDR : conn6At(load<u32>(e, CN_EXT)) + C6_VADDR;
}

function bucketOf(af: u32, proto: u32, caddr: usize, vaddr: usize, vport: u32): usize {
  let h = hashMix(Eng.seed, af | (proto << 8) | 0x20000);
  h = hashMix(h, addrWord(af, caddr));
  h = hashMix(h, addrWord(af, vaddr));
  h = hashMix(h, vport);
  return Mem.tplBuckets + (<usize>(hashFinish(h) & Mem.tplBucketMask) << 2);
}

function bucketOfEntry(e: usize): usize {
  const af: u32 = load<u8>(e, CN_AF);
  return bucketOf(af, load<u8>(e, CN_PROTO), tplCaddr(e), tplVaddr(e), load<u16>(e, CN_VPORT));
}

function tplLink(slot: u32): void {
  const b = bucketOfEntry(connAt(slot));
  store<u32>(connAt(slot), load<u32>(b), CN_LINK_IN);
  store<u32>(b, slot);
}

/** Unlinks a template from its chain (connFree calls this for TEMPLATE entries). */
export function tplUnlink(slot: u32): void {
  let p = bucketOfEntry(connAt(slot));
  for (let t = load<u32>(p); t != NIL; t = load<u32>(p)) {
    if (t == slot) {
      store<u32>(p, load<u32>(connAt(t), CN_LINK_IN));
      return;
    }
    p = connAt(t) + CN_LINK_IN;
  }
}

/** The newest template with this key, or NIL. Addresses: 4 or 16 bytes. */
export function tplFind(af: u32, proto: u32, caddr: usize, vaddr: usize, vport: u32): u32 {
  let t = load<u32>(bucketOf(af, proto, caddr, vaddr, vport));
  while (t != NIL) {
    const e = connAt(t);
    if (
      load<u16>(e, CN_VPORT) == vport && load<u8>(e, CN_PROTO) == proto &&
      load<u8>(e, CN_AF) == af
    ) {
      if (
        af == AF_INET
          ? load<u32>(e, CN_CADDR) == load<u32>(caddr) && load<u32>(e, CN_VADDR) == load<u32>(vaddr)
          : equal16(tplCaddr(e), caddr) && equal16(tplVaddr(e), vaddr)
      ) return t;
    }
    t = load<u32>(e, CN_LINK_IN);
  }
  return NIL;
}

// ---- Timers --------------------------------------------------------------------------

/** The template's timer fired while it controls entries: keep it, retry in 60 s. */
export function tplRetry(e: usize): void {
  const timeout = TEMPLATE_RETRY * 1000;
  store<u32>(e, timeout, CN_TIMEOUT);
  store<u32>(e, Eng.nowMs + timeout, CN_EXPIRES);
}

/** ip_vs_conn_put on a template: its timer restarts with its timeout. */
export function tplTouch(slot: u32): void {
  const e = connAt(slot);
  store<u32>(e, Eng.nowMs + load<u32>(e, CN_TIMEOUT), CN_EXPIRES);
}

// ---- Scheduling ----------------------------------------------------------------------

/** ip_vs_check_template: the dest is AVAILABLE and not quiesced under the sysctl. */
function tplUsable(e: usize): bool {
  const dest = load<u32>(e, CN_DEST);
  if ((load<u32>(destAt(dest), DS_FLAGS) & IP_VS_DEST_F_AVAILABLE) == 0) return false;
  return !(sysctl(SYS_EXPIRE_QUIESCENT_TEMPLATE) != 0 && destWeight(dest) == 0);
}

/** Re-keys an unusable template with vport = dport = 0xffff, cport 0: it only expires. */
function tplInvalidate(slot: u32): void {
  const e = connAt(slot);
  if (<u32>load<u16>(e, CN_VPORT) == INVALID_PORT) return;
  tplUnlink(slot);
  store<u16>(e, <u16>INVALID_PORT, CN_VPORT);
  store<u16>(e, <u16>INVALID_PORT, CN_DPORT);
  store<u16>(e, 0, CN_CPORT);
  tplLink(slot);
}

/**
 * A template entry for `dest` keyed (af, proto, caddr, 0, vaddr, vportW), bound and
 * linked (ip_vs_conn_new with TEMPLATE): the scheduler's and the sync backup's. `flags`
 * are added to TEMPLATE and the dest's (connFill). NIL if the table is full.
 */
export function tplAdd(
  svc: u32, dest: u32, af: u32, proto: u32, caddr: usize, vaddr: usize, vportW: u32,
  dportW: u32, state: u32, flags: u32, timeoutMs: u32,
): u32 {
  const v4 = af == AF_INET;
  const slot = connAlloc(v4);
  if (slot == NIL) return NIL;
  const e = connAt(slot);
  connFill(e, af, caddr, vaddr, dest, 0, vportW, dportW, proto, state, IP_VS_CONN_F_TEMPLATE | flags, timeoutMs, svc);
  destBindTemplate(dest);
  count(C_CONN_NEW);
  count(C_CONNS);
  if (!v4) count(C_CONNS6);
  tplLink(slot);
  return slot;
}

/** A template entry for `dest` with the key in Mem.tplKey (snet, vaddr); NIL if full. */
function tplCreate(svc: u32, dest: u32, proto: u32, vport: u32, dportW: u32): u32 {
  const timeout = min<u32>(load<u32>(svcAt(svc), SV_TIMEOUT), MAX_TIMEOUT) * 1000;
  // The key at Mem.tplKey is (client network, 16 bytes; vaddr, 16 bytes).
  const key = Mem.tplKey;
  return tplAdd(svc, dest, Pkt.af, proto, key, key + 16, vport, dportW, IP_VS_CTPL_S_NONE, 0, timeout);
}

/** Writes the client network (caddr & netmask, or the IPv6 prefix) at Mem.tplKey. */
function clientNet(s: usize): void {
  const key = Mem.tplKey;
  const mask = load<u32>(s, SV_NETMASK);
  if (Pkt.af == AF_INET) {
    store<u32>(key, load<u32>(Pkt.saddr) & bswap<u32>(mask));
    return;
  }
  const plen = min<u32>(mask, 128);
  for (let i: u32 = 0; i < 16; i++) {
    const bits = plen > i * 8 ? min<u32>(plen - i * 8, 8) : 0;
    const m = <u32>(0xff00 >> bits) & 0xff; // the top `bits` bits of this byte
    store<u8>(key + i, <u8>(load<u8>(Pkt.saddr + i) & m));
  }
}

/**
 * Writes the template key of the packet in Pkt for service `svc` at Mem.tplKey (client
 * network, vaddr) and returns (protocol << 16) | vport (wire order).
 */
function tplKeyOf(svc: u32): u32 {
  const s = svcAt(svc);
  const key = Mem.tplKey;
  clientNet(s);
  // The template key (spec §2.4): the service port for ordinary services; vport 0 for
  // FTP (21) and for packets reaching a port-zero or fwmark service; fwmark services
  // use protocol IPPROTO_IP and the mark, in network order, as the address.
  const svcPort: u32 = load<u16>(s, SV_PORT);
  const fwmark = load<u32>(s, SV_FWMARK);
  const atPort = Pkt.dport == svcPort;
  let proto = Pkt.proto;
  let vport: u32 = 0;
  memory.fill(key + 16, 0, 16);
  if (atPort || fwmark == 0) {
    memory.copy(key + 16, Pkt.daddr, Pkt.af == AF_INET ? 4 : 16);
    if (atPort && svcPort != FTP_WIRE) vport = svcPort;
  } else {
    proto = IPPROTO_IP;
    store<u32>(key + 16, bswap<u32>(fwmark));
  }
  return (proto << 16) | vport;
}

/**
 * The live template a new connection of the packet in Pkt to persistent service `svc`
 * would go through, without scheduling or touching it (the sync backup links its
 * connections to it); NIL if none or expired.
 */
export function persistLookup(svc: u32): u32 {
  const pv = tplKeyOf(svc);
  const key = Mem.tplKey;
  const t = tplFind(Pkt.af, pv >> 16, key, key + 16, pv & 0xffff);
  return t != NIL && !connExpired(connAt(t)) ? t : NIL;
}

/**
 * Steps 9-10 for a persistent service: the dest of a usable template for the client's
 * network, or a freshly scheduled one with a new template. Sets Pkt.tpl; on failure
 * returns NO_DEST with Pkt.err (R_NO_DEST, R_CONN_FULL).
 */
export function persistSchedule(svc: u32): u32 {
  Pkt.tpl = NIL;
  const s = svcAt(svc);
  const af = Pkt.af;
  const key = Mem.tplKey;
  const pv = tplKeyOf(svc);
  const proto = pv >> 16;
  const vport = pv & 0xffff;
  const svcPort: u32 = load<u16>(s, SV_PORT);
  const atPort = Pkt.dport == svcPort;
  let t = tplFind(af, proto, key, key + 16, vport);
  if (t != NIL && connExpired(connAt(t))) {
    if (load<u16>(connAt(t), CN_N_CONTROL) == 0) {
      connFree(t);
      t = NIL;
    } else {
      tplRetry(connAt(t));
    }
  }
  if (t != NIL && !tplUsable(connAt(t))) {
    tplInvalidate(t);
    t = NIL;
  }
  let dest: u32;
  if (t == NIL) {
    dest = schedule(svc);
    if (dest == NO_DEST) {
      Pkt.err = R_NO_DEST;
      return NO_DEST;
    }
    const dportW: u32 = atPort && svcPort != FTP_WIRE ? load<u16>(destAt(dest), DS_PORT) : 0;
    t = tplCreate(svc, dest, proto, vport, dportW);
    if (t == NIL) {
      Pkt.err = R_CONN_FULL;
      return NO_DEST;
    }
  } else {
    dest = load<u32>(connAt(t), CN_DEST);
  }
  Pkt.tpl = t;
  return dest;
}

/** ip_vs_control_add + ip_vs_conn_put(template): entry `slot` is controlled by Pkt.tpl. */
export function persistAttach(slot: u32): void {
  tplControl(slot, Pkt.tpl);
  tplTouch(Pkt.tpl);
}

/** ip_vs_control_add: entry `slot` is controlled by template `t` (it keeps `t` alive). */
export function tplControl(slot: u32, t: u32): void {
  store<u32>(connAt(slot), t, CN_CONTROL);
  const c = connAt(t);
  store<u16>(c, load<u16>(c, CN_N_CONTROL) + 1, CN_N_CONTROL);
}

/**
 * ip_vs_control_assure_ct: a controlled TCP entry that is ESTABLISHED, or a controlled
 * UDP entry that sees a reply, makes its template ASSURED.
 */
export function persistAssure(e: usize, out: bool): void {
  const ctl = load<u32>(e, CN_CONTROL);
  if (ctl == NIL) return;
  const assure = load<u8>(e, CN_PROTO) == IPPROTO_TCP ? load<u8>(e, CN_STATE) == TCP_S_ESTABLISHED : out;
  const c = connAt(ctl);
  if (assure && (load<u32>(c, CN_FLAGS) & IP_VS_CONN_F_TEMPLATE) != 0) {
    store<u8>(c, <u8>IP_VS_CTPL_S_ASSURED, CN_STATE);
  }
}

/**
 * ip_vs_expire_nodest_conn_flush (expire_nodest_conn = 1, after a dest or service is
 * deleted): frees, in slot order, every entry that controls nothing and whose dest is not
 * AVAILABLE, then its controller if that now controls nothing.
 */
export function connFlushNodest(): void {
  for (let slot: u32 = 0; slot < Mem.maxConns; slot++) {
    const e = connAt(slot);
    if (load<u8>(e, CN_USED) == 0 || load<u16>(e, CN_N_CONTROL) != 0) continue;
    if ((load<u32>(destAt(load<u32>(e, CN_DEST)), DS_FLAGS) & IP_VS_DEST_F_AVAILABLE) != 0) continue;
    const ctl = load<u32>(e, CN_CONTROL);
    connFree(slot);
    if (ctl != NIL && load<u8>(connAt(ctl), CN_USED) != 0 && load<u16>(connAt(ctl), CN_N_CONTROL) == 0) {
      connFree(ctl);
    }
  }
}
