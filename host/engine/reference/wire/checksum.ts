// The Internet checksum (RFC 1071) and its incremental update (RFC 1624 eqn 3:
// HC' = ~(~HC + ~m + m')). Mirrors assembly/wire/checksum.ts; IPVS does the same in
// ip_vs_proto_tcp.c tcp_fast_csum_update. Runtime-agnostic.
// Words are little-endian loads of wire bytes. The one's-complement sum is byte-order
// independent (RFC 1071 §2(B)): a sum over swapped words is the swapped sum, so a checksum
// computed and stored back in that domain is byte-identical, and no swaps are needed.
// Partial sums are plain numbers that stay far below 2^31 for any frame (≤ 960 words).

/** Folds a partial sum (< 2^32) to 16 bits with end-around carry: 0 only for a zero sum. */
export function fold(sum: number): number {
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/** The checksum field value for a partial sum: ~fold(sum). */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** Adds `len` bytes at `off` to the partial sum `acc`; an odd last byte is zero-padded. */
export function sumBytes(dv: DataView, off: number, len: number, acc: number): number {
  const end4 = off + (len & ~3);
  for (; off < end4; off += 4) {
    const w = dv.getUint32(off, true);
    acc += (w & 0xffff) + (w >>> 16);
  }
  if (len & 2) {
    acc += dv.getUint16(off, true);
    off += 2;
  }
  // In little-endian words the padded last byte is the low byte of its word.
  if (len & 1) acc += dv.getUint8(off);
  return acc;
}

/** Sum of an IPv4 header of `hl` bytes (a multiple of 4): unrolled for the usual 20. */
export function sumHeader(dv: DataView, ip: number, hl: number): number {
  if (hl !== 20) return sumBytes(dv, ip, hl, 0);
  const a = dv.getUint32(ip, true);
  const b = dv.getUint32(ip + 4, true);
  const c = dv.getUint32(ip + 8, true);
  const d = dv.getUint32(ip + 12, true);
  const e = dv.getUint32(ip + 16, true);
  return (a & 0xffff) + (a >>> 16) + (b & 0xffff) + (b >>> 16) + (c & 0xffff) + (c >>> 16) +
    (d & 0xffff) + (d >>> 16) + (e & 0xffff) + (e >>> 16);
}

/** RFC 1624 terms (~m + m') for one 16-bit word changing from `old` to `neu`. */
export function delta16(old: number, neu: number): number {
  return (~old & 0xffff) + (neu & 0xffff);
}

/** RFC 1624 terms for a 32-bit field (two 16-bit words) changing from `old` to `neu`. */
export function delta32(old: number, neu: number): number {
  return (~old & 0xffff) + (~old >>> 16) + (neu & 0xffff) + (neu >>> 16);
}

/** Applies summed RFC 1624 terms to a checksum field value: ~(~HC + Σ(~m + m')). */
export function update(check: number, delta: number): number {
  return finish((~check & 0xffff) + delta);
}

/**
 * The naive oracle: RFC 1071 over big-endian words of `bytes`, returned as the number
 * that goes on the wire. Kept for tests and benches (house style G6), never on the path.
 */
export function checksumNaive(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    sum += (bytes[i] << 8) | (i + 1 < bytes.length ? bytes[i + 1] : 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}
