// Firewall marks for frames the host feeds to an engine: the part of `iptables -t mangle
// ... -j MARK --set-mark` that IPVS firewall-mark services rely on (match the destination
// address, optionally the protocol and destination ports, and set a mark). The engine
// reads the mark from the RX descriptor (ARCHITECTURE.md step 9). Used by replay; a live
// director gets its marks from its own classifier. Runtime-agnostic.

/** One rule: frames to `daddr` (and `proto`, `dports` when given) get `mark`. */
export interface MarkRule {
  /** 4 or 16 bytes, network order. */
  daddr: Uint8Array;
  /** IPPROTO_TCP or IPPROTO_UDP; any when absent. */
  proto?: number;
  /** Destination ports (host order); any when absent. */
  dports?: readonly number[];
  mark: number;
}

/**
 * The mark of an Ethernet frame under `rules` (first match wins), or 0.
 *
 * @param rules mark rules, in order
 * @param f an Ethernet frame (one 802.1Q tag is looked through)
 * @returns the mark, 0 when no rule matches
 * @example
 * ```ts
 * import { markOf } from "./fwmark.ts";
 * const f = new Uint8Array(54);
 * f.set([0x08, 0x00, 0x45], 12); // IPv4, IHL 5
 * f[23] = 6; // TCP
 * f.set([198, 18, 0, 1], 30); // destination
 * f.set([0, 80], 36); // destination port 80
 * if (markOf([{ daddr: Uint8Array.of(198, 18, 0, 1), dports: [80, 443], mark: 7 }], f) !== 7) {
 *   throw new Error();
 * }
 * ```
 */
export function markOf(rules: readonly MarkRule[], f: Uint8Array): number {
  if (rules.length === 0 || f.length < 14) return 0;
  let type = (f[12] << 8) | f[13];
  let l3 = 14;
  if (type === 0x8100 && f.length >= 18) {
    type = (f[16] << 8) | f[17];
    l3 = 18;
  }
  let dst: number, len: number, proto: number, l4: number;
  if (type === 0x0800 && f.length >= l3 + 20) {
    dst = l3 + 16;
    len = 4;
    proto = f[l3 + 9];
    l4 = l3 + (f[l3] & 15) * 4;
  } else if (type === 0x86dd && f.length >= l3 + 40) {
    dst = l3 + 24;
    len = 16;
    proto = f[l3 + 6];
    l4 = l3 + 40;
  } else {
    return 0;
  }
  const dport = f.length >= l4 + 4 ? (f[l4 + 2] << 8) | f[l4 + 3] : -1;
  for (const r of rules) {
    if (r.daddr.length !== len) continue;
    let same = true;
    for (let i = 0; i < len && same; i++) same = r.daddr[i] === f[dst + i];
    if (!same || (r.proto !== undefined && r.proto !== proto)) continue;
    if (r.dports && !r.dports.includes(dport)) continue;
    return r.mark >>> 0;
  }
  return 0;
}
