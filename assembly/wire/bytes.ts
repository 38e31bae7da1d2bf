// Byte-order helpers: the only place where wire (big-endian) order is converted.
// The hot path keeps addresses, ports and checksums in wire order, comparing and
// rewriting them as raw little-endian loads of the wire bytes (WebAssembly has no
// bswap opcode; see shared/spec/toolchain.md §4.3). These helpers are for the few
// fields that are needed as numbers: lengths, IDs and fragment flags.

/** Reads a big-endian u16 (a length or ID) as a number. */
@inline export function load16be(p: usize): u32 {
  return (<u32>load<u8>(p) << 8) | <u32>load<u8>(p, 1);
}

/** Writes a number as a big-endian u16. */
@inline export function store16be(p: usize, v: u32): void {
  store<u8>(p, <u8>(v >> 8));
  store<u8>(p, <u8>v, 1);
}

/** Swaps the two bytes of a u16 (turns a wire-order port into its number). */
@inline export function swap16(v: u32): u32 {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}

/** Copies 6 bytes (a MAC address). */
@inline export function copyMac(dst: usize, src: usize): void {
  store<u32>(dst, load<u32>(src));
  store<u16>(dst, load<u16>(src, 4), 4);
}

/** Copies 16 bytes (an IPv6 address). */
@inline export function copy16(dst: usize, src: usize): void {
  store<u64>(dst, load<u64>(src));
  store<u64>(dst, load<u64>(src, 8), 8);
}

/** Compares 16 bytes (two IPv6 addresses). */
@inline export function equal16(a: usize, b: usize): bool {
  return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8);
}
