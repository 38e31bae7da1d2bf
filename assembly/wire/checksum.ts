// The Internet checksum (RFC 1071) and its incremental update (RFC 1624 eqn 3:
// HC' = ~(~HC + ~m + m')). Everything works on raw little-endian loads of wire
// bytes: the one's-complement sum is byte-order independent (RFC 1071 §2(B)), so
// a checksum computed on swapped words is the swapped checksum and can be stored
// back as is. Partial sums are u64 accumulators of 16- or 32-bit words; since
// 2^16 ≡ 1 (mod 0xFFFF), adding a 32-bit word equals adding its two halves.

/** Adds `len` bytes at `p` to the partial sum `acc`; an odd last byte is zero-padded. */
export function csumPartial(p: usize, len: u32, acc: u64): u64 {
  let s = acc;
  let i: u32 = 0;
  while (i + 4 <= len) {
    s += <u64>load<u32>(p + i);
    i += 4;
  }
  if (i + 2 <= len) {
    s += <u64>load<u16>(p + i);
    i += 2;
  }
  if (i < len) s += <u64>load<u8>(p + i);
  return s;
}

/** Folds a partial sum to 16 bits with end-around carry. */
@inline export function csumFold(acc: u64): u32 {
  let s = acc;
  while (s >> 16 != 0) s = (s & 0xffff) + (s >> 16);
  return <u32>s;
}

/** The checksum field value for a partial sum: ~fold(sum). */
@inline export function csumFinish(acc: u64): u32 {
  return ~csumFold(acc) & 0xffff;
}

/** Starts an incremental update from the checksum field's current value (~HC). */
@inline export function csumUpdateStart(check: u32): u64 {
  return <u64>(~check & 0xffff);
}

/** Adds the change of one 16-bit word (~m + m'). */
@inline export function csumUpdate16(acc: u64, oldWord: u32, newWord: u32): u64 {
  return acc + <u64>(~oldWord & 0xffff) + <u64>(newWord & 0xffff);
}

/** Adds the change of one 32-bit word (two 16-bit words at once). */
@inline export function csumUpdate32(acc: u64, oldWord: u32, newWord: u32): u64 {
  return acc + <u64>(~oldWord) + <u64>newWord;
}

/** Adds the change of a 16-byte field (an IPv6 address) from `oldP` to `newP`. */
@inline export function csumUpdate128(acc: u64, oldP: usize, newP: usize): u64 {
  let s = acc;
  s = csumUpdate32(s, load<u32>(oldP), load<u32>(newP));
  s = csumUpdate32(s, load<u32>(oldP, 4), load<u32>(newP, 4));
  s = csumUpdate32(s, load<u32>(oldP, 8), load<u32>(newP, 8));
  s = csumUpdate32(s, load<u32>(oldP, 12), load<u32>(newP, 12));
  return s;
}

/** True when a header's checksum verifies (the sum over it folds to 0xFFFF). */
@inline export function csumVerifies(p: usize, len: u32): bool {
  return csumFold(csumPartial(p, len, 0)) == 0xffff;
}

/**
 * csumVerifies for an IPv4 header (`len` = IHL × 4, 20..60): the usual 20 bytes
 * as five straight-line loads and a fixed three-step fold, options by the loop.
 * Five 32-bit words sum below 2^35: the first step leaves < 2^32 + 8, the next
 * two bring it to 16 bits with the carries folded back.
 */
@inline export function csumVerifiesIp4(p: usize, len: u32): bool {
  let s = <u64>load<u32>(p) + <u64>load<u32>(p, 4) + <u64>load<u32>(p, 8) +
    <u64>load<u32>(p, 12) + <u64>load<u32>(p, 16);
  if (len > 20) s = csumPartial(p + 20, len - 20, s);
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return s == 0xffff;
}

/** Writes a full IPv4 header checksum over `len` bytes at `ip` (field at +10). */
export function csumIp4Header(ip: usize, len: u32): void {
  store<u16>(ip, 0, 10);
  store<u16>(ip, <u16>csumFinish(csumPartial(ip, len, 0)), 10);
}
