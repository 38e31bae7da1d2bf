// SCTP common header and chunk header (RFC 9260 §3.1, §3.2) and the CRC32c checksum
// (RFC 9260 Appendix B: Castagnoli, reflected 0x82F63B78, complement stored least
// significant byte first). Mirrors assembly/wire/sctp.ts. Runtime-agnostic.

export const SCTP_SPORT = 0;
export const SCTP_DPORT = 2;
export const SCTP_CHECKSUM = 8;
export const SCTP_HEADER_LEN = 12;
export const CHUNK_HEADER_LEN = 4;
export const SCTP_CID_INIT = 1;
export const SCTP_CID_ABORT = 6;
export const SCTP_CID_COOKIE_ECHO = 10;
export const SCTP_CID_COOKIE_ACK = 11;

/** The CRC32c table (a constant). */
export const CRC32C_TABLE: Uint32Array = Uint32Array.from({ length: 256 }, (_, i) => {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});

/** CRC32c of `len` bytes at `at`, as the value to store (little-endian). */
export function crc32c(u8: Uint8Array, at: number, len: number): number {
  const t = CRC32C_TABLE;
  let c = 0xffffffff;
  for (let i = 0; i < len; i++) c = t[(c ^ u8[at + i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
