// The FTP helper (ip_vs_ftp.c; spec §5) for NAT connections to the helper's port
// (ftp_port, default 21). Client: PASV / EPSV / EPSV 1 / EPSV 2 note a passive request;
// PORT and EPRT create the server's active data entry (not rewritten). Server, after a
// passive request: 227's address becomes the VIP, 229 becomes (|||port|); both create a
// NO_CPORT entry for the client's data connection. Length changes shift the sequence
// numbers (app.ts). Segments with payload are checked first (tcp_csum_check). Mirrors
// assembly/app_ftp.ts byte for byte. Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import {
  appAlloc,
  appConn,
  appDataConn,
  appDrop,
  appFind,
  appFixSeq,
  appSeqUpdate,
  IN_SEQ,
  OUT_SEQ,
} from "./app.ts";
import type { EngineState, Packet } from "./state.ts";
import { store16be, swap16 } from "./wire/bytes.ts";
import * as checksumWire from "./wire/checksum.ts";

const { AF_INET, IPPROTO_TCP, MAX_FRAME, R_BAD_L4_CSUM, R_CONN_FULL, TCP_S_ESTABLISHED } = abi;
const { delta16, finish, fold, sumBytes, update } = checksumWire;

const MODE_NONE = 0;
const MODE_PASV = 1;
const MODE_EPSV = 2;
const CR = 13;
const SP = 32;
const NO_PORT = -1;
const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const PASV = enc("PASV\r\n");
const EPSV = enc("EPSV");
const PORT = enc("PORT");
const EPRT = enc("EPRT");
const R227 = enc("227 ");
const R229 = enc("229 ");

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** Scratch of one packet's parse: the address, the bytes to replace, the new text. */
export class FtpScratch {
  readonly addr = new Uint8Array(16);
  readonly view = new DataView(this.addr.buffer);
  readonly words = new Uint32Array(4);
  start = 0;
  stop = 0;
  readonly text = new Uint8Array(32);
}

function startsWith(u8: Uint8Array, p: number, end: number, w: Uint8Array): boolean {
  if (w.length > end - p) return false;
  for (let i = 0; i < w.length; i++) {
    let c = u8[p + i];
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (c !== w[i]) return false;
  }
  return true;
}

function putDec(t: Uint8Array, at: number, v: number): number {
  const s = String(v);
  for (let i = 0; i < s.length; i++) t[at + i] = s.charCodeAt(i);
  return s.length;
}

/** h1,h2,h3,h4,p1,p2 up to `term` (see assembly/app_ftp.ts parseSix). */
function parseSix(
  x: FtpScratch,
  u8: Uint8Array,
  p: number,
  end: number,
  term: number,
  lead: number,
): number {
  while (p < end && !isDigit(u8[p])) {
    if (lead === SP && u8[p] !== SP) return NO_PORT;
    p++;
  }
  const start = p;
  let i = 0, v = 0, digits = 0;
  for (;; p++) {
    if (p >= end) return NO_PORT;
    const c = u8[p];
    if (isDigit(c)) {
      v = v * 10 + c - 0x30;
      if (v > 255 || ++digits > 3) return NO_PORT;
    } else if (c === 0x2c && i < 5 && digits > 0) {
      x.addr[i++] = v;
      v = 0;
      digits = 0;
    } else {
      if (c !== term || i !== 5 || digits === 0) return NO_PORT;
      break;
    }
  }
  x.addr[5] = v;
  x.start = start;
  x.stop = p;
  const port = (x.addr[4] << 8) | x.addr[5];
  return port === 0 ? NO_PORT : port;
}

function parseIp4Text(x: FtpScratch, u8: Uint8Array, p: number, end: number, d: number): number {
  for (let i = 0; i < 4; i++) {
    let v = 0, n = 0;
    while (p < end && isDigit(u8[p])) {
      v = v * 10 + u8[p] - 0x30;
      if (v > 255 || ++n > 3) return 0;
      p++;
    }
    if (n === 0 || p >= end) return 0;
    x.addr[i] = v;
    if (i < 3 ? u8[p] !== 0x2e : u8[p] !== d) return 0;
    if (i < 3) p++;
  }
  return p;
}

function hexVal(c: number): number {
  if (isDigit(c)) return c - 0x30;
  c |= 0x20;
  return c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
}

function parseIp6Text(x: FtpScratch, u8: Uint8Array, p: number, end: number, d: number): number {
  const head: number[] = [];
  const tail: number[] = [];
  let gap = false;
  if (p + 1 < end && u8[p] === 0x3a && u8[p + 1] === 0x3a) {
    gap = true;
    p += 2;
  }
  while (p < end && u8[p] !== d) {
    let v = 0, n = 0;
    while (p < end && hexVal(u8[p]) >= 0) {
      v = (v << 4) | hexVal(u8[p]);
      if (++n > 4) return 0;
      p++;
    }
    if (n === 0 || head.length + tail.length >= 8) return 0;
    (gap ? tail : head).push(v);
    if (p >= end) return 0;
    if (u8[p] === d) break;
    if (u8[p] !== 0x3a) return 0;
    p++;
    if (p < end && u8[p] === 0x3a) {
      if (gap) return 0;
      gap = true;
      p++;
    }
  }
  const n = head.length + tail.length;
  if (p >= end || (gap ? n > 7 : n !== 8)) return 0;
  const g = [...head, ...new Array(8 - n).fill(0), ...tail];
  g.forEach((w, i) => store16be(x.addr, i * 2, w));
  return p;
}

function parseEprt(x: FtpScratch, u8: Uint8Array, p: number, end: number, v4: boolean): number {
  while (p < end && u8[p] === SP) p++;
  if (p + 3 > end) return NO_PORT;
  const d = u8[p];
  if (d < 33 || d > 126 || u8[p + 1] !== (v4 ? 0x31 : 0x32) || u8[p + 2] !== d) return NO_PORT;
  x.addr.fill(0);
  p = v4 ? parseIp4Text(x, u8, p + 3, end, d) : parseIp6Text(x, u8, p + 3, end, d);
  if (p === 0) return NO_PORT;
  p++;
  let port = 0, n = 0;
  while (p < end && isDigit(u8[p])) {
    port = port * 10 + u8[p] - 0x30;
    if (port > 65535 || ++n > 5) return NO_PORT;
    p++;
  }
  if (p >= end || u8[p] !== d || port === 0) return NO_PORT;
  return port;
}

function parse229(x: FtpScratch, u8: Uint8Array, p: number, end: number, v4: boolean): number {
  while (p < end && u8[p] !== 0x28) p++;
  while (p < end && u8[p] === 0x28) p++;
  if (p + 4 > end) return NO_PORT;
  const start = p;
  const d = u8[p];
  if (d < 33 || d > 126) return NO_PORT;
  if (u8[p + 1] === d) {
    if (u8[p + 2] !== d) return NO_PORT; // no family, then no address either
    p += 3;
  } else {
    if (u8[p + 1] !== (v4 ? 0x31 : 0x32) || u8[p + 2] !== d) return NO_PORT;
    p = v4 ? parseIp4Text(x, u8, p + 3, end, d) : parseIp6Text(x, u8, p + 3, end, d);
    if (p === 0) return NO_PORT;
    p++;
  }
  let port = 0, n = 0;
  while (p < end && isDigit(u8[p])) {
    port = port * 10 + u8[p] - 0x30;
    if (port > 65535 || ++n > 5) return NO_PORT;
    p++;
  }
  if (p >= end || u8[p] !== d || port === 0) return NO_PORT;
  x.start = start;
  x.stop = p + 1;
  return port;
}

/** The TCP segment's pseudo header + bytes, summed (with its current addresses). */
function tcpSum(st: EngineState, p: Packet, l4len: number): number {
  const v4 = p.af === AF_INET;
  const s = sumBytes(st.dv, p.ip + (v4 ? 12 : 8), v4 ? 8 : 32, 0) + (IPPROTO_TCP << 8) +
    swap16(l4len);
  return sumBytes(st.dv, p.th, l4len, s);
}

function mangle(st: EngineState, p: Packet, r: number, c: number, seq: number, n: number): void {
  const x = st.edge.ftp;
  const u8 = st.u8;
  const dv = st.dv;
  const diff = n - (x.stop - x.start);
  if (diff > 0 && p.l3 + p.iplen + diff > MAX_FRAME) return;
  const end = p.ip + p.iplen;
  u8.copyWithin(x.start + n, x.stop, end);
  u8.set(x.text.subarray(0, n), x.start);
  p.iplen += diff;
  if (p.af === AF_INET) {
    const old = dv.getUint16(p.ip + 2, true);
    store16be(u8, p.ip + 2, p.iplen);
    const d = delta16(old, dv.getUint16(p.ip + 2, true));
    dv.setUint16(p.ip + 10, update(dv.getUint16(p.ip + 10, true), d), true);
  } else {
    store16be(u8, p.ip + 4, p.iplen - 40);
  }
  const l4len = p.ip + p.iplen - p.th;
  dv.setUint16(p.th + 16, 0, true);
  dv.setUint16(p.th + 16, finish(tcpSum(st, p, l4len)), true);
  if (diff !== 0) appSeqUpdate(st, r, c, seq, diff);
}

function ftpIn(
  st: EngineState,
  p: Packet,
  c: number,
  r: number,
  data: number,
  end: number,
): number {
  const u8 = st.u8;
  const conns = st.conns;
  const a = st.edge.app;
  const v4 = conns.af[c] === AF_INET;
  if (v4 && startsWith(u8, data, end, PASV)) {
    if (r < 0) r = appAlloc(st, c);
    if (r >= 0) a.mode[r] = MODE_PASV;
    return 0;
  }
  if (startsWith(u8, data, end, EPSV)) {
    if (end - data < 5) return 0;
    const ch = u8[data + 4];
    if (ch === SP) {
      if (end - data < 7 || u8[data + 6] !== CR || u8[data + 5] !== (v4 ? 0x31 : 0x32)) return 0;
    } else if (ch !== CR) {
      return 0;
    }
    if (r < 0) r = appAlloc(st, c);
    if (r >= 0) a.mode[r] = MODE_EPSV;
    return 0;
  }
  const x = st.edge.ftp;
  let port = NO_PORT;
  if (v4 && startsWith(u8, data, end, PORT)) port = parseSix(x, u8, data + 4, end, CR, SP);
  else if (startsWith(u8, data, end, EPRT)) port = parseEprt(x, u8, data + 4, end, v4);
  if (port === NO_PORT) return 0;
  if (r >= 0) a.mode[r] = MODE_NONE;
  const w = x.words;
  for (let i = 0; i < 4; i++) w[i] = v4 && i > 0 ? 0 : x.view.getUint32(i * 4, true);
  const vport = swap16(swap16(conns.vport[c]) - 1);
  const dport = swap16(swap16(conns.dport[c]) - 1);
  if (appDataConn(st, p, c, w, swap16(port), vport, dport) < 0) return R_CONN_FULL;
  return 0;
}

function ftpOut(
  st: EngineState,
  p: Packet,
  c: number,
  r: number,
  seq: number,
  data: number,
  end: number,
): number {
  if (r < 0) return 0;
  const u8 = st.u8;
  const conns = st.conns;
  const a = st.edge.app;
  const v4 = conns.af[c] === AF_INET;
  const x = st.edge.ftp;
  const t = x.text;
  let port = NO_PORT;
  let n = 0;
  if (a.mode[r] === MODE_PASV && v4 && startsWith(u8, data, end, R227)) {
    port = parseSix(x, u8, data + 4, end, 0x29, 0x28);
    if (port === NO_PORT) return 0;
    const vip = conns.vaddr[c];
    for (let i = 0; i < 4; i++) {
      n += putDec(t, n, (vip >>> (i * 8)) & 0xff);
      t[n++] = 0x2c;
    }
    n += putDec(t, n, port >> 8);
    t[n++] = 0x2c;
    n += putDec(t, n, port & 0xff);
  } else if (a.mode[r] === MODE_EPSV && startsWith(u8, data, end, R229)) {
    port = parse229(x, u8, data + 4, end, v4);
    if (port === NO_PORT) return 0;
    t[n++] = 0x7c, t[n++] = 0x7c, t[n++] = 0x7c;
    n += putDec(t, n, port);
    t[n++] = 0x7c;
  } else {
    return 0;
  }
  a.mode[r] = MODE_NONE;
  const w = x.words;
  if (v4) {
    w[0] = conns.caddr[c], w[1] = 0, w[2] = 0, w[3] = 0;
  } else {
    w.set(conns.addr6.subarray(conns.block[c] * 12, conns.block[c] * 12 + 4));
  }
  if (appDataConn(st, p, c, w, 0, swap16(port), swap16(port)) < 0) return R_CONN_FULL;
  mangle(st, p, r, c, seq, n);
  return 0;
}

/** The helper's part of step 11 (before the transmit). Returns 0 or a drop reason. */
export function appPacket(st: EngineState, p: Packet, c: number, out: boolean): number {
  if (!appConn(st, c)) return 0;
  const conns = st.conns;
  let r = appFind(st, c);
  if (r >= 0 && !out && conns.inPkts[c] === 1) {
    appDrop(st, r);
    r = -1;
  }
  const dv = st.dv;
  const th = p.th;
  const seq = dv.getUint32(th + 4); // as received: a resize is keyed on it
  const flags = conns.flags[c];
  const inSeq = (flags & IN_SEQ) !== 0;
  const outSeq = (flags & OUT_SEQ) !== 0;
  if (r >= 0 && (inSeq || outSeq)) appFixSeq(st, p, r, out, inSeq, outSeq);
  if (conns.state[c] !== TCP_S_ESTABLISHED || p.frag !== 0) return 0;
  const data = th + (st.u8[th + 12] >>> 4) * 4;
  const end = p.ip + p.iplen;
  if (data >= end) return 0;
  if (fold(tcpSum(st, p, end - th)) !== 0xffff) return R_BAD_L4_CSUM;
  return out ? ftpOut(st, p, c, r, seq, data, end) : ftpIn(st, p, c, r, data, end);
}
