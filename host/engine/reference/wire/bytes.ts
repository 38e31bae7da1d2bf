// Byte-order helpers for the reference engine: the only place wire order is converted.
// Mirrors assembly/wire/bytes.ts. The hot path keeps addresses, ports and checksums as
// little-endian loads of wire bytes (keys, not numbers), so it needs no byte swaps; these
// helpers are for the few fields used as numbers (lengths, IDs, ethertypes, ports in dumps).
// Runtime-agnostic.

/** Reads a big-endian u16 (a length, ID or ethertype) as a number. */
export function load16be(b: Uint8Array, off: number): number {
  return (b[off] << 8) | b[off + 1];
}

/** Writes a number as a big-endian u16. */
export function store16be(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 8;
  b[off + 1] = v;
}

/** Swaps the two bytes of a u16: a wire-order port (read little-endian) to its number. */
export function swap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}
