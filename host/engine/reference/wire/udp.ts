// UDP header (RFC 768): field offsets. Mirrors assembly/wire/udp.ts.
// "An all zero transmitted checksum value means that the transmitter generated no
// checksum" (RFC 768): proto/udp.ts handles that case when NAT rewrites a datagram.
// Runtime-agnostic.

export const UDP_SRC_PORT = 0;
export const UDP_DST_PORT = 2;
export const UDP_LENGTH = 4;
export const UDP_CHECKSUM = 6;
export const UDP_HEADER_LEN = UDP_CHECKSUM + 2;
