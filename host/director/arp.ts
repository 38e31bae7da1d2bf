// ARP for Ethernet/IPv4 (RFC 826): parse a frame, build requests, replies and
// gratuitous announcements. Runtime-agnostic. Mirrors what the kernel's
// net/ipv4/arp.c puts on the wire: 28-byte payload, frames padded to the
// 60-byte Ethernet minimum, a gratuitous ARP is a broadcast request whose
// sender and target protocol addresses are both the announced address.

export const ETH_P_ARP = 0x0806;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
/** Ethernet header + ARP payload, padded to the minimum frame size. */
export const ARP_FRAME_LEN = 60;
const ETH_HLEN = 14;
const ARP_LEN = 28;

export const BROADCAST_MAC: Uint8Array = new Uint8Array(6).fill(0xff);
const ZERO_MAC = new Uint8Array(6);

/** An ARP packet's fields (Ethernet hardware, IPv4 protocol only). */
export interface ArpRepr {
  op: number;
  /** Sender hardware and protocol addresses. */
  sha: Uint8Array;
  spa: Uint8Array;
  /** Target hardware and protocol addresses. */
  tha: Uint8Array;
  tpa: Uint8Array;
}

/**
 * Parses the ARP packet in Ethernet frame `f` (untagged or one 802.1Q tag).
 * Returns null for anything but Ethernet/IPv4 ARP of sufficient length.
 * The returned addresses are copies.
 */
export function parseArp(f: Uint8Array): ArpRepr | null {
  if (f.length < ETH_HLEN) return null;
  let p = 12;
  if (f[p] === 0x81 && f[p + 1] === 0x00) p += 4;
  if (f.length < p + 2 + ARP_LEN || ((f[p] << 8) | f[p + 1]) !== ETH_P_ARP) return null;
  const a = p + 2;
  // htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4.
  if (
    f[a] !== 0 || f[a + 1] !== 1 || f[a + 2] !== 0x08 || f[a + 3] !== 0 || f[a + 4] !== 6 ||
    f[a + 5] !== 4
  ) {
    return null;
  }
  return {
    op: (f[a + 6] << 8) | f[a + 7],
    sha: f.slice(a + 8, a + 14),
    spa: f.slice(a + 14, a + 18),
    tha: f.slice(a + 18, a + 24),
    tpa: f.slice(a + 24, a + 28),
  };
}

/** Writes an untagged ARP frame to `dst` (Ethernet destination) from `src`. */
export function emitArp(dst: Uint8Array, src: Uint8Array, r: ArpRepr): Uint8Array {
  const f = new Uint8Array(ARP_FRAME_LEN);
  f.set(dst.subarray(0, 6), 0);
  f.set(src.subarray(0, 6), 6);
  f[12] = ETH_P_ARP >> 8;
  f[13] = ETH_P_ARP & 0xff;
  f.set([0, 1, 0x08, 0, 6, 4, r.op >> 8, r.op & 0xff], ETH_HLEN);
  f.set(r.sha.subarray(0, 6), ETH_HLEN + 8);
  f.set(r.spa.subarray(0, 4), ETH_HLEN + 14);
  f.set(r.tha.subarray(0, 6), ETH_HLEN + 18);
  f.set(r.tpa.subarray(0, 4), ETH_HLEN + 24);
  return f;
}

/** "Who has `tpa`? Tell `spa`", broadcast. */
export function arpRequest(mac: Uint8Array, spa: Uint8Array, tpa: Uint8Array): Uint8Array {
  return emitArp(BROADCAST_MAC, mac, { op: ARP_REQUEST, sha: mac, spa, tha: ZERO_MAC, tpa });
}

/** The answer to request `req`: `mac` has `req.tpa`, sent unicast to the asker. */
export function arpReply(mac: Uint8Array, req: ArpRepr): Uint8Array {
  return emitArp(req.sha, mac, {
    op: ARP_REPLY,
    sha: mac,
    spa: req.tpa,
    tha: req.sha,
    tpa: req.spa,
  });
}

/** A gratuitous ARP announcing that `mac` now has `ip` (updates peers' caches). */
export function gratuitousArp(mac: Uint8Array, ip: Uint8Array): Uint8Array {
  return emitArp(BROADCAST_MAC, mac, {
    op: ARP_REQUEST,
    sha: mac,
    spa: ip,
    tha: ZERO_MAC,
    tpa: ip,
  });
}
