// ICMP (RFC 792) and ICMPv6 (RFC 4443) headers: the error types the balancer relays or
// generates. Every error carries 4 bytes after the checksum (unused, or the next-hop MTU of
// RFC 1191, or the ICMPv6 MTU) and then as much of the offending packet as fits.
//  0      1      2       4                  8
//  +------+------+-------+------------------+---------------------------+
//  | type | code | csum  | unused / mtu     | quoted IP header + data   |
// ICMPv4 errors quote up to 576 bytes in all (RFC 1812 §4.3.2.3); ICMPv6 up to the
// minimum IPv6 MTU, 1280 (RFC 4443 §2.4 (c)).

export const ICMP_TYPE: u32 = 0;
export const ICMP_CODE: u32 = 1;
export const ICMP_CSUM: u32 = 2;
/** The 4 bytes after the checksum: unused, or (RFC 1191) 2 unused + the next-hop MTU. */
export const ICMP_REST: u32 = 4;
export const ICMP_HEADER_LEN: u32 = ICMP_REST + 4;

// ICMPv4 types and codes (ip_vs_in_icmp relays only these three error types).
export const ICMP_DEST_UNREACH: u32 = 3;
export const ICMP_SOURCE_QUENCH: u32 = 4;
export const ICMP_TIME_EXCEEDED: u32 = 11;
export const ICMP_PORT_UNREACH: u32 = 3;
export const ICMP_FRAG_NEEDED: u32 = 4;
export const ICMP_EXC_TTL: u32 = 0;

// ICMPv6 types and codes; types >= 128 are informational (echo, neighbour discovery).
export const ICMPV6_DEST_UNREACH: u32 = 1;
export const ICMPV6_PKT_TOOBIG: u32 = 2;
export const ICMPV6_TIME_EXCEED: u32 = 3;
export const ICMPV6_INFOMSG_MASK: u32 = 0x80;
export const ICMPV6_PORT_UNREACH: u32 = 4;
/** Parameter problem and its code "unrecognized next header" (RFC 4443 §3.4). */
export const ICMPV6_PARAMPROB: u32 = 4;
export const ICMPV6_UNK_NEXTHDR: u32 = 1;
export const ICMPV6_EXC_HOPLIMIT: u32 = 0;

/** Whole ICMPv4 error datagram at most (RFC 1812), and the whole ICMPv6 one (RFC 4443). */
export const ICMP_ERROR_MAX: u32 = 576;
export const ICMP6_ERROR_MAX: u32 = 1280;
/** TTL / hop limit and TOS of generated errors (Linux: ip_default_ttl; IPTOS_PREC_INTERNETCONTROL). */
export const ICMP_TTL: u32 = 64;
export const ICMP_TOS: u32 = 0xc0;

@inline export function icmpType(p: usize): u32 {
  return load<u8>(p, ICMP_TYPE);
}

@inline export function icmpCode(p: usize): u32 {
  return load<u8>(p, ICMP_CODE);
}

/** True for the ICMPv4 types IPVS treats as errors about a connection. */
@inline export function icmpIsRelayedError(type: u32): bool {
  return type == ICMP_DEST_UNREACH || type == ICMP_SOURCE_QUENCH || type == ICMP_TIME_EXCEEDED;
}

/** True for ICMPv6 error messages (types below 128). */
@inline export function icmp6IsError(type: u32): bool {
  return (type & ICMPV6_INFOMSG_MASK) == 0;
}
