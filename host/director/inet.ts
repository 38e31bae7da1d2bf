// Address text <-> bytes for the director: IPv4, IPv6 (RFC 5952 output), MACs and
// prefixes. Runtime-agnostic. Addresses are network-order Uint8Arrays of 4 or 16
// bytes, as the engine takes them; parse functions throw on bad text (config
// time only), never on the data path.

export type Bytes = Uint8Array;

export function parseIp4(text: string): Bytes | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return null;
    const v = Number(parts[i]);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

export function parseIp6(text: string): Bytes | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const words = (s: string) => (s === "" ? [] : s.split(":"));
  const head = words(halves[0]);
  const tail = halves.length === 2 ? words(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...new Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(all[i])) return null;
    const w = parseInt(all[i], 16);
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  }
  return out;
}

/** IPv4 or IPv6 text to bytes; throws on anything else. */
export function parseIp(text: string): Bytes {
  const b = text.includes(":") ? parseIp6(text) : parseIp4(text);
  if (b === null) throw new Error(`Cannot parse IP address: ${JSON.stringify(text)}`);
  return b;
}

export function formatIp(b: Bytes): string {
  if (b.length === 4) return b.join(".");
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((b[i] << 8) | b[i + 1]);
  // RFC 5952 §4.2: compress the longest run of two or more zero words, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = w.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return hex.slice(0, best).join(":") + "::" + hex.slice(best + bestLen).join(":");
}

export function parseMac(text: string): Bytes {
  const parts = text.trim().split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`Cannot parse MAC address: ${JSON.stringify(text)}`);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(b: Bytes): string {
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, "0")).join(":");
}

/** An address with its on-link prefix, as "198.18.0.254/24". */
export interface Prefixed {
  addr: Bytes;
  len: number;
}

export function parsePrefixed(text: string): Prefixed {
  const [a, l] = text.split("/");
  const addr = parseIp(a);
  const max = addr.length * 8;
  const len = l === undefined ? max : Number(l);
  if (!Number.isInteger(len) || len < 0 || len > max) {
    throw new Error(`Cannot parse prefix length: ${JSON.stringify(text)}`);
  }
  return { addr, len };
}

/** True when `addr` lies in the prefix `p` (same family). */
export function inPrefix(addr: Bytes, p: Prefixed): boolean {
  if (addr.length !== p.addr.length) return false;
  let bits = p.len;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((addr[i] & mask) !== (p.addr[i] & mask)) return false;
  }
  return true;
}

export function equalBytes(a: Bytes, b: Bytes): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A map key for an address (family is implied by the length). */
export function ipKey(b: Bytes): string {
  return formatIp(b);
}
