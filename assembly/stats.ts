// Global counters (C_*, u64 at L_COUNTERS) and the per-service and per-dest
// statistics (IPVS's five counters, u64 × STATS_WORDS at L_SVC_STATS/L_DEST_STATS).
// All little-endian u64 so the host can read them in place.
import {
  C_IN_BYTES,
  C_IN_PKTS,
  C_OUT_BYTES,
  C_OUT_PKTS,
  STATS_WORDS,
  S_CONNS,
  S_IN_BYTES,
  S_IN_PKTS,
  S_OUT_BYTES,
  S_OUT_PKTS,
} from "./abi";
import { Mem } from "./state";

const STATS_SIZE: u32 = STATS_WORDS << 3;

/** Counter `c` += 1. */
@inline export function count(c: u32): void {
  const p = Mem.counters + (<usize>c << 3);
  store<u64>(p, load<u64>(p) + 1);
}

/** Counter `c` += v. */
@inline export function countAdd(c: u32, v: u64): void {
  const p = Mem.counters + (<usize>c << 3);
  store<u64>(p, load<u64>(p) + v);
}

/** Counter `c` -= 1 (gauges such as C_CONNS). */
@inline export function countDec(c: u32): void {
  const p = Mem.counters + (<usize>c << 3);
  store<u64>(p, load<u64>(p) - 1);
}

@inline function svcStatsAt(svc: u32): usize {
  return Mem.svcStats + <usize>svc * STATS_SIZE;
}

@inline function destStatsAt(dest: u32): usize {
  return Mem.destStats + <usize>dest * STATS_SIZE;
}

@inline function bump(p: usize, word: u32, v: u64): void {
  const q = p + (<usize>word << 3);
  store<u64>(q, load<u64>(q) + v);
}

/** A new connection was bound to `dest` of `svc`. */
export function statsConn(svc: u32, dest: u32): void {
  bump(svcStatsAt(svc), S_CONNS, 1);
  bump(destStatsAt(dest), S_CONNS, 1);
}

/**
 * One packet of `bytes` (IP length) in direction in (out = false) or out:
 * the service's, the dest's and the global packet and byte counters.
 */
export function statsPacket(svc: u32, dest: u32, out: bool, bytes: u32): void {
  count(out ? C_OUT_PKTS : C_IN_PKTS);
  countAdd(out ? C_OUT_BYTES : C_IN_BYTES, bytes);
  const pw = out ? S_OUT_PKTS : S_IN_PKTS;
  const bw = out ? S_OUT_BYTES : S_IN_BYTES;
  const s = svcStatsAt(svc);
  const d = destStatsAt(dest);
  bump(s, pw, 1);
  bump(s, bw, bytes);
  bump(d, pw, 1);
  bump(d, bw, bytes);
}

/** Zeroes the stats of a service slot (on allocation). */
export function statsZeroSvc(svc: u32): void {
  memory.fill(svcStatsAt(svc), 0, STATS_SIZE);
}

/** Zeroes the stats of a dest slot (on allocation). */
export function statsZeroDest(dest: u32): void {
  memory.fill(destStatsAt(dest), 0, STATS_SIZE);
}
