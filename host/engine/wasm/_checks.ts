// Argument checks of the WASM engine wrapper: what the CTL mailbox cannot
// express (types, ranges, lengths), in the order ARCHITECTURE.md "Decisions"
// gives for control errors; and the address text of connection dumps, which must
// equal the reference engine's (RFC 5952, no embedded IPv4 form).
// Runtime-agnostic. Private to host/engine/wasm/.
import {
  AF_INET,
  AF_INET6,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  STATS_WORDS,
} from "../abi.gen.ts";
import type { Af, DestSpec, ServiceSpec } from "../engine.ts";

export const STATS_BYTES = STATS_WORDS * 8;
export const U32_MAX = 0xffffffff;
export const I32_MIN = -0x80000000;
export const I32_MAX = 0x7fffffff;
/** Largest settable timeout, s (its value in ms fits the wrap-safe i32 expiry compare). */
export const MAX_TIMEOUT = 2147483;

export function sizeOf(v: number | undefined, name: string, min: number, max: number): number {
  if (v === undefined || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(
      `Cannot create engine: ${name} must be an integer in ${min}..${max} (${v})`,
    );
  }
  return v;
}

// ---- Spec checks the mailbox cannot express (types, ranges, lengths). They run in
// the order of ARCHITECTURE.md "Decisions" (control errors), interleaved with the
// engine's own checks of liveness and of the values it can see.

export function isInt(v: unknown, lo: number, hi: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
}

export function isAf(v: unknown): v is Af {
  return v === AF_INET || v === AF_INET6;
}

export function isAddr(af: number, v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.length === (af === AF_INET ? 4 : 16);
}

export function isMac(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.length === 6;
}

export function isObject(v: unknown): boolean {
  return typeof v === "object" && v !== null;
}

/** An index argument as the engine sees it: anything but a u32 integer names nothing. */
export function index(i: number): number {
  return isInt(i, 0, U32_MAX) ? i : U32_MAX;
}

export function serviceFieldsOk(spec: ServiceSpec): boolean {
  return isInt(spec.sched, 0, 0xff) && isInt(spec.flags, 0, U32_MAX) &&
    isInt(spec.timeout, 0, U32_MAX) && isInt(spec.netmask, 0, U32_MAX);
}

export function destFieldsOk(spec: DestSpec): boolean {
  const fwd = spec.fwd;
  return (fwd === IP_VS_CONN_F_MASQ || fwd === IP_VS_CONN_F_TUNNEL ||
    fwd === IP_VS_CONN_F_DROUTE) &&
    isInt(spec.weight, I32_MIN, I32_MAX) && isInt(spec.uThreshold, 0, U32_MAX) &&
    isInt(spec.lThreshold, 0, U32_MAX) && isInt(spec.tunType, 0, 0xff) &&
    isInt(spec.tunPort, 0, 0xffff) && isInt(spec.tunFlags, 0, 0xffff);
}

/** A timeout argument: seconds > 0, floored and clamped; 0 (unchanged) otherwise. */
export function timeoutArg(v: number): number {
  return typeof v === "number" && v > 0 ? Math.min(Math.floor(v), MAX_TIMEOUT) : 0;
}

/**
 * Formats an address stored in network order: dotted quad for IPv4, RFC 5952
 * text for IPv6 (lowercase, the longest run of two or more zero groups, the
 * first on a tie, becomes "::"; no embedded IPv4 form).
 */
export function formatAddr(af: Af, mem: Uint8Array, at: number): string {
  if (af === AF_INET) return `${mem[at]}.${mem[at + 1]}.${mem[at + 2]}.${mem[at + 3]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((mem[at + 2 * i] << 8) | mem[at + 2 * i + 1]);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((v) => v.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}
