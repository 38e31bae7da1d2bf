// IPv6 header (RFC 8200) and the extension headers the parser walks.
//  0               4       6    7    8     24    40
//  +---------------+-------+----+----+-----+-----+
//  | v/tc/flow     | plen  | nh | hop| src | dst |
// Extension headers 0 (hop-by-hop), 43 (routing) and 60 (destination options) are
// skipped by their length byte; 44 (fragment) is a fragment (ARCHITECTURE.md step 4).
import { load16be } from "./bytes";

export const IP6_VER_TC: u32 = 0;
export const IP6_PLEN: u32 = 4;
export const IP6_NEXT: u32 = 6;
export const IP6_HOP_LIMIT: u32 = 7;
export const IP6_SRC: u32 = 8;
export const IP6_DST: u32 = 24;
export const IP6_HEADER_LEN: u32 = IP6_DST + 16;

export const NEXTHDR_HOP: u32 = 0;
export const NEXTHDR_ROUTING: u32 = 43;
export const NEXTHDR_FRAGMENT: u32 = 44;
export const NEXTHDR_DEST: u32 = 60;
/** More extension headers than this is a malformed chain. */
export const IP6_EXT_MAX: u32 = 8;
/** The smallest extension header: (0 + 1) × 8 bytes. */
export const IP6_EXT_MIN_LEN: u32 = 8;

@inline export function ip6Version(ip: usize): u32 {
  return <u32>load<u8>(ip) >> 4;
}

@inline export function ip6PayloadLen(ip: usize): u32 {
  return load16be(ip + IP6_PLEN);
}

/** Traffic class: the 8 bits after the version nibble. */
@inline export function ip6TrafficClass(ip: usize): u32 {
  return ((<u32>load<u8>(ip) & 0x0f) << 4) | (<u32>load<u8>(ip, 1) >> 4);
}

@inline export function ip6HopLimit(ip: usize): u32 {
  return load<u8>(ip, IP6_HOP_LIMIT);
}

/** True for the extension headers that are skipped by their length byte. */
@inline export function ip6IsSkippableExt(nh: u32): bool {
  return nh == NEXTHDR_HOP || nh == NEXTHDR_ROUTING || nh == NEXTHDR_DEST;
}

/** Length of the extension header at `p`: (Hdr Ext Len + 1) × 8 bytes. */
@inline export function ip6ExtLen(p: usize): u32 {
  return (<u32>load<u8>(p, 1) + 1) << 3;
}
