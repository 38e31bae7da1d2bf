// UDP header (RFC 768). A zero checksum means "none" on IPv4; a computed
// checksum of zero is sent as 0xFFFF ("If the computed checksum is zero, it is
// transmitted as all ones"), which is the same value in either byte order.
import { load16be } from "./bytes";

export const UDP_SPORT: u32 = 0;
export const UDP_DPORT: u32 = 2;
export const UDP_LEN: u32 = 4;
export const UDP_CSUM: u32 = 6;
export const UDP_HEADER_LEN: u32 = UDP_CSUM + 2;

@inline export function udpLength(l4: usize): u32 {
  return load16be(l4 + UDP_LEN);
}

/** Maps a computed checksum of 0 to 0xFFFF (RFC 768). */
@inline export function udpCsumOut(c: u32): u32 {
  return c == 0 ? 0xffff : c;
}
