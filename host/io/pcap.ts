// Classic libpcap capture files: a reader for the four classic variants (µs and ns
// timestamps, either byte order) and a writer of µs little-endian files.
// Runtime-agnostic. Mirrors the format of pcap-savefile(5) / draft-ietf-opsawg-pcap:
// a 24-byte global header, then records of a 16-byte header plus `inclLen` bytes.
// Invariants: the reader never copies frame bytes (records are views into the input)
// and rejects any header that does not fit; the writer never emits `inclLen > origLen`.

/** LINKTYPE_ETHERNET (DLT_EN10MB), the only link type replay accepts. */
export const LINKTYPE_ETHERNET = 1;

/** Size of the global (file) header. */
export const GLOBAL_HEADER_LEN = 24;
/** Size of each record header. */
export const RECORD_HEADER_LEN = 16;
/**
 * Largest record the reader accepts. Wireshark's limit for Ethernet
 * (WTAP_MAX_PACKET_SIZE_STANDARD); anything larger is a corrupt length field.
 */
export const MAX_RECORD_LEN = 262144;

const MAGIC_MICROS = 0xa1b2c3d4;
const MAGIC_NANOS = 0xa1b23c4d;
const MAGIC_PCAPNG = 0x0a0d0d0a;

/** The global header of a capture. */
export interface PcapHeader {
  versionMajor: number;
  versionMinor: number;
  snapLen: number;
  linkType: number;
  /** True when the fractional part of timestamps is nanoseconds. */
  nanos: boolean;
  littleEndian: boolean;
}

/** One captured frame. `data` is a view into the input buffer, not a copy. */
export interface PcapRecord {
  /** Capture time in microseconds since the epoch (nanosecond files are floored). */
  tsMicros: number;
  data: Uint8Array;
  /** Length of the frame on the wire (`data` may be shorter when the capture was snapped). */
  origLen: number;
}

/** A parsed capture: its header and every record, in file order. */
export interface PcapFile {
  header: PcapHeader;
  records: PcapRecord[];
}

function fail(reason: string): never {
  throw new Error(`Cannot read pcap: ${reason}`);
}

function hex32(v: number): string {
  return "0x" + (v >>> 0).toString(16).padStart(8, "0");
}

/**
 * Reads the global header of a classic pcap file.
 *
 * @param bytes the whole file (or at least its first 24 bytes)
 * @returns the header, with the byte order and timestamp unit detected from the magic
 * @throws Error "Cannot read pcap: ..." for a short file, pcapng, or an unknown magic
 */
export function readPcapHeader(bytes: Uint8Array): PcapHeader {
  if (bytes.length < GLOBAL_HEADER_LEN) {
    fail(`file is ${bytes.length} bytes, shorter than the ${GLOBAL_HEADER_LEN}-byte global header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const magicLe = dv.getUint32(0, true);
  const magicBe = dv.getUint32(0, false);
  let littleEndian: boolean;
  let nanos: boolean;
  if (magicLe === MAGIC_MICROS || magicLe === MAGIC_NANOS) {
    littleEndian = true;
    nanos = magicLe === MAGIC_NANOS;
  } else if (magicBe === MAGIC_MICROS || magicBe === MAGIC_NANOS) {
    littleEndian = false;
    nanos = magicBe === MAGIC_NANOS;
  } else if (magicBe === MAGIC_PCAPNG) {
    fail("this is a pcapng file; convert it first with `editcap -F pcap in.pcapng out.pcap`");
  } else {
    fail(`unknown magic ${hex32(magicBe)} (expected a1b2c3d4 or a1b23c4d in either byte order)`);
  }
  return {
    versionMajor: dv.getUint16(4, littleEndian),
    versionMinor: dv.getUint16(6, littleEndian),
    snapLen: dv.getUint32(16, littleEndian),
    // The upper 4 bits of the link-type word may carry FCS information; the
    // link type itself is the low 16 bits (draft-ietf-opsawg-pcap §4).
    linkType: dv.getUint32(20, littleEndian) & 0xffff,
    nanos,
    littleEndian,
  };
}

/**
 * Parses a classic pcap file held in memory.
 *
 * @param bytes the whole file
 * @returns the header and the records; record data are views into `bytes`
 * @throws Error "Cannot read pcap: ..." naming the record and offset of any truncation
 *
 * @example
 * ```ts
 * import { PcapWriter, readPcap } from "./pcap.ts";
 * const w = new PcapWriter();
 * w.write(1_500_000, new Uint8Array(60));
 * const { records } = readPcap(w.bytes());
 * if (records[0].tsMicros !== 1_500_000 || records[0].data.length !== 60) throw new Error();
 * ```
 */
export function readPcap(bytes: Uint8Array): PcapFile {
  const header = readPcapHeader(bytes);
  const le = header.littleEndian;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const fracLimit = header.nanos ? 1e9 : 1e6;
  const records: PcapRecord[] = [];
  let off = GLOBAL_HEADER_LEN;
  while (off < bytes.length) {
    const n = records.length + 1;
    if (bytes.length - off < RECORD_HEADER_LEN) {
      fail(
        `record ${n} at offset ${off} is truncated: ${bytes.length - off} bytes left, ` +
          `a record header needs ${RECORD_HEADER_LEN}`,
      );
    }
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const inclLen = dv.getUint32(off + 8, le);
    const origLen = dv.getUint32(off + 12, le);
    if (frac >= fracLimit) {
      fail(
        `record ${n} at offset ${off} has a ${header.nanos ? "nanosecond" : "microsecond"} ` +
          `field of ${frac}, which is not below ${fracLimit}`,
      );
    }
    if (inclLen > MAX_RECORD_LEN) {
      fail(
        `record ${n} at offset ${off} claims ${inclLen} bytes (the maximum is ${MAX_RECORD_LEN})`,
      );
    }
    const start = off + RECORD_HEADER_LEN;
    if (bytes.length - start < inclLen) {
      fail(
        `record ${n} at offset ${off} is truncated: its header says ${inclLen} bytes, ` +
          `${bytes.length - start} remain`,
      );
    }
    records.push({
      tsMicros: sec * 1e6 + (header.nanos ? Math.floor(frac / 1000) : frac),
      data: bytes.subarray(start, start + inclLen),
      origLen,
    });
    off = start + inclLen;
  }
  return { header, records };
}

/** Options of a {@linkcode PcapWriter}. */
export interface PcapWriterOptions {
  /** Link type of the file; LINKTYPE_ETHERNET by default. */
  linkType?: number;
  /** Snapshot length written in the header; 262144 by default. */
  snapLen?: number;
  /** Initial buffer size in bytes (it doubles as needed). */
  initialSize?: number;
}

/**
 * Builds a classic pcap file (magic a1b2c3d4, version 2.4, little-endian,
 * microsecond timestamps) in a growable in-memory buffer.
 *
 * @example
 * ```ts
 * import { PcapWriter } from "./pcap.ts";
 * const w = new PcapWriter();
 * w.write(0, Uint8Array.of(1, 2, 3));
 * if (w.bytes().length !== 24 + 16 + 3 || w.count !== 1) throw new Error();
 * ```
 */
export class PcapWriter {
  #buf: Uint8Array;
  #dv: DataView;
  #len = 0;
  #count = 0;
  readonly snapLen: number;

  constructor(options: PcapWriterOptions = {}) {
    this.snapLen = options.snapLen ?? MAX_RECORD_LEN;
    this.#buf = new Uint8Array(Math.max(options.initialSize ?? 65536, GLOBAL_HEADER_LEN));
    this.#dv = new DataView(this.#buf.buffer);
    const dv = this.#dv;
    dv.setUint32(0, MAGIC_MICROS, true);
    dv.setUint16(4, 2, true);
    dv.setUint16(6, 4, true);
    dv.setInt32(8, 0, true); // thiszone: timestamps are UTC
    dv.setUint32(12, 0, true); // sigfigs: always 0 in practice
    dv.setUint32(16, this.snapLen, true);
    dv.setUint32(20, options.linkType ?? LINKTYPE_ETHERNET, true);
    this.#len = GLOBAL_HEADER_LEN;
  }

  /** Number of records written so far. */
  get count(): number {
    return this.#count;
  }

  #reserve(extra: number): void {
    const need = this.#len + extra;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#dv = new DataView(next.buffer);
  }

  /**
   * Appends one record. Frames longer than the snapshot length are cut to it
   * and keep their full length as `origLen`.
   *
   * @param tsMicros capture time, microseconds since the epoch (a non-negative integer)
   * @param data the frame bytes (copied)
   * @param origLen length on the wire; `data.length` by default
   */
  write(tsMicros: number, data: Uint8Array, origLen = data.length): void {
    if (!Number.isSafeInteger(tsMicros) || tsMicros < 0) {
      throw new RangeError(
        `Cannot write pcap record: timestamp ${tsMicros} is not a non-negative integer`,
      );
    }
    const sec = Math.floor(tsMicros / 1e6);
    if (sec > 0xffffffff) {
      throw new RangeError(`Cannot write pcap record: timestamp ${tsMicros} is past 2106`);
    }
    const incl = Math.min(data.length, this.snapLen);
    this.#reserve(RECORD_HEADER_LEN + incl);
    const dv = this.#dv;
    const off = this.#len;
    dv.setUint32(off, sec, true);
    dv.setUint32(off + 4, tsMicros - sec * 1e6, true);
    dv.setUint32(off + 8, incl, true);
    dv.setUint32(off + 12, Math.max(origLen, incl), true);
    this.#buf.set(data.subarray(0, incl), off + RECORD_HEADER_LEN);
    this.#len = off + RECORD_HEADER_LEN + incl;
    this.#count++;
  }

  /** The file so far (a copy; the writer can keep appending). */
  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}
