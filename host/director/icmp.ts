// ICMP and ICMPv6 echo replies for the addresses the director owns (VIPs and
// port addresses), so that `ping <VIP>` works as it does against IPVS, where
// the kernel owning the VIP answers. Runtime-agnostic. RFC 792: "the source
// and destination addresses are simply reversed, the type code changed to 0,
// and the checksum recomputed"; RFC 4443 §4.2 likewise for ICMPv6 (type 129).
// The reply keeps the request's L2 header shape (an 802.1Q tag stays).

const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
const ICMP_ECHO = 8;
const ICMP_ECHOREPLY = 0;
const ICMPV6_ECHO_REQUEST = 128;
const ICMPV6_ECHO_REPLY = 129;
const REPLY_TTL = 64;

function sum16(b: Uint8Array, from: number, to: number, acc = 0): number {
  let i = from;
  for (; i + 1 < to; i += 2) acc += (b[i] << 8) | b[i + 1];
  if (i < to) acc += b[i] << 8;
  return acc;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >> 8;
  b[at + 1] = v & 0xff;
}

/**
 * The echo reply to the echo request in frame `f` whose IP header starts at
 * `l3`, sent from `mac` back to the requester's MAC; null when `f` is not a
 * well-formed echo request (truncated, fragmented, IPv6 with extension headers).
 *
 * @param f the request frame (not modified)
 * @param l3 offset of the IPv4 or IPv6 header in `f`
 * @param mac our MAC on the port the request came in on
 * @returns a new frame, or null
 * @example
 * ```ts ignore
 * const reply = echoReply(frame, 14, portMac);
 * if (reply) port.sendFrame(reply);
 * ```
 */
export function echoReply(f: Uint8Array, l3: number, mac: Uint8Array): Uint8Array | null {
  if (f.length < l3 + 20) return null;
  const version = f[l3] >> 4;
  let end: number;
  let l4: number;
  if (version === 4) {
    const ihl = (f[l3] & 0xf) * 4;
    end = l3 + ((f[l3 + 2] << 8) | f[l3 + 3]);
    l4 = l3 + ihl;
    const frag = ((f[l3 + 6] << 8) | f[l3 + 7]) & 0x3fff;
    if (ihl < 20 || end > f.length || l4 + 8 > end || frag !== 0) return null;
    if (f[l3 + 9] !== IPPROTO_ICMP || f[l4] !== ICMP_ECHO || f[l4 + 1] !== 0) return null;
  } else if (version === 6) {
    if (f.length < l3 + 48) return null;
    end = l3 + 40 + ((f[l3 + 4] << 8) | f[l3 + 5]);
    l4 = l3 + 40;
    if (end > f.length || l4 + 8 > end) return null;
    if (f[l3 + 6] !== IPPROTO_ICMPV6 || f[l4] !== ICMPV6_ECHO_REQUEST || f[l4 + 1] !== 0) {
      return null;
    }
  } else {
    return null;
  }
  const r = f.slice(0, end);
  r.set(f.subarray(6, 12), 0);
  r.set(mac.subarray(0, 6), 6);
  if (version === 4) {
    r.set(f.subarray(l3 + 16, l3 + 20), l3 + 12);
    r.set(f.subarray(l3 + 12, l3 + 16), l3 + 16);
    r[l3 + 8] = REPLY_TTL;
    put16(r, l3 + 10, 0);
    put16(r, l3 + 10, fold(sum16(r, l3, l4)));
    r[l4] = ICMP_ECHOREPLY;
    put16(r, l4 + 2, 0);
    put16(r, l4 + 2, fold(sum16(r, l4, end)));
  } else {
    r.set(f.subarray(l3 + 24, l3 + 40), l3 + 8);
    r.set(f.subarray(l3 + 8, l3 + 24), l3 + 24);
    r[l3 + 7] = REPLY_TTL;
    r[l4] = ICMPV6_ECHO_REPLY;
    put16(r, l4 + 2, 0);
    const pseudo = sum16(r, l3 + 8, l3 + 40) + (end - l4) + IPPROTO_ICMPV6;
    put16(r, l4 + 2, fold(sum16(r, l4, end, pseudo)));
  }
  return r;
}
