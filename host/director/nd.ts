// IPv6 neighbour discovery (RFC 4861): parse neighbour solicitations and
// advertisements, build them. Runtime-agnostic. Only what a director needs:
// NS/NA with a link-layer address option, no extension headers before ICMPv6.
// RFC 4861 §7.1: "The IP Hop Limit field has a value of 255" — anything else
// may have been forwarded by a router and is ignored, as is a bad checksum.

export const ETH_P_IPV6 = 0x86dd;
export const IPPROTO_ICMPV6 = 58;
export const ND_NEIGHBOR_SOLICIT = 135;
export const ND_NEIGHBOR_ADVERT = 136;
export const NA_FLAG_ROUTER = 0x80;
export const NA_FLAG_SOLICITED = 0x40;
export const NA_FLAG_OVERRIDE = 0x20;
const OPT_SOURCE_LLADDR = 1;
const OPT_TARGET_LLADDR = 2;
const ETH_HLEN = 14;
const IP6_HLEN = 40;
/** ICMPv6 NS/NA body: type, code, checksum, flags/reserved, target. */
const ND_LEN = 24;
/** Ethernet + IPv6 + NS/NA + one 8-byte link-layer address option. */
export const ND_FRAME_LEN = ETH_HLEN + IP6_HLEN + ND_LEN + 8;

export const ALL_NODES: Uint8Array = Uint8Array.from([0xff, 0x02, ...new Array(13).fill(0), 1]);

/** A parsed NS or NA. */
export interface NdRepr {
  type: number;
  /** IPv6 source and destination of the packet. */
  src: Uint8Array;
  dst: Uint8Array;
  target: Uint8Array;
  /** NA flags byte (R, S, O); 0 for NS. */
  flags: number;
  /** Source (NS) or target (NA) link-layer address option, if present. */
  lladdr: Uint8Array | null;
  /** Ethernet source of the frame. */
  ethSrc: Uint8Array;
}

function sum16(b: Uint8Array, from: number, to: number, acc: number): number {
  let i = from;
  for (; i + 1 < to; i += 2) acc += (b[i] << 8) | b[i + 1];
  if (i < to) acc += b[i] << 8;
  return acc;
}

/** ICMPv6 checksum over the IPv6 pseudo-header and `f[l4, l4 + len)`. */
function icmp6Checksum(f: Uint8Array, l3: number, l4: number, len: number): number {
  let s = sum16(f, l3 + 8, l3 + 40, 0) + len + IPPROTO_ICMPV6;
  s = sum16(f, l4, l4 + len, s);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

/** True when `a` is the unspecified address `::` (duplicate address detection). */
export function isUnspecified(a: Uint8Array): boolean {
  return a.every((x) => x === 0);
}

/** Parses an NS or NA in Ethernet frame `f` (untagged or one 802.1Q tag); null otherwise. */
export function parseNd(f: Uint8Array): NdRepr | null {
  let l3 = ETH_HLEN;
  if (f.length >= 18 && f[12] === 0x81 && f[13] === 0x00) l3 = 18;
  if (f.length < l3 + IP6_HLEN + ND_LEN || ((f[l3 - 2] << 8) | f[l3 - 1]) !== ETH_P_IPV6) {
    return null;
  }
  if (f[l3] >> 4 !== 6 || f[l3 + 6] !== IPPROTO_ICMPV6 || f[l3 + 7] !== 255) return null;
  const plen = (f[l3 + 4] << 8) | f[l3 + 5];
  const l4 = l3 + IP6_HLEN;
  if (plen < ND_LEN || l4 + plen > f.length) return null;
  const type = f[l4];
  if ((type !== ND_NEIGHBOR_SOLICIT && type !== ND_NEIGHBOR_ADVERT) || f[l4 + 1] !== 0) return null;
  if (icmp6Checksum(f, l3, l4, plen) !== 0) return null;
  const want = type === ND_NEIGHBOR_SOLICIT ? OPT_SOURCE_LLADDR : OPT_TARGET_LLADDR;
  let lladdr: Uint8Array | null = null;
  for (let o = l4 + ND_LEN; o + 2 <= l4 + plen;) {
    const olen = f[o + 1] * 8;
    if (olen === 0 || o + olen > l4 + plen) return null; // RFC 4861 §4.6: length 0 is invalid
    if (f[o] === want && olen >= 8) lladdr = f.slice(o + 2, o + 8);
    o += olen;
  }
  return {
    type,
    src: f.slice(l3 + 8, l3 + 24),
    dst: f.slice(l3 + 24, l3 + 40),
    target: f.slice(l4 + 8, l4 + 24),
    flags: type === ND_NEIGHBOR_ADVERT ? f[l4 + 4] : 0,
    lladdr,
    ethSrc: f.slice(6, 12),
  };
}

/** The solicited-node multicast address of `a` (RFC 4291 §2.7.1): ff02::1:ffXX:XXXX. */
export function solicitedNode(a: Uint8Array): Uint8Array {
  const m = new Uint8Array(16);
  m.set([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]);
  m.set(a.subarray(13, 16), 13);
  return m;
}

/** The Ethernet multicast address of IPv6 multicast `a` (RFC 2464 §7): 33:33 + low 32 bits. */
export function multicastMac(a: Uint8Array): Uint8Array {
  return Uint8Array.from([0x33, 0x33, a[12], a[13], a[14], a[15]]);
}

function emitNd(
  ethDst: Uint8Array,
  mac: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  type: number,
  flags: number,
  target: Uint8Array,
): Uint8Array {
  const f = new Uint8Array(ND_FRAME_LEN);
  f.set(ethDst.subarray(0, 6), 0);
  f.set(mac.subarray(0, 6), 6);
  f[12] = ETH_P_IPV6 >> 8;
  f[13] = ETH_P_IPV6 & 0xff;
  const l3 = ETH_HLEN;
  const plen = ND_LEN + 8;
  f[l3] = 0x60;
  f[l3 + 4] = plen >> 8;
  f[l3 + 5] = plen & 0xff;
  f[l3 + 6] = IPPROTO_ICMPV6;
  f[l3 + 7] = 255;
  f.set(src, l3 + 8);
  f.set(dst, l3 + 24);
  const l4 = l3 + IP6_HLEN;
  f[l4] = type;
  f[l4 + 4] = flags;
  f.set(target, l4 + 8);
  f[l4 + ND_LEN] = type === ND_NEIGHBOR_SOLICIT ? OPT_SOURCE_LLADDR : OPT_TARGET_LLADDR;
  f[l4 + ND_LEN + 1] = 1;
  f.set(mac.subarray(0, 6), l4 + ND_LEN + 2);
  const c = icmp6Checksum(f, l3, l4, plen);
  f[l4 + 2] = c >> 8;
  f[l4 + 3] = c & 0xff;
  return f;
}

/** "Who has `target`?" from `src`, to the target's solicited-node group. */
export function neighborSolicitation(
  mac: Uint8Array,
  src: Uint8Array,
  target: Uint8Array,
): Uint8Array {
  const dst = solicitedNode(target);
  return emitNd(multicastMac(dst), mac, src, dst, ND_NEIGHBOR_SOLICIT, 0, target);
}

/**
 * The answer to solicitation `ns`: `mac` has `ns.target`. RFC 4861 §7.2.4: a
 * solicitation from `::` (duplicate address detection) is answered to all-nodes
 * with S clear; otherwise unicast to the asker with S set.
 */
export function neighborAdvertisement(mac: Uint8Array, ns: NdRepr): Uint8Array {
  if (isUnspecified(ns.src)) {
    return emitNd(
      multicastMac(ALL_NODES),
      mac,
      ns.target,
      ALL_NODES,
      ND_NEIGHBOR_ADVERT,
      NA_FLAG_OVERRIDE,
      ns.target,
    );
  }
  const ethDst = ns.lladdr ?? ns.ethSrc;
  const flags = NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE;
  return emitNd(ethDst, mac, ns.target, ns.src, ND_NEIGHBOR_ADVERT, flags, ns.target);
}

/** An unsolicited advertisement (RFC 4861 §7.2.6) announcing that `mac` now has `target`. */
export function unsolicitedAdvertisement(mac: Uint8Array, target: Uint8Array): Uint8Array {
  return emitNd(
    multicastMac(ALL_NODES),
    mac,
    target,
    ALL_NODES,
    ND_NEIGHBOR_ADVERT,
    NA_FLAG_OVERRIDE,
    target,
  );
}
