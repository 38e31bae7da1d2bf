// IPv4 header (RFC 791). Offsets of the fixed 20-byte header; options follow it
// when IHL > 5. Addresses stay in wire order; see bytes.ts for numeric fields.
//  0      1     2        4    6          8    9      10     12    16    20
//  +------+-----+--------+----+----------+----+------+------+-----+-----+
//  |v/ihl | tos | totlen | id | flg/frag | ttl| proto| csum | src | dst |
import { load16be } from "./bytes";

export const IP4_VER_IHL: u32 = 0;
export const IP4_TOS: u32 = 1;
export const IP4_TOTLEN: u32 = 2;
export const IP4_ID: u32 = 4;
export const IP4_FRAG: u32 = 6;
export const IP4_TTL: u32 = 8;
export const IP4_PROTO: u32 = 9;
export const IP4_CSUM: u32 = 10;
export const IP4_SRC: u32 = 12;
export const IP4_DST: u32 = 16;
export const IP4_HEADER_LEN: u32 = IP4_DST + 4;

/** DF as a big-endian u16 of the flags/fragment word. */
export const IP4_DF: u32 = 0x4000;

@inline export function ip4Version(ip: usize): u32 {
  return <u32>load<u8>(ip) >> 4;
}

/** Header length in bytes (IHL × 4). */
@inline export function ip4HeaderLen(ip: usize): u32 {
  return (<u32>load<u8>(ip) & 0x0f) << 2;
}

@inline export function ip4TotalLen(ip: usize): u32 {
  return load16be(ip + IP4_TOTLEN);
}

/** True when DF is set (first byte of the flags word, bit 0x40). */
@inline export function ip4Df(ip: usize): bool {
  return (<u32>load<u8>(ip, IP4_FRAG) & 0x40) != 0;
}

/** True for any fragment: MF set or a non-zero fragment offset. */
@inline export function ip4IsFragment(ip: usize): bool {
  return ((<u32>load<u8>(ip, IP4_FRAG) & 0x3f) | <u32>load<u8>(ip, IP4_FRAG + 1)) != 0;
}

@inline export function ip4Ttl(ip: usize): u32 {
  return load<u8>(ip, IP4_TTL);
}

@inline export function ip4Protocol(ip: usize): u32 {
  return load<u8>(ip, IP4_PROTO);
}
