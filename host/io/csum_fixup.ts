// Completes the L4 checksum of a frame the kernel handed over CHECKSUM_PARTIAL.
// Runtime-agnostic. A packet socket on a veth (or any device that forwards a
// locally built skb) sees TCP/UDP whose checksum field still holds only the
// pseudo-header sum (baselines.md pitfall 7): the NIC was meant to finish it.
// The engine updates checksums incrementally, so it would forward a wrong one
// and the real server would drop the segment. The AF_PACKET backend learns of
// such frames from PACKET_AUXDATA (TP_STATUS_CSUMNOTREADY) and calls this.

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

/**
 * Recomputes in place the TCP or UDP checksum of the Ethernet frame
 * `b[off, off + len)`. Returns false (and leaves the frame alone) for anything
 * else or anything malformed; the engine then judges the frame as usual.
 */
export function completeL4Checksum(b: Uint8Array, off: number, len: number): boolean {
  const end = off + len;
  if (len < 14) return false;
  let l3 = off + 14;
  let type = (b[off + 12] << 8) | b[off + 13];
  if (type === 0x8100) {
    if (len < 18) return false;
    type = (b[off + 16] << 8) | b[off + 17];
    l3 = off + 18;
  }
  let proto: number;
  let l4: number;
  let l4end: number;
  let pseudo: number;
  if (type === 0x0800) {
    if (end - l3 < 20) return false;
    const ihl = (b[l3] & 0x0f) * 4;
    const totLen = (b[l3 + 2] << 8) | b[l3 + 3];
    if (ihl < 20 || totLen < ihl || l3 + totLen > end) return false;
    if (((b[l3 + 6] & 0x3f) | b[l3 + 7]) !== 0) return false; // fragment
    proto = b[l3 + 9];
    l4 = l3 + ihl;
    l4end = l3 + totLen;
    pseudo = sum16(b, l3 + 12, l3 + 20, 0) + proto + (l4end - l4);
  } else if (type === 0x86dd) {
    if (end - l3 < 40) return false;
    l4end = l3 + 40 + ((b[l3 + 4] << 8) | b[l3 + 5]);
    if (l4end > end) return false;
    proto = b[l3 + 6];
    l4 = l3 + 40;
    // Hop-by-hop, routing and destination options may precede the L4 header.
    for (let n = 0; (proto === 0 || proto === 43 || proto === 60) && n < 8; n++) {
      if (l4 + 8 > l4end) return false;
      proto = b[l4];
      l4 += (b[l4 + 1] + 1) * 8;
    }
    if (l4 > l4end) return false;
    const l4len = l4end - l4;
    pseudo = sum16(b, l3 + 8, l3 + 40, 0) + proto + (l4len >>> 16) + (l4len & 0xffff);
  } else {
    return false;
  }
  let at: number;
  if (proto === IPPROTO_TCP && l4end - l4 >= 20) at = l4 + 16;
  else if (proto === IPPROTO_UDP && l4end - l4 >= 8) at = l4 + 6;
  else return false;
  b[at] = 0;
  b[at + 1] = 0;
  let c = ~fold(sum16(b, l4, l4end, pseudo)) & 0xffff;
  // RFC 768: "If the computed checksum is zero, it is transmitted as all ones".
  if (c === 0 && proto === IPPROTO_UDP) c = 0xffff;
  b[at] = c >> 8;
  b[at + 1] = c & 0xff;
  return true;
}
