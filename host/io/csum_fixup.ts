// Completes the L4 checksum of a frame the kernel handed over CHECKSUM_PARTIAL.
// Runtime-agnostic. A packet socket on a veth (or any device that forwards a
// locally built skb) sees TCP/UDP whose checksum field still holds only the
// pseudo-header sum (baselines.md pitfall 7): the NIC was meant to finish it.
// The engine updates checksums incrementally, so it would forward a wrong one
// and the real server would drop the segment. The AF_PACKET backend learns of
// such frames from PACKET_AUXDATA (TP_STATUS_CSUMNOTREADY) and calls this; the
// AF_XDP backend, told nothing, recognises them by their field (looksPartial).

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

function sum16(b: Uint8Array, from: number, to: number, acc: number): number {
  let i = from;
  for (; i + 1 < to; i += 2) acc += (b[i] << 8) | b[i + 1];
  if (i < to) acc += b[i] << 8;
  return acc;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** l4Sum's results: reused, so that the per-frame check allocates nothing (one per thread). */
const L4 = { at: 0, l4: 0, l4end: 0, proto: 0, pseudo: 0 };

/**
 * Parses the Ethernet frame `b[off, off + len)` down to its TCP or UDP
 * checksum: the field's offset `at`, the segment `[l4, l4end)`, `proto` and
 * the unfolded pseudo-header sum, in L4. Returns null for anything else.
 */
function l4Sum(b: Uint8Array, off: number, len: number): typeof L4 | null {
  const end = off + len;
  if (len < 14) return null;
  let l3 = off + 14;
  let type = (b[off + 12] << 8) | b[off + 13];
  if (type === 0x8100) {
    if (len < 18) return null;
    type = (b[off + 16] << 8) | b[off + 17];
    l3 = off + 18;
  }
  let proto: number;
  let l4: number;
  let l4end: number;
  let pseudo: number;
  if (type === 0x0800) {
    if (end - l3 < 20) return null;
    const ihl = (b[l3] & 0x0f) * 4;
    const totLen = (b[l3 + 2] << 8) | b[l3 + 3];
    if (ihl < 20 || totLen < ihl || l3 + totLen > end) return null;
    if (((b[l3 + 6] & 0x3f) | b[l3 + 7]) !== 0) return null; // fragment
    proto = b[l3 + 9];
    l4 = l3 + ihl;
    l4end = l3 + totLen;
    pseudo = sum16(b, l3 + 12, l3 + 20, 0) + proto + (l4end - l4);
  } else if (type === 0x86dd) {
    if (end - l3 < 40) return null;
    l4end = l3 + 40 + ((b[l3 + 4] << 8) | b[l3 + 5]);
    if (l4end > end) return null;
    proto = b[l3 + 6];
    l4 = l3 + 40;
    // Hop-by-hop, routing and destination options may precede the L4 header.
    for (let n = 0; (proto === 0 || proto === 43 || proto === 60) && n < 8; n++) {
      if (l4 + 8 > l4end) return null;
      proto = b[l4];
      l4 += (b[l4 + 1] + 1) * 8;
    }
    if (l4 > l4end) return null;
    const l4len = l4end - l4;
    pseudo = sum16(b, l3 + 8, l3 + 40, 0) + proto + (l4len >>> 16) + (l4len & 0xffff);
  } else {
    return null;
  }
  if (proto === IPPROTO_TCP && l4end - l4 >= 20) L4.at = l4 + 16;
  else if (proto === IPPROTO_UDP && l4end - l4 >= 8) L4.at = l4 + 6;
  else return null;
  L4.l4 = l4;
  L4.l4end = l4end;
  L4.proto = proto;
  L4.pseudo = pseudo;
  return L4;
}

/**
 * Recomputes in place the TCP or UDP checksum of the Ethernet frame
 * `b[off, off + len)`. Returns false (and leaves the frame alone) for anything
 * else or anything malformed; the engine then judges the frame as usual.
 */
export function completeL4Checksum(b: Uint8Array, off: number, len: number): boolean {
  const s = l4Sum(b, off, len);
  if (!s) return false;
  b[s.at] = 0;
  b[s.at + 1] = 0;
  let c = ~fold(sum16(b, s.l4, s.l4end, s.pseudo)) & 0xffff;
  // RFC 768: "If the computed checksum is zero, it is transmitted as all ones".
  if (c === 0 && s.proto === IPPROTO_UDP) c = 0xffff;
  b[s.at] = c >> 8;
  b[s.at + 1] = c & 0xff;
  return true;
}

/**
 * True when the frame's TCP or UDP checksum field holds exactly its folded
 * pseudo-header sum: what Linux leaves for the device to finish
 * (CHECKSUM_PARTIAL, `th->check = ~tcp_v4_check(len, saddr, daddr, 0)`).
 * For backends that get no checksum status (AF_XDP). A finished checksum equal
 * to that value by chance (1 in 65536) is recomputed to itself: completing it
 * is harmless. Costs a header parse, not a payload sum.
 */
export function looksPartial(b: Uint8Array, off: number, len: number): boolean {
  const s = l4Sum(b, off, len);
  return s !== null && ((b[s.at] << 8) | b[s.at + 1]) === fold(s.pseudo);
}
