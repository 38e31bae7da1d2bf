// ICMP (RFC 792) and ICMPv6 (RFC 4443) headers: the error types the balancer relays or
// generates. Mirrors assembly/wire/icmp.ts. After the checksum come 4 bytes (unused, the
// RFC 1191 next-hop MTU, or the ICMPv6 MTU), then as much of the offending packet as fits:
// 576 bytes in all for ICMPv4 (RFC 1812 §4.3.2.3), 1280 for ICMPv6 (RFC 4443 §2.4 (c)).
// Runtime-agnostic.

export const ICMP_TYPE = 0;
export const ICMP_CODE = 1;
export const ICMP_CHECKSUM = 2;
export const ICMP_REST = 4;
export const ICMP_HEADER_LEN = ICMP_REST + 4;

export const ICMP_DEST_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PORT_UNREACH = 3;
export const ICMP_FRAG_NEEDED = 4;
export const ICMP_EXC_TTL = 0;

export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_PKT_TOOBIG = 2;
export const ICMPV6_TIME_EXCEED = 3;
export const ICMPV6_INFOMSG_MASK = 0x80;
export const ICMPV6_PORT_UNREACH = 4;
/** Parameter problem and its code "unrecognized next header" (RFC 4443 §3.4). */
export const ICMPV6_PARAMPROB = 4;
export const ICMPV6_UNK_NEXTHDR = 1;
export const ICMPV6_EXC_HOPLIMIT = 0;

export const ICMP_ERROR_MAX = 576;
export const ICMP6_ERROR_MAX = 1280;
export const ICMP_TTL = 64;
export const ICMP_TOS = 0xc0;

/** True for the ICMPv4 types IPVS treats as errors about a connection. */
export function icmpIsRelayedError(type: number): boolean {
  return type === ICMP_DEST_UNREACH || type === ICMP_SOURCE_QUENCH || type === ICMP_TIME_EXCEEDED;
}

/** True for ICMPv6 error messages (types below 128). */
export function icmp6IsError(type: number): boolean {
  return (type & ICMPV6_INFOMSG_MASK) === 0;
}
