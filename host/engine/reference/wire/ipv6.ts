// IPv6 header (RFC 8200): field offsets, the extension headers the parser walks, and
// address text (RFC 5952). Mirrors assembly/wire/ipv6.ts. Runtime-agnostic.

export const IPV6_VER_TC_FLOW = 0;
export const IPV6_PAYLOAD_LEN = 4;
export const IPV6_NEXT_HEADER = 6;
export const IPV6_HOP_LIMIT = 7;
export const IPV6_SRC = 8;
export const IPV6_DST = 24;
export const IPV6_HEADER_LEN = IPV6_DST + 16;

/** Extension headers with the generic (next-header, length in 8-octet units - 1) shape. */
export const IPV6_EXT_HOP_BY_HOP = 0;
export const IPV6_EXT_ROUTING = 43;
export const IPV6_EXT_DEST_OPTS = 60;
export const IPV6_EXT_FRAGMENT = 44;
/** Longest extension chain the parser walks before giving up. */
export const IPV6_MAX_EXT_HEADERS = 8;

/** The traffic class of the header at `ip` (it straddles the first two bytes). */
export function trafficClass(b: Uint8Array, ip: number): number {
  return ((b[ip] & 0x0f) << 4) | (b[ip + 1] >>> 4);
}

/**
 * Formats an address held as 4 little-endian u32 words of its wire bytes, in RFC 5952
 * form: lowercase, the longest run of two or more zero groups shown as "::" (the first
 * one on a tie), no embedded dotted quad.
 */
export function formatIpv6(words: Uint32Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 4; i++) {
    const w = words[at + i];
    groups.push(((w & 0xff) << 8) | ((w >>> 8) & 0xff), (((w >>> 16) & 0xff) << 8) | (w >>> 24));
  }
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    groups.slice(from, to).map((g) => g.toString(16)).join(":");
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}
