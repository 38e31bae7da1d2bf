// Address syntax of ipvsadm (`host[:port]`, `[v6]:port`), IPv4/IPv6/MAC text to bytes and back.
// Runtime-agnostic. Mirrors ipvsadm.c `parse_service` and `string_to_number`, glibc
// `inet_aton`, `inet_pton` and `inet_ntop` (spec ipvs-control-plane.md §2).
// Invariants: names are resolved only through an injected NameResolver (none: host names and
// named ports are reported, not looked up); returned address arrays are fresh (4 or 16 bytes,
// network order).

import { AF_INET, AF_INET6 } from "../engine/abi.gen.ts";
import type { Af } from "../engine/engine.ts";

/**
 * ipvsadm's `string_to_number`: base-10 `strtol` that must consume the whole string
 * (leading blanks and a sign are allowed, as in C), then a range check.
 *
 * @param s the text
 * @param min smallest accepted value
 * @param max largest accepted value
 * @returns the number, or -1 when the text is not a number in [min, max]
 */
export function stringToNumber(s: string, min: number, max: number): number {
  const m = /^[ \t\n\v\f\r]*([+-]?[0-9]+)$/.exec(s);
  if (!m) return -1;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : -1;
}

// Address bytes are carved from shared 64 KiB chunks: a typed array with its own buffer
// costs ~20 times more to create than a view, and a restore makes 220,000 of them.
let chunk = new Uint8Array(0);
let chunkUsed = 0;

/**
 * A fresh, zeroed byte array of length `n` (a view into a shared chunk).
 *
 * @param n 4 or 16 (any small length)
 * @returns the bytes
 */
export function addrBytes(n: number): Uint8Array {
  if (chunkUsed + n > chunk.length) {
    chunk = new Uint8Array(65536);
    chunkUsed = 0;
  }
  const v = chunk.subarray(chunkUsed, chunkUsed + n);
  chunkUsed += n;
  return v;
}

/** "a.b.c.d", each part 0..255 in decimal without leading zeros, else null. */
function dottedQuad(s: string): Uint8Array | null {
  let part = 0, v = 0, digits = 0;
  const out = [0, 0, 0, 0];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part === 3) return null;
      out[part++] = v;
      v = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && v === 0) return null; // leading zero: octal, the slow path
      v = v * 10 + c - 48;
      if (++digits > 3 || v > 255) return null;
    } else return null;
  }
  if (part !== 3 || digits === 0) return null;
  out[3] = v;
  const a = addrBytes(4);
  a[0] = out[0], a[1] = out[1], a[2] = out[2], a[3] = out[3];
  return a;
}

/**
 * glibc `inet_aton`: one to four parts, each decimal, octal (leading 0) or hex (0x);
 * the last part fills the remaining bytes ("10.1" is 10.0.0.1, "0x0a000001" too).
 *
 * @param s the text
 * @returns 4 bytes, or null when the text is not an address
 */
export function inetAton(s: string): Uint8Array | null {
  // Fast path for the common case, a plain dotted quad without leading zeros (a leading
  // zero means octal to inet_aton): restoring 110,000 rules parses two per line.
  const quad = dottedQuad(s);
  if (quad) return quad;
  const parts = s.split(".");
  if (parts.length > 4) return null;
  const vals: number[] = [];
  for (const p of parts) {
    let v: number;
    if (/^0[xX][0-9a-fA-F]*$/.test(p)) v = p.length > 2 ? parseInt(p.slice(2), 16) : 0;
    else if (/^0[0-7]*$/.test(p)) v = parseInt(p, 8);
    else if (/^[1-9][0-9]*$/.test(p)) v = Number(p);
    else return null;
    if (!(v <= 0xffffffff)) return null;
    vals.push(v);
  }
  const last = vals[vals.length - 1];
  const lastMax = [0xffffffff, 0xffffff, 0xffff, 0xff][vals.length - 1];
  if (last > lastMax || vals.slice(0, -1).some((v) => v > 0xff)) return null;
  let u32 = last;
  for (let i = 0; i < vals.length - 1; i++) u32 += vals[i] * 2 ** (24 - 8 * i);
  const a = addrBytes(4);
  a[0] = u32 >>> 24, a[1] = (u32 >>> 16) & 0xff, a[2] = (u32 >>> 8) & 0xff, a[3] = u32 & 0xff;
  return a;
}

/**
 * glibc `inet_pton(AF_INET)`: exactly four decimal parts 0..255, no leading zeros.
 *
 * @param s the text
 * @returns 4 bytes, or null
 */
export function inetPton4(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i])) return null;
    const v = Number(parts[i]);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/**
 * glibc `inet_pton(AF_INET6)`: up to eight 16-bit hex groups, one `::`, and an
 * optional dotted IPv4 tail. No zone index.
 *
 * @param s the text
 * @returns 16 bytes, or null
 */
export function inetPton6(s: string): Uint8Array | null {
  // Every IPv6 literal has at least two colons; most arguments are IPv4 "a.b.c.d:port".
  const first = s.indexOf(":");
  if (first < 0 || s.indexOf(":", first + 1) < 0) return null;
  const dbl = s.indexOf("::");
  if (dbl >= 0 && s.indexOf("::", dbl + 1) >= 0) return null;
  const groups = (text: string, allowV4Tail: boolean): number[] | null => {
    if (text === "") return [];
    const items = text.split(":");
    const words: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (allowV4Tail && i === items.length - 1 && it.includes(".")) {
        const v4 = inetPton4(it);
        if (!v4) return null;
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(it)) {
        words.push(parseInt(it, 16));
      } else {
        return null;
      }
    }
    return words;
  };
  let words: number[];
  if (dbl < 0) {
    const all = groups(s, true);
    if (!all || all.length !== 8) return null;
    words = all;
  } else {
    const head = groups(s.slice(0, dbl), false);
    const tail = groups(s.slice(dbl + 2), true);
    // "::" stands for at least one zero group.
    if (!head || !tail || head.length + tail.length > 7) return null;
    words = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = addrBytes(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** An address with its family. */
export interface IpAddr {
  af: Af;
  addr: Uint8Array;
}

/**
 * Strict IPv4 or IPv6 text (inet_pton), as command-line options take it.
 *
 * @param s "198.18.0.1" or "2001:2::1"
 * @returns the family and bytes, or null
 */
export function parseIp(s: string): IpAddr | null {
  const v4 = inetPton4(s);
  if (v4) return { af: AF_INET, addr: v4 };
  const v6 = inetPton6(s);
  if (v6) return { af: AF_INET6, addr: v6 };
  return null;
}

/**
 * glibc `inet_ntop`: dotted quad, or compressed IPv6 (the first longest run of two or
 * more zero groups becomes `::`; `::a.b.c.d` and `::ffff:a.b.c.d` keep the IPv4 tail).
 *
 * @param addr 4 or 16 bytes
 * @returns the text
 */
export function formatIp(addr: Uint8Array): string {
  if (addr.length === 4) return addr.join(".");
  if (addr.length !== 16) throw new RangeError(`Cannot format address: ${addr.length} bytes`);
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((addr[i] << 8) | addr[i + 1]);
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) best = i, bestLen = j - i;
    i = j;
  }
  if (bestLen < 2) best = -1;
  const hex = (from: number, to: number) => w.slice(from, to).map((x) => x.toString(16)).join(":");
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
    return "::" + (bestLen === 5 ? "ffff:" : "") + addr.subarray(12).join(".");
  }
  if (best < 0) return hex(0, 8);
  return hex(0, best) + "::" + hex(best + bestLen, 8);
}

/**
 * `addr:port` with IPv6 in brackets, as ipvsadm -n prints it.
 *
 * @param addr 4 or 16 bytes
 * @param port host order
 * @returns e.g. "198.18.0.1:80" or "[2001:2::1]:80"
 */
export function formatHostPort(addr: Uint8Array, port: number): string {
  return addr.length === 16 ? `[${formatIp(addr)}]:${port}` : `${formatIp(addr)}:${port}`;
}

/** A parsed `host[:port]`: `port` is undefined when none was given. */
export type HostPort =
  | { ok: true; af: Af; addr: Uint8Array; port: number | undefined }
  | { ok: false; reason: string };

/** Protocol names as /etc/services spells them. */
export type ServProto = "tcp" | "udp" | "sctp";

/**
 * Name lookups, as the C library does them for ipvsadm (gethostbyname, getservbyname,
 * gethostbyaddr, getservbyport). Injected by the runtime-specific host; every method may be
 * absent, and null means "not found".
 */
export interface NameResolver {
  /** First IPv4 address of a host name. */
  hostToAddr?(name: string): Uint8Array | null;
  /** Port of a service name for a protocol. */
  serviceToPort?(name: string, proto: ServProto): number | null;
  /** Name of an address (4 or 16 bytes). */
  addrToHost?(addr: Uint8Array): string | null;
  /** Name of a port for a protocol. */
  portToService?(port: number, proto: ServProto): string | null;
}

/** How parseHostPort may look names up: a resolver, and the protocol for named ports. */
export interface HostPortLookup {
  resolver?: NameResolver;
  /** Protocol of the service parsed so far (undefined before any: named ports fail). */
  protocol?: ServProto;
}

/**
 * ipvsadm's `parse_service` for `-t`, `-u`, `--sctp-service` and `-r` arguments (§2):
 * a plain IPv6 literal has no port; `[v6]:port` needs its port; otherwise the text after
 * the last `:` is the port and the host goes through inet_aton, then the resolver. A host
 * made only of digits is rejected. Quirk kept from ipvsadm: a bracketed IPv4 address
 * (`[198.18.0.1]:80`) loses its port, because the port is searched again inside the brackets.
 *
 * @param arg the option's argument
 * @param lookup optional name resolution (host names, named ports)
 * @returns the address and optional port, or the reason it was rejected
 *
 * @example
 * ```ts
 * import { parseHostPort } from "./addr.ts";
 * const r = parseHostPort("[2001:2::1]:80");
 * if (!r.ok || r.af !== 10 || r.port !== 80) throw new Error();
 * ```
 */
export function parseHostPort(arg: string, lookup: HostPortLookup = {}): HostPort {
  if (/^[0-9]*$/.test(arg)) {
    return { ok: false, reason: "a host made only of digits is not an address" };
  }
  let host = arg;
  let port: string | undefined;
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close < 0) return { ok: false, reason: "missing ']'" };
    if (host[close + 1] !== ":") return { ok: false, reason: "a bracketed address needs ':port'" };
    port = host.slice(close + 2);
    host = host.slice(1, close);
  }
  let af: Af;
  let addr: Uint8Array | null = inetPton6(host);
  if (addr) {
    af = AF_INET6;
  } else {
    const colon = host.lastIndexOf(":");
    port = colon >= 0 ? host.slice(colon + 1) : undefined;
    if (colon >= 0) host = host.slice(0, colon);
    addr = inetAton(host) ?? lookup.resolver?.hostToAddr?.(host) ?? null;
    if (!addr) {
      return {
        ok: false,
        reason: lookup.resolver?.hostToAddr
          ? `host '${host}' is not known`
          : `'${host}' is not a numeric address; host names are not resolved (use ipvsadm -S -n)`,
      };
    }
    af = AF_INET;
  }
  if (port === undefined) return { ok: true, af, addr, port: undefined };
  let n = stringToNumber(port, 0, 65535);
  if (n < 0 && lookup.protocol && port !== "") {
    n = lookup.resolver?.serviceToPort?.(port, lookup.protocol) ?? -1;
  }
  if (n < 0) {
    return {
      ok: false,
      reason: /^[0-9]+$/.test(port)
        ? `port ${port} is out of range`
        : lookup.resolver?.serviceToPort
        ? `port '${port}' is not a known service name`
        : `port '${port}' is not numeric; named ports are not looked up (use ipvsadm -S -n)`,
    };
  }
  return { ok: true, af, addr, port: n };
}

/**
 * A MAC address written as six hex bytes separated by `:` or `-`.
 *
 * @param s e.g. "02:00:00:00:00:fe"
 * @returns 6 bytes, or null
 */
export function parseMac(s: string): Uint8Array | null {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) return null;
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

/**
 * @param mac 6 bytes
 * @returns lower-case colon-separated text
 */
export function formatMac(mac: Uint8Array): string {
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join(":");
}
