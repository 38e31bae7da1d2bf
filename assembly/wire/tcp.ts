// TCP header (RFC 9293): the fields the balancer reads or rewrites.
//  0      2      4     8     12        13     14    16     18
//  +------+------+-----+-----+---------+------+-----+------+-----+
//  | sport| dport| seq | ack | doff/rsv| flags| win | csum | urg |
// Ports and the checksum stay in wire order.

export const TCP_SPORT: u32 = 0;
export const TCP_DPORT: u32 = 2;
export const TCP_DOFF: u32 = 12;
export const TCP_FLAGS: u32 = 13;
export const TCP_CSUM: u32 = 16;
export const TCP_HEADER_LEN: u32 = 20;

export const TCP_FIN: u32 = 0x01;
export const TCP_SYN: u32 = 0x02;
export const TCP_RST: u32 = 0x04;
export const TCP_ACK: u32 = 0x10;

/** Header length in bytes (data offset × 4). */
@inline export function tcpHeaderLen(l4: usize): u32 {
  return (<u32>load<u8>(l4, TCP_DOFF) >> 4) << 2;
}

@inline export function tcpFlags(l4: usize): u32 {
  return load<u8>(l4, TCP_FLAGS);
}
