// The IPVS connection-sync wire format (ip_vs_sync.c; spec ipvs-data-plane.md §7.2-§7.4, §7.8):
// version 0 and version 1 messages, IPv4 and IPv6 entries, the v1 options (sequence data,
// persistence-engine data and name), inter-entry padding and the sync_maxlen batching.
// Runtime-agnostic. A zero-copy view of the header (SyncHeaderView), a parsed form
// (SyncConn, SyncMessage) with decodeMessage() and a builder that emits messages the way
// the kernel's sync buffer fills them (SyncBuilder).
// Invariants: decoding never trusts a length (every read is checked against the datagram
// and the entry's own end first) and a malformed datagram is rejected whole, so applying a
// decoded message never half-applies one (stricter than the kernel, which applies the
// entries before the malformed one). Emitting never reads stale bytes of its buffer.
//
// Version 0 message (IPv4 only). Header, then `count` entries:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Count     |    SyncID     |         Size (bytes)          |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |   Reserved    |   Protocol    |         Client port           |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Virtual port          |          Dest port            |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Client address / Virtual address / Dest address (3 × 32)    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Flags (low 16)        |            State              |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | if Flags & 0x0600: in_seq {init, delta, prev_delta}, out_seq  |
//   | {...}: six 32-bit words in the SENDER'S HOST byte order       |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Version 1 message. Header, then `count` entries, each after the first starting on a
// 4-byte boundary (0-3 zero bytes before it, counted in Size but in no entry's size):
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Reserved=0   |    SyncID     |         Size (bytes)          |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Count     |  Version=1    |            Spare=0            |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     Type      |   Protocol    | Ver=0 |  Entry size (12 bits) |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                        Flags (32 bits)                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |            State              |         Client port           |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Virtual port          |          Dest port            |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                            Fwmark                             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                     Timeout (seconds)                         |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | Client, Virtual, Dest address: 3 × 32 bits (Type 0) or        |
//   | 3 × 128 bits (Type bit 0 set: IPv6; the kernel sends 1)       |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | Options: Type (8) | Length (8) | Data ..., byte-packed        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Interoperability traps kept here: IPv6 entries carry type 1 (not 2); a receiver reads v1
// only when byte 0 is 0, byte 5 is 1 and bytes 6-7 are 0 (so v0-only receivers see count 0);
// Size must equal the datagram length; v0 sequence words are host order (little-endian
// from x86 senders), v1's are big-endian; v0 flags are 16 bits, v1's 32; HASHED is never sent.

export const SYNC_PROTO_VER = 1;
export const V0_HEADER_LEN = 4;
export const V1_HEADER_LEN = 8;
export const V0_ENTRY_LEN = 24;
export const V0_ENTRY_SEQ_LEN = 48;
export const V1_ENTRY4_LEN = 36;
export const V1_ENTRY6_LEN = 72;
/** Option types (type byte; bit 0x40 marks an option a receiver may skip). */
export const IPVS_OPT_SEQ_DATA = 1;
export const IPVS_OPT_PE_DATA = 2;
export const IPVS_OPT_PE_NAME = 3;
export const IPVS_OPT_F_PARAM = 0x40;
export const SEQ_DATA_LEN = 24;
export const PE_DATA_MAXLEN = 255;
export const PE_NAME_MAXLEN = 16;
/** Type byte of an IPv6 entry (STYPE_F_INET6). */
export const STYPE_F_INET6 = 1;
/** IP_VS_CONN_F_HASHED (never sent) and IP_VS_CONN_F_SEQ_MASK (IN_SEQ | OUT_SEQ). */
export const CONN_F_HASHED = 0x0040;
export const CONN_F_SEQ_MASK = 0x0600;
const SVER_SHIFT = 12;
const SVER_MASK = 0x0fff;

// Header fields (both versions share Size at 2 and SyncID at 1).
const H_COUNT_V0 = 0;
const H_SYNCID = 1;
const H_SIZE = 2;
const H_COUNT_V1 = 4;
const H_VERSION = 5;
const H_SPARE = 6;

/** One side of the sequence-adjustment data (struct ip_vs_seq). */
export interface SyncSeq {
  initSeq: number;
  delta: number;
  previousDelta: number;
}

/** One connection entry, parsed (ports in host order, addresses in network order). */
export interface SyncConn {
  af: 2 | 10;
  protocol: number;
  /** IP_VS_CONN_F_* (v0 carries the low 16 bits). */
  flags: number;
  state: number;
  cport: number;
  vport: number;
  dport: number;
  fwmark: number;
  /** Seconds; 0 in v0 (the backup then uses its own per-state timeout). */
  timeout: number;
  caddr: Uint8Array;
  vaddr: Uint8Array;
  daddr: Uint8Array;
  /** Sequence data, sent when flags & 0x0600 (zeros when absent). */
  inSeq?: SyncSeq;
  outSeq?: SyncSeq;
  /** Persistence-engine data and engine name (templates of a `--pe` service). */
  peData?: Uint8Array;
  peName?: string;
}

/** An entry the receiver skips while the rest of the message still counts (§7.3). */
export interface SkippedEntry {
  index: number;
  reason: string;
}

export interface SyncMessage {
  version: 0 | 1;
  syncid: number;
  conns: SyncConn[];
  skipped: SkippedEntry[];
}

export type DecodeResult =
  | { ok: true; message: SyncMessage }
  | { ok: false; error: string; offset: number };

export interface DecodeOptions {
  /** Byte order of v0 sequence words: little-endian (x86 senders, default) or big. */
  v0SeqLittleEndian?: boolean;
}

/**
 * Zero-copy view of a sync message header. `checkLen()` first; after it succeeds no
 * accessor reads outside the buffer.
 *
 * @example
 * ```ts
 * import { SyncHeaderView } from "./wire.ts";
 * const h = new SyncHeaderView(Uint8Array.of(0, 1, 0, 8, 0, 1, 0, 0));
 * if (!h.checkLen() || !h.isV1() || h.count() !== 0 || h.size() !== 8) throw new Error();
 * ```
 */
export class SyncHeaderView {
  readonly buf: Uint8Array;
  constructor(buf: Uint8Array) {
    this.buf = buf;
  }
  /** True when the buffer holds at least the 4-byte header both versions share. */
  checkLen(): boolean {
    return this.buf.length >= V0_HEADER_LEN;
  }
  /** The receiver's dispatch rule: v1 iff byte 0 = 0, version = 1 and spare = 0. */
  isV1(): boolean {
    const b = this.buf;
    return b.length >= V1_HEADER_LEN && b[0] === 0 && b[H_VERSION] === SYNC_PROTO_VER &&
      b[H_SPARE] === 0 && b[H_SPARE + 1] === 0;
  }
  syncid(): number {
    return this.buf[H_SYNCID];
  }
  size(): number {
    return (this.buf[H_SIZE] << 8) | this.buf[H_SIZE + 1];
  }
  count(): number {
    return this.isV1() ? this.buf[H_COUNT_V1] : this.buf[H_COUNT_V0];
  }
  headerLen(): number {
    return this.isV1() ? V1_HEADER_LEN : V0_HEADER_LEN;
  }
  setSyncid(v: number): void {
    this.buf[H_SYNCID] = v;
  }
  setSize(v: number): void {
    this.buf[H_SIZE] = v >>> 8;
    this.buf[H_SIZE + 1] = v & 0xff;
  }
}

// ---- Decoding -------------------------------------------------------------------------------

function be16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function be32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function le32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

function readSeq(b: Uint8Array, o: number, le: boolean): SyncSeq {
  const r = le ? le32 : be32;
  return { initSeq: r(b, o), delta: r(b, o + 4), previousDelta: r(b, o + 8) };
}

const fail = (error: string, offset: number): DecodeResult => ({ ok: false, error, offset });

/**
 * Decodes one sync datagram (the whole UDP payload).
 *
 * @param buf the datagram
 * @param opts byte order of v0 sequence words
 * @returns the message, or why it is rejected as a whole
 *
 * @example
 * ```ts
 * import { decodeMessage } from "./wire.ts";
 * const r = decodeMessage(Uint8Array.of(0, 1, 0, 8, 0, 1, 0, 0));
 * if (!r.ok || r.message.version !== 1 || r.message.conns.length !== 0) throw new Error();
 * ```
 */
export function decodeMessage(buf: Uint8Array, opts: DecodeOptions = {}): DecodeResult {
  const h = new SyncHeaderView(buf);
  if (!h.checkLen()) return fail("message header too short", 0);
  if (h.size() !== buf.length) return fail(`bogus message size ${h.size()} (${buf.length})`, 2);
  return h.isV1() ? decodeV1(buf) : decodeV0(buf, opts.v0SeqLittleEndian ?? true);
}

function decodeV0(b: Uint8Array, seqLe: boolean): DecodeResult {
  const n = b[H_COUNT_V0];
  const conns: SyncConn[] = [];
  let p = V0_HEADER_LEN;
  for (let i = 0; i < n; i++) {
    if (p + V0_ENTRY_LEN > b.length) return fail(`v0 entry ${i} truncated`, p);
    const flags = be16(b, p + 20);
    const c: SyncConn = {
      af: 2,
      protocol: b[p + 1],
      flags,
      state: be16(b, p + 22),
      cport: be16(b, p + 2),
      vport: be16(b, p + 4),
      dport: be16(b, p + 6),
      fwmark: 0,
      timeout: 0,
      caddr: b.slice(p + 8, p + 12),
      vaddr: b.slice(p + 12, p + 16),
      daddr: b.slice(p + 16, p + 20),
    };
    if (flags & CONN_F_SEQ_MASK) {
      if (p + V0_ENTRY_SEQ_LEN > b.length) return fail(`v0 entry ${i}: options truncated`, p);
      c.inSeq = readSeq(b, p + 24, seqLe);
      c.outSeq = readSeq(b, p + 36, seqLe);
      p += V0_ENTRY_SEQ_LEN;
    } else {
      p += V0_ENTRY_LEN;
    }
    conns.push(c);
  }
  return { ok: true, message: { version: 0, syncid: b[H_SYNCID], conns, skipped: [] } };
}

function decodeV1(b: Uint8Array): DecodeResult {
  const n = b[H_COUNT_V1];
  const conns: SyncConn[] = [];
  const skipped: SkippedEntry[] = [];
  let next = V1_HEADER_LEN;
  for (let i = 0; i < n; i++) {
    const p = next;
    // The kernel checks room for an IPv4 entry first, whatever the type says.
    if (p + V1_ENTRY4_LEN > b.length) return fail(`entry ${i}: buffer too small`, p);
    const vs = be16(b, p + 2);
    const size = vs & SVER_MASK;
    const end = p + size;
    if (end > b.length) return fail(`entry ${i}: size ${size} past the message end`, p);
    if (vs >> SVER_SHIFT) return fail(`entry ${i}: unknown entry version ${vs >> SVER_SHIFT}`, p);
    const r = decodeEntryV1(b, p, end);
    if (typeof r === "string") {
      if (r.startsWith("!")) return fail(`entry ${i}: ${r.slice(1)}`, p);
      skipped.push({ index: i, reason: r });
    } else {
      conns.push(r);
    }
    next = p + ((size + 3) & ~3);
  }
  return { ok: true, message: { version: 1, syncid: b[H_SYNCID], conns, skipped } };
}

/** One v1 entry in [p, end): the entry, a skip reason, or "!" + a fatal reason. */
function decodeEntryV1(b: Uint8Array, p: number, end: number): SyncConn | string {
  const type = b[p];
  let alen: number;
  if (type & STYPE_F_INET6) alen = 16;
  else if (type === 0) alen = 4;
  else return `!unknown entry type ${type}`;
  let q = p + 24 + 3 * alen;
  if (q > end) return "!entry shorter than its fixed part";
  const c: SyncConn = {
    af: alen === 4 ? 2 : 10,
    protocol: b[p + 1],
    flags: be32(b, p + 4),
    state: be16(b, p + 8),
    cport: be16(b, p + 10),
    vport: be16(b, p + 12),
    dport: be16(b, p + 14),
    fwmark: be32(b, p + 16),
    timeout: be32(b, p + 20),
    caddr: b.slice(p + 24, p + 24 + alen),
    vaddr: b.slice(p + 24 + alen, p + 24 + 2 * alen),
    daddr: b.slice(p + 24 + 2 * alen, p + 24 + 3 * alen),
  };
  let seen = 0;
  while (q < end) {
    if (q + 2 > end) return "!option header past the entry end";
    const ptype = b[q];
    const plen = b[q + 1];
    q += 2;
    if (plen === 0 || q + plen > end) return "!option length 0 or past the entry end";
    const t = ptype & ~IPVS_OPT_F_PARAM;
    if (t === IPVS_OPT_SEQ_DATA || t === IPVS_OPT_PE_DATA || t === IPVS_OPT_PE_NAME) {
      if (seen & (1 << t)) return `!option ${t} found twice`;
      seen |= 1 << t;
    }
    if (t === IPVS_OPT_SEQ_DATA) {
      if (plen !== SEQ_DATA_LEN) return `!sequence option length ${plen}`;
      c.inSeq = readSeq(b, q, false);
      c.outSeq = readSeq(b, q + 12, false);
    } else if (t === IPVS_OPT_PE_DATA) {
      c.peData = b.slice(q, q + plen); // plen <= 255 = PE_DATA_MAXLEN by construction
    } else if (t === IPVS_OPT_PE_NAME) {
      if (plen > PE_NAME_MAXLEN) return `!engine name length ${plen}`;
      c.peName = String.fromCharCode(...b.subarray(q, q + plen));
    } else if (!(ptype & IPVS_OPT_F_PARAM)) {
      return `unknown mandatory option ${t}`;
    }
    q += plen;
  }
  if (c.peData && c.peName === undefined) return "persistence data without an engine name";
  return c;
}

// ---- Encoding -------------------------------------------------------------------------------

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

function put32(b: Uint8Array, o: number, v: number, le = false): void {
  if (le) {
    b[o] = v & 0xff;
    b[o + 1] = (v >>> 8) & 0xff;
    b[o + 2] = (v >>> 16) & 0xff;
    b[o + 3] = (v >>> 24) & 0xff;
  } else {
    b[o] = (v >>> 24) & 0xff;
    b[o + 1] = (v >>> 16) & 0xff;
    b[o + 2] = (v >>> 8) & 0xff;
    b[o + 3] = v & 0xff;
  }
}

const NO_SEQ: SyncSeq = { initSeq: 0, delta: 0, previousDelta: 0 };

function putSeq(b: Uint8Array, o: number, s: SyncSeq | undefined, le: boolean): void {
  const v = s ?? NO_SEQ;
  put32(b, o, v.initSeq, le);
  put32(b, o + 4, v.delta, le);
  put32(b, o + 8, v.previousDelta, le);
}

function checkConn(c: SyncConn): void {
  const alen = c.af === 10 ? 16 : 4;
  if (
    (c.af !== 2 && c.af !== 10) || c.caddr.length !== alen || c.vaddr.length !== alen ||
    c.daddr.length !== alen
  ) {
    throw new RangeError(`Cannot encode sync entry: address family ${c.af} and address lengths`);
  }
  if (c.peData && (c.peData.length === 0 || c.peData.length > PE_DATA_MAXLEN)) {
    throw new RangeError(`Cannot encode sync entry: PE data length ${c.peData.length}`);
  }
  if (c.peName !== undefined && (c.peName.length === 0 || c.peName.length > PE_NAME_MAXLEN)) {
    throw new RangeError(`Cannot encode sync entry: PE name length ${c.peName.length}`);
  }
}

/**
 * Bytes entry `c` takes in a message of `version` (without padding); 0 when that version
 * cannot carry it (IPv6 in v0).
 */
export function entryLen(c: SyncConn, version: 0 | 1): number {
  if (version === 0) {
    if (c.af !== 2) return 0;
    return (c.flags & CONN_F_SEQ_MASK) ? V0_ENTRY_SEQ_LEN : V0_ENTRY_LEN;
  }
  let n = c.af === 10 ? V1_ENTRY6_LEN : V1_ENTRY4_LEN;
  if (c.flags & CONN_F_SEQ_MASK) n += 2 + SEQ_DATA_LEN;
  if (c.peData && c.peData.length) {
    n += 2 + c.peData.length;
    if (c.peName) n += 2 + c.peName.length;
  }
  return n;
}

/** Writes entry `c` at `o` of `b` (entryLen(c, version) bytes); returns the end offset. */
export function emitEntry(c: SyncConn, version: 0 | 1, b: Uint8Array, o: number): number {
  checkConn(c);
  const len = entryLen(c, version);
  if (len === 0) throw new RangeError("Cannot encode sync entry: v0 carries IPv4 only");
  b.fill(0, o, o + len);
  const flags = c.flags & ~CONN_F_HASHED;
  if (version === 0) {
    b[o + 1] = c.protocol;
    put16(b, o + 2, c.cport);
    put16(b, o + 4, c.vport);
    put16(b, o + 6, c.dport);
    b.set(c.caddr, o + 8);
    b.set(c.vaddr, o + 12);
    b.set(c.daddr, o + 16);
    put16(b, o + 20, flags & 0xffff);
    put16(b, o + 22, c.state);
    if (flags & CONN_F_SEQ_MASK) {
      // The kernel copies its in-memory struct: host order, little-endian on x86.
      putSeq(b, o + 24, c.inSeq, true);
      putSeq(b, o + 36, c.outSeq, true);
    }
    return o + len;
  }
  const alen = c.caddr.length;
  b[o] = c.af === 10 ? STYPE_F_INET6 : 0;
  b[o + 1] = c.protocol;
  put16(b, o + 2, len & SVER_MASK); // entry version 0
  put32(b, o + 4, flags);
  put16(b, o + 8, c.state);
  put16(b, o + 10, c.cport);
  put16(b, o + 12, c.vport);
  put16(b, o + 14, c.dport);
  put32(b, o + 16, c.fwmark);
  put32(b, o + 20, c.timeout);
  b.set(c.caddr, o + 24);
  b.set(c.vaddr, o + 24 + alen);
  b.set(c.daddr, o + 24 + 2 * alen);
  let q = o + 24 + 3 * alen;
  if (flags & CONN_F_SEQ_MASK) {
    b[q++] = IPVS_OPT_SEQ_DATA;
    b[q++] = SEQ_DATA_LEN;
    putSeq(b, q, c.inSeq, false);
    putSeq(b, q + 12, c.outSeq, false);
    q += SEQ_DATA_LEN;
  }
  if (c.peData && c.peData.length) {
    b[q++] = IPVS_OPT_PE_DATA;
    b[q++] = c.peData.length;
    b.set(c.peData, q);
    q += c.peData.length;
    if (c.peName) {
      b[q++] = IPVS_OPT_PE_NAME;
      b[q++] = c.peName.length;
      for (let i = 0; i < c.peName.length; i++) b[q++] = c.peName.charCodeAt(i) & 0xff;
    }
  }
  return q;
}

/** Options of a {@linkcode SyncBuilder}. */
export interface BuilderOptions {
  version: 0 | 1;
  syncid: number;
  /** Largest message (UDP payload); a single larger entry still goes alone, as in IPVS. */
  maxlen: number;
}

/**
 * Fills messages the way the kernel's master fills its sync buffer (ip_vs_sync_conn):
 * entries are appended until the next one (with its padding) would pass `maxlen`; then the
 * full message is handed back and a new one started. An entry larger than maxlen alone
 * makes a message of its own size.
 *
 * @example
 * ```ts
 * import { SyncBuilder, decodeMessage, type SyncConn } from "./wire.ts";
 * const b = new SyncBuilder({ version: 1, syncid: 1, maxlen: 1472 });
 * const c: SyncConn = { af: 2, protocol: 6, flags: 0x83, state: 1, cport: 50000, vport: 80,
 *   dport: 80, fwmark: 0, timeout: 900, caddr: Uint8Array.of(198, 51, 100, 10),
 *   vaddr: Uint8Array.of(203, 0, 113, 10), daddr: Uint8Array.of(192, 0, 2, 11) };
 * b.add(c);
 * const m = b.flush()!;
 * if (m.length !== 44 || !decodeMessage(m).ok) throw new Error();
 * ```
 */
export class SyncBuilder {
  readonly version: 0 | 1;
  readonly syncid: number;
  readonly maxlen: number;
  #buf: Uint8Array | null = null;
  #head = 0;
  #count = 0;
  #firstUse = 0;

  constructor(o: BuilderOptions) {
    if (o.version !== 0 && o.version !== 1) {
      throw new RangeError(`Cannot build version ${o.version}`);
    }
    this.version = o.version;
    this.syncid = o.syncid & 0xff;
    this.maxlen = Math.max(1, Math.floor(o.maxlen));
  }

  /** Entries in the open message. */
  get count(): number {
    return this.#count;
  }

  /** When the open message got its first entry (the `now` passed to add), or 0. */
  get firstUse(): number {
    return this.#count ? this.#firstUse : 0;
  }

  /**
   * Appends `c`. Returns the messages completed by this call (the open one when `c` does not
   * fit, or when the count byte is full): usually none. IPv6 entries are dropped in v0.
   */
  add(c: SyncConn, now = 0): Uint8Array[] {
    const len = entryLen(c, this.version);
    if (len === 0) return [];
    const out: Uint8Array[] = [];
    const hdr = this.version === 1 ? V1_HEADER_LEN : V0_HEADER_LEN;
    let pad = this.version === 1 ? (4 - this.#head) & 3 : 0;
    if (this.#buf && (this.#head + pad + len > this.#buf.length || this.#count === 255)) {
      out.push(this.flush()!);
      pad = 0;
    }
    if (!this.#buf) {
      // IPVS: max(maxlen, header + this entry), so one oversized entry still goes out.
      this.#buf = new Uint8Array(Math.max(this.maxlen, hdr + len));
      this.#head = hdr;
      this.#count = 0;
      this.#firstUse = now;
      pad = 0;
    }
    const b = this.#buf;
    b.fill(0, this.#head, this.#head + pad);
    this.#head = emitEntry(c, this.version, b, this.#head + pad);
    this.#count++;
    return out;
  }

  /** Closes the open message and returns it (null when it has no entry). */
  flush(): Uint8Array | null {
    if (!this.#buf || this.#count === 0) return null;
    const m = this.#buf.slice(0, this.#head);
    m.fill(0, 0, this.version === 1 ? V1_HEADER_LEN : V0_HEADER_LEN);
    const h = new SyncHeaderView(m);
    h.setSyncid(this.syncid);
    h.setSize(m.length);
    if (this.version === 1) {
      m[H_COUNT_V1] = this.#count;
      m[H_VERSION] = SYNC_PROTO_VER;
    } else {
      m[H_COUNT_V0] = this.#count;
    }
    this.#buf = null;
    this.#count = 0;
    this.#head = 0;
    return m;
  }
}

/**
 * Encodes a list of entries into as many messages as `maxlen` requires.
 *
 * @param conns the entries, in order
 * @param o version, syncid and maxlen
 * @returns the messages
 */
export function encodeMessages(conns: readonly SyncConn[], o: BuilderOptions): Uint8Array[] {
  const b = new SyncBuilder(o);
  const out: Uint8Array[] = [];
  for (const c of conns) out.push(...b.add(c));
  const last = b.flush();
  if (last) out.push(last);
  return out;
}
