// The FTP helper (ip_vs_ftp.c; spec §5) for NAT connections to the helper's port
// (sysctl ftp_port, default 21). Client commands (case-insensitive, at the start of a
// segment): PASV (IPv4) and EPSV / EPSV 1 / EPSV 2 remember that a passive reply is due;
// PORT h1,h2,h3,h4,p1,p2 and EPRT |af|addr|port| are not rewritten but create the entry for
// the server's active data connection (client = the command's address and port, virtual
// port - 1, real-server port - 1). Server replies, only after a passive request: 227's
// address becomes the VIP (port kept), 229 becomes (|||port|); both create a NO_CPORT entry
// (client address, any port, to VIP:port, real server :port) that the client's data
// connection completes. A reply whose length changes shifts the sequence numbers from
// there on (app.ts). Data connections are controlled by the control connection, in LISTEN.
// Segments with payload are checked first (IPVS tcp_csum_check): bad ones are dropped.
import {
  AF_INET,
  CN_AF,
  CN_CADDR,
  CN_DPORT,
  CN_EXT,
  CN_FLAGS,
  CN_IN_PKTS,
  CN_STATE,
  CN_VADDR,
  CN_VPORT,
  IPPROTO_TCP,
  IP_VS_CONN_F_IN_SEQ,
  IP_VS_CONN_F_OUT_SEQ,
  MAX_FRAME,
  R_BAD_L4_CSUM,
  R_CONN_FULL,
  TCP_S_ESTABLISHED,
  V_DROP,
} from "./abi";
import {
  AR_MODE,
  appAlloc,
  appConn,
  appDataConn,
  appDrop,
  appFind,
  appFixSeq,
  appSeqUpdate,
} from "./app";
import { C6_CADDR, C6_VADDR, NIL, conn6At, connAt } from "./conn";
import { Edge, Pkt } from "./state";
import { copy16, store16be, swap16 } from "./wire/bytes";
import { csumFinish, csumFold, csumPartial, csumUpdate16, csumUpdateStart } from "./wire/checksum";
import { TCP_CSUM, tcpHeaderLen } from "./wire/tcp";

const MODE_NONE: u8 = 0;
const MODE_PASV: u8 = 1;
const MODE_EPSV: u8 = 2;
const CR: u32 = 13;
const SP: u32 = 32;
const NO_PORT: u32 = 0xffffffff;

/** Command and reply words, as the bytes they match (the commands case-insensitively). */
const PASV: usize = memory.data<u8>([0x50, 0x41, 0x53, 0x56, 13, 10]); // "PASV\r\n"
const EPSV: usize = memory.data<u8>([0x45, 0x50, 0x53, 0x56]);
const PORT: usize = memory.data<u8>([0x50, 0x4f, 0x52, 0x54]);
const EPRT: usize = memory.data<u8>([0x45, 0x50, 0x52, 0x54]);
const R227: usize = memory.data<u8>([0x32, 0x32, 0x37, 0x20]); // "227 "
const R229: usize = memory.data<u8>([0x32, 0x32, 0x39, 0x20]);

@inline function isDigit(c: u32): bool {
  return c >= 0x30 && c <= 0x39;
}

/** True when [p, end) starts with the `n` bytes at `w` (letters case-insensitively). */
function startsWith(p: usize, end: usize, w: usize, n: u32): bool {
  if (<usize>n > end - p) return false;
  for (let i: u32 = 0; i < n; i++) {
    let c: u32 = load<u8>(p + i);
    const k: u32 = load<u8>(w + i);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (c != k) return false;
  }
  return true;
}

/** Writes `v` in decimal at `p`; returns the bytes written. */
function putDec(p: usize, v: u32): u32 {
  let n: u32 = 1;
  for (let x = v; x >= 10; x /= 10) n++;
  for (let i: u32 = n; i > 0; i--) {
    store<u8>(p + i - 1, <u8>(0x30 + v % 10));
    v /= 10;
  }
  return n;
}

/**
 * h1,h2,h3,h4,p1,p2 (each 0-255) from `p`, after any bytes `lead` skips, ending at byte
 * `term`: the address goes to the scratch text, the port (host order) is returned, NO_PORT
 * if it does not parse. Edge.appText + 64 / + 68 get the offsets of the numbers and the end.
 */
function parseSix(p: usize, end: usize, term: u32, lead: u32): u32 {
  // The numbers start at the first digit; `lead` bytes before it are skipped (IPVS allows
  // "(" to be left out of a 227 reply by catching the first digit).
  while (p < end && !isDigit(load<u8>(p))) {
    const c: u32 = load<u8>(p);
    if (lead == SP && c != SP) return NO_PORT;
    p++;
  }
  const start = p;
  let i: u32 = 0;
  let v: u32 = 0;
  let digits: u32 = 0;
  const a = Edge.appText;
  while (true) {
    if (p >= end) return NO_PORT;
    const c: u32 = load<u8>(p);
    if (isDigit(c)) {
      v = v * 10 + c - 0x30;
      if (v > 255 || ++digits > 3) return NO_PORT;
    } else if (c == 0x2c && i < 5 && digits > 0) {
      store<u8>(a + i, <u8>v);
      i++;
      v = 0;
      digits = 0;
    } else {
      if (c != term || i != 5 || digits == 0) return NO_PORT;
      break;
    }
    p++;
  }
  store<u8>(a + 5, <u8>v);
  store<u32>(a, <u32>(start - a), 64);
  store<u32>(a, <u32>(p - a), 68);
  const port = (<u32>load<u8>(a, 4) << 8) | load<u8>(a, 5);
  return port == 0 ? NO_PORT : port;
}

/** Dotted quad at [p, end) up to `d`: into `out`; returns the end or 0. */
function parseIp4Text(p: usize, end: usize, d: u32, out: usize): usize {
  for (let i: u32 = 0; i < 4; i++) {
    let v: u32 = 0;
    let n: u32 = 0;
    while (p < end && isDigit(load<u8>(p))) {
      v = v * 10 + load<u8>(p) - 0x30;
      if (v > 255 || ++n > 3) return 0;
      p++;
    }
    if (n == 0 || p >= end) return 0;
    store<u8>(out + i, <u8>v);
    const c: u32 = load<u8>(p);
    if (i < 3 ? c != 0x2e : c != d) return 0;
    if (i < 3) p++;
  }
  return p;
}

@inline function hexVal(c: u32): i32 {
  if (isDigit(c)) return <i32>(c - 0x30);
  c |= 0x20;
  return c >= 0x61 && c <= 0x66 ? <i32>(c - 0x57) : -1;
}

/** IPv6 text (hex groups, one "::"; no dotted tail) at [p, end) up to `d`: end or 0. */
function parseIp6Text(p: usize, end: usize, d: u32, out: usize): usize {
  const g = out + 16; // groups before "::" at out, after it at out + 16 (scratch)
  let before: u32 = 0;
  let after: u32 = 0;
  let gap = false;
  if (p + 1 < end && load<u8>(p) == 0x3a && load<u8>(p + 1) == 0x3a) {
    gap = true;
    p += 2;
  }
  while (p < end && load<u8>(p) != d) {
    let v: u32 = 0;
    let n: u32 = 0;
    while (p < end && hexVal(load<u8>(p)) >= 0) {
      v = (v << 4) | <u32>hexVal(load<u8>(p));
      if (++n > 4) return 0;
      p++;
    }
    if (n == 0 || before + after >= 8) return 0;
    if (gap) store16be(g + (after++ << 1), v);
    else store16be(out + (before++ << 1), v);
    if (p >= end) return 0;
    const c: u32 = load<u8>(p);
    if (c == d) break;
    if (c != 0x3a) return 0;
    p++;
    if (p < end && load<u8>(p) == 0x3a) {
      if (gap) return 0;
      gap = true;
      p++;
    }
  }
  if (p >= end || (gap ? before + after > 7 : before + after != 8)) return 0;
  memory.fill(out + (before << 1), 0, (8 - before) << 1);
  memory.copy(out + 16 - (after << 1), g, after << 1);
  return p;
}

/**
 * EPRT |af|addr|port| (any delimiter 33..126, the connection's family only): the address to
 * the scratch text, the port (host order) returned, or NO_PORT.
 */
function parseEprt(p: usize, end: usize, v4: bool): u32 {
  while (p < end && load<u8>(p) == SP) p++;
  if (p + 3 > end) return NO_PORT;
  const d: u32 = load<u8>(p);
  if (d < 33 || d > 126 || load<u8>(p + 1) != (v4 ? 0x31 : 0x32) || load<u8>(p + 2) != d) {
    return NO_PORT;
  }
  p = v4 ? parseIp4Text(p + 3, end, d, Edge.appText) : parseIp6Text(p + 3, end, d, Edge.appText);
  if (p == 0) return NO_PORT;
  p++;
  let port: u32 = 0;
  let n: u32 = 0;
  while (p < end && isDigit(load<u8>(p))) {
    port = port * 10 + load<u8>(p) - 0x30;
    if (port > 65535 || ++n > 5) return NO_PORT;
    p++;
  }
  if (p >= end || load<u8>(p) != d || port == 0) return NO_PORT;
  return port;
}

/**
 * EPSV's (|||port|) after "229 " (an address, when given, of the connection's family): the
 * port, with the bytes to replace at appText + 64 / + 68.
 */
function parse229(p: usize, end: usize, v4: bool): u32 {
  while (p < end && load<u8>(p) != 0x28) p++;
  while (p < end && load<u8>(p) == 0x28) p++;
  if (p + 4 > end) return NO_PORT;
  const start = p;
  const d: u32 = load<u8>(p);
  if (d < 33 || d > 126) return NO_PORT;
  if (load<u8>(p + 1) == d) {
    if (load<u8>(p + 2) != d) return NO_PORT; // no family, then no address either
    p += 3;
  } else {
    if (load<u8>(p + 1) != (v4 ? 0x31 : 0x32) || load<u8>(p + 2) != d) return NO_PORT;
    const a = Edge.appText + 32; // not kept: the VIP replaces it
    p = v4 ? parseIp4Text(p + 3, end, d, a) : parseIp6Text(p + 3, end, d, a);
    if (p == 0) return NO_PORT;
    p++;
  }
  let port: u32 = 0;
  let n: u32 = 0;
  while (p < end && isDigit(load<u8>(p))) {
    port = port * 10 + load<u8>(p) - 0x30;
    if (port > 65535 || ++n > 5) return NO_PORT;
    p++;
  }
  if (p >= end || load<u8>(p) != d || port == 0) return NO_PORT;
  store<u32>(Edge.appText, <u32>(start - Edge.appText), 64);
  store<u32>(Edge.appText, <u32>(p + 1 - Edge.appText), 68);
  return port;
}

/** The TCP checksum of the current segment verifies (pseudo header with its addresses). */
function tcpSumOk(): bool {
  const v4 = Pkt.af == AF_INET;
  let s = csumPartial(Pkt.saddr, v4 ? 4 : 16, 0);
  s = csumPartial(Pkt.daddr, v4 ? 4 : 16, s);
  s += <u64>(IPPROTO_TCP << 8) + <u64>swap16(Pkt.l4len);
  return csumFold(csumPartial(Pkt.l4, Pkt.l4len, s)) == 0xffff;
}

/**
 * Replaces payload bytes [start, stop) with `n` bytes of `text`: the IP length, the TCP
 * checksum (recomputed: the payload changed), and the out direction's sequence delta for
 * the segment of original sequence `seq`. False when the frame would not fit its slot.
 */
function mangle(start: usize, stop: usize, text: usize, n: u32, r: usize, e: usize, seq: u32): bool {
  const diff = <i32>n - <i32>(stop - start);
  if (diff > 0 && Pkt.l3 + Pkt.iplen + <u32>diff > MAX_FRAME) return false;
  const end = Pkt.l4 + Pkt.l4len;
  memory.copy(start + n, stop, end - stop);
  memory.copy(start, text, n);
  const ip = Pkt.ip;
  Pkt.iplen += <u32>diff;
  Pkt.l4len += <u32>diff;
  if (Pkt.af == AF_INET) {
    const old: u32 = load<u16>(ip, 2);
    store16be(ip + 2, Pkt.iplen);
    const h = csumUpdate16(csumUpdateStart(load<u16>(ip, 10)), old, load<u16>(ip, 2));
    store<u16>(ip, <u16>csumFinish(h), 10);
  } else {
    store16be(ip + 4, Pkt.iplen - 40);
  }
  const th = Pkt.l4;
  store<u16>(th, 0, TCP_CSUM);
  const v4 = Pkt.af == AF_INET;
  let s = csumPartial(Pkt.saddr, v4 ? 4 : 16, 0);
  s = csumPartial(Pkt.daddr, v4 ? 4 : 16, s);
  s += <u64>(IPPROTO_TCP << 8) + <u64>swap16(Pkt.l4len);
  store<u16>(th, <u16>csumFinish(csumPartial(th, Pkt.l4len, s)), TCP_CSUM);
  if (diff != 0) appSeqUpdate(r, e, true, seq, diff);
  return true;
}

/** Client to server: passive requests; PORT and EPRT make the active data entry. */
function ftpIn(slot: u32, e: usize, r: usize, data: usize, end: usize): u32 {
  const v4 = load<u8>(e, CN_AF) == AF_INET;
  if (v4 && startsWith(data, end, PASV, 6)) {
    if (r == 0) r = appAlloc(slot);
    if (r != 0) store<u8>(r, MODE_PASV, AR_MODE);
    return 0;
  }
  if (startsWith(data, end, EPSV, 4)) {
    if (end - data < 5) return 0;
    const c: u32 = load<u8>(data, 4);
    if (c == SP) {
      if (end - data < 7 || load<u8>(data, 6) != CR || load<u8>(data, 5) != (v4 ? 0x31 : 0x32)) {
        return 0;
      }
    } else if (c != CR) {
      return 0;
    }
    if (r == 0) r = appAlloc(slot);
    if (r != 0) store<u8>(r, MODE_EPSV, AR_MODE);
    return 0;
  }
  let port = NO_PORT;
  if (v4 && startsWith(data, end, PORT, 4)) port = parseSix(data + 4, end, CR, SP);
  else if (startsWith(data, end, EPRT, 4)) port = parseEprt(data + 4, end, v4);
  if (port == NO_PORT) return 0;
  if (r != 0) store<u8>(r, MODE_NONE, AR_MODE); // passive mode off
  const vport = swap16(swap16(load<u16>(e, CN_VPORT)) - 1);
  const dport = swap16(swap16(load<u16>(e, CN_DPORT)) - 1);
  if (appDataConn(slot, Edge.appText, swap16(port), vport, dport) == NIL) {
    return (V_DROP << 8) | R_CONN_FULL;
  }
  return 0;
}

/** Server to client after a passive request: 227 / 229 rewritten, the passive data entry. */
function ftpOut(slot: u32, e: usize, r: usize, seq: u32, data: usize, end: usize): u32 {
  if (r == 0) return 0;
  const mode = load<u8>(r, AR_MODE);
  const v4 = load<u8>(e, CN_AF) == AF_INET;
  const a = Edge.appText;
  const t = a + 72; // the new text
  let port = NO_PORT;
  let n: u32 = 0;
  if (mode == MODE_PASV && v4 && startsWith(data, end, R227, 4)) {
    port = parseSix(data + 4, end, 0x29, 0x28); // ... (h1,h2,h3,h4,p1,p2)
    if (port == NO_PORT) return 0;
    const vip = e + CN_VADDR;
    for (let i: u32 = 0; i < 4; i++) {
      n += putDec(t + n, load<u8>(vip + i));
      store<u8>(t + n++, 0x2c);
    }
    n += putDec(t + n, port >> 8);
    store<u8>(t + n++, 0x2c);
    n += putDec(t + n, port & 0xff);
  } else if (mode == MODE_EPSV && startsWith(data, end, R229, 4)) {
    port = parse229(data + 4, end, v4);
    if (port == NO_PORT) return 0;
    for (let i: u32 = 0; i < 3; i++) store<u8>(t + n++, 0x7c);
    n += putDec(t + n, port);
    store<u8>(t + n++, 0x7c);
  } else {
    return 0;
  }
  store<u8>(r, MODE_NONE, AR_MODE);
  const caddr = v4 ? e + CN_CADDR : conn6At(load<u32>(e, CN_EXT)) + C6_CADDR;
  copy16(a + 16, caddr); // the client's address, set aside: the scratch text is reused
  if (appDataConn(slot, a + 16, 0, swap16(port), swap16(port)) == NIL) {
    return (V_DROP << 8) | R_CONN_FULL;
  }
  const start = a + load<u32>(a, 64);
  const stop = a + load<u32>(a, 68);
  mangle(start, stop, t, n, r, e, seq);
  return 0;
}

/**
 * The helper's part of step 11 for a packet on entry `slot` (direction `out`), after its
 * state transition and before the transmit (core.ts onEntry). Returns 0 or a DROP outcome.
 */
export function appPacket(slot: u32, out: bool): u32 {
  const e = connAt(slot);
  if (!appConn(e)) return 0;
  let r = appFind(slot);
  // The creating packet of a control connection: a record of an earlier one is stale.
  if (r != 0 && !out && load<u32>(e, CN_IN_PKTS) == 1) {
    appDrop(r);
    r = 0;
  }
  const th = Pkt.l4;
  const seq = bswap<u32>(load<u32>(th, 4)); // as received: a resize is keyed on it
  const flags = load<u32>(e, CN_FLAGS);
  const inSeq = (flags & IP_VS_CONN_F_IN_SEQ) != 0;
  const outSeq = (flags & IP_VS_CONN_F_OUT_SEQ) != 0;
  if (r != 0 && (inSeq || outSeq)) appFixSeq(r, out, inSeq, outSeq);
  // Only established sessions are read; a fragment's payload is not whole here.
  if (load<u8>(e, CN_STATE) != TCP_S_ESTABLISHED || Pkt.frag != 0) return 0;
  const data = th + tcpHeaderLen(th);
  const end = th + Pkt.l4len;
  if (data >= end) return 0;
  if (!tcpSumOk()) return (V_DROP << 8) | R_BAD_L4_CSUM;
  return out ? ftpOut(slot, e, r, seq, data, end) : ftpIn(slot, e, r, data, end);
}
