// Ethernet II header with an optional IEEE 802.1Q tag.
//  0        6        12     14
//  +--------+--------+------+             untagged: IP header at 14
//  | dst    | src    | type |
//  +--------+--------+------+------+------+
//  | dst    | src    | 8100 | TCI  | type |  802.1Q: IP header at 18
// Ethertypes are compared as raw little-endian loads of the wire bytes (`*_WIRE`).

export const ETH_DST: u32 = 0;
export const ETH_SRC: u32 = 6;
export const ETH_TYPE: u32 = 12;
export const ETH_HEADER_LEN: u32 = ETH_TYPE + 2;
/** Ethertype of the tagged frame (after TPID and TCI). */
export const VLAN_TYPE: u32 = 16;
export const VLAN_HEADER_LEN: u32 = VLAN_TYPE + 2;

/** 0x0800, 0x86DD and 0x8100 as a little-endian u16 load of their wire bytes sees them. */
export const ETH_P_IP_WIRE: u32 = 0x0008;
export const ETH_P_IPV6_WIRE: u32 = 0xdd86;
export const ETH_P_8021Q_WIRE: u32 = 0x0081;

/** The ethertype at `off` (12, or 16 inside a VLAN tag), raw. */
@inline export function etherType(frame: usize, off: u32): u32 {
  return load<u16>(frame + off);
}
