// Minimal Ethernet/IPv4/TCP frames for the simulated endpoints of the demo.
// Runtime-agnostic. Checksums are computed in full here (endpoints are not the
// hot path); the engine in between updates them incrementally.

const FLAG_BITS: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16 };

function csum(b: Uint8Array, start: number, end: number, init: number): number {
  let s = init;
  for (let i = start; i + 1 < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if ((end - start) & 1) s += b[end - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Builds one TCP segment with `len` payload bytes (zeros). */
export function tcpFrame(
  srcMac: Uint8Array,
  dstMac: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  sport: number,
  dport: number,
  flags: string,
  seq: number,
  ack: number,
  len: number,
): Uint8Array {
  const f = new Uint8Array(14 + 20 + 20 + len);
  const dv = new DataView(f.buffer);
  f.set(dstMac, 0);
  f.set(srcMac, 6);
  dv.setUint16(12, 0x0800);
  f[14] = 0x45;
  dv.setUint16(16, 40 + len);
  f[14 + 6] = 0x40; // DF, as Linux sends TCP
  f[14 + 8] = 64;
  f[14 + 9] = 6;
  f.set(src, 26);
  f.set(dst, 30);
  dv.setUint16(24, ~csum(f, 14, 34, 0) & 0xffff);
  dv.setUint16(34, sport);
  dv.setUint16(36, dport);
  dv.setUint32(38, seq >>> 0);
  dv.setUint32(42, ack >>> 0);
  f[46] = 0x50;
  let fl = 0;
  for (const c of flags) fl |= FLAG_BITS[c] ?? 0;
  if (ack) fl |= 16;
  f[47] = fl;
  dv.setUint16(48, 65535);
  const pseudo = csum(f, 26, 34, 6 + 20 + len);
  dv.setUint16(50, ~csum(f, 34, f.length, pseudo) & 0xffff);
  return f;
}

export interface TcpSummary {
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  flags: string;
  seq: number;
  len: number;
}

/** Reads the fields the endpoints need; undefined for anything but IPv4/TCP. */
export function readFrame(f: Uint8Array): TcpSummary | undefined {
  if (f.length < 54 || f[12] !== 8 || f[13] !== 0 || f[23] !== 6) return undefined;
  const dv = new DataView(f.buffer, f.byteOffset, f.length);
  const ihl = (f[14] & 15) * 4;
  const l4 = 14 + ihl;
  const fl = f[l4 + 13];
  const flags = (fl & 2 ? "S" : "") + (fl & 1 ? "F" : "") + (fl & 4 ? "R" : "") +
    (fl & 16 ? "A" : "");
  return {
    src: f.slice(26, 30),
    dst: f.slice(30, 34),
    sport: dv.getUint16(l4),
    dport: dv.getUint16(l4 + 2),
    flags,
    seq: dv.getUint32(l4 + 4),
    len: dv.getUint16(16) - ihl - (f[l4 + 12] >> 4) * 4,
  };
}
