// Ethernet II header with an optional 802.1Q tag: offsets and ethertypes.
// Mirrors assembly/wire/ethernet.ts (IPVS itself leaves L2 to the kernel's neighbour
// output, ip_vs_xmit.c). Runtime-agnostic.

export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;
export const ETH_HEADER_LEN = ETH_TYPE + 2;
/** With an 802.1Q tag the real ethertype follows the 2-byte TCI. */
export const VLAN_INNER_TYPE = 16;
export const VLAN_HEADER_LEN = VLAN_INNER_TYPE + 2;
export const MAC_LEN = 6;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
