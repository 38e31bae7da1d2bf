// IPv4 header (RFC 791): field offsets, flag masks and address text.
// Mirrors assembly/wire/ipv4.ts. Options are skipped by IHL, never parsed (IPVS does not
// read them either). Runtime-agnostic.

export const IPV4_VER_IHL = 0;
export const IPV4_TOS = 1;
export const IPV4_TOTAL_LEN = 2;
export const IPV4_ID = 4;
export const IPV4_FRAG = 6;
export const IPV4_TTL = 8;
export const IPV4_PROTOCOL = 9;
export const IPV4_CHECKSUM = 10;
export const IPV4_SRC = 12;
export const IPV4_DST = 16;
export const IPV4_HEADER_LEN = IPV4_DST + 4;

/** Flag bits of the 16-bit flags/fragment-offset word (host order). */
export const IPV4_DF = 0x4000;
export const IPV4_MF = 0x2000;
export const IPV4_FRAG_OFF_MASK = 0x1fff;
/** The DF bit as seen in the first byte of that word. */
export const IPV4_DF_BYTE = 0x40;

/** Formats an address held as a little-endian u32 of its wire bytes ("192.0.2.1"). */
export function formatIpv4(w: number): string {
  return `${w & 0xff}.${(w >>> 8) & 0xff}.${(w >>> 16) & 0xff}.${w >>> 24}`;
}
