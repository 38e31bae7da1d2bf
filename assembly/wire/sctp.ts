// SCTP common header and chunk header (RFC 9260 §3.1, §3.2) and its CRC32c checksum
// (RFC 9260 Appendix B: Castagnoli polynomial, reflected 0x82F63B78, the complement stored
// least significant byte first, computed with the checksum field zeroed).
//  0      2      4            8           12           13      14        16
//  +------+------+------------+-----------+------------+-------+---------+
//  | sport| dport| verif. tag | checksum  | chunk type | flags | length  | ...
export const SCTP_SPORT: u32 = 0;
export const SCTP_DPORT: u32 = 2;
export const SCTP_VTAG: u32 = 4;
export const SCTP_CSUM: u32 = 8;
export const SCTP_HEADER_LEN: u32 = SCTP_CSUM + 4;
export const CHUNK_TYPE: u32 = 0;
export const CHUNK_LEN: u32 = 2;
export const CHUNK_HEADER_LEN: u32 = CHUNK_LEN + 2;

export const SCTP_CID_INIT: u32 = 1;
export const SCTP_CID_ABORT: u32 = 6;
export const SCTP_CID_COOKIE_ECHO: u32 = 10;
export const SCTP_CID_COOKIE_ACK: u32 = 11;

/** Fills the 256-entry CRC32c table at `t` (u32 each). */
export function crc32cTable(t: usize): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0x82f63b78 : c >> 1;
    store<u32>(t + (<usize>i << 2), c);
  }
}

/** CRC32c of `len` bytes at `p` with table `t`, as the value to store (little-endian). */
export function crc32c(t: usize, p: usize, len: u32): u32 {
  let c: u32 = 0xffffffff;
  for (let i: u32 = 0; i < len; i++) {
    c = load<u32>(t + (<usize>((c ^ load<u8>(p + i)) & 0xff) << 2)) ^ (c >> 8);
  }
  return ~c;
}
