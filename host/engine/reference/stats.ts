// Global counters and per-service / per-dest statistics (IPVS's five counters).
// Mirrors ip_vs_ctl.c / ip_vs_est.c inputs (struct ip_vs_stats) and assembly/stats.ts.
// Counters are Float64Array cells: exact integers up to 2^53, far beyond any run.
// Runtime-agnostic.
import type { Stats } from "../engine.ts";
import * as abi from "../abi.gen.ts";

// Hot-path bindings as module-local consts: see state.ts, "Why local consts".
const { C_COUNT, S_CONNS, S_IN_BYTES, S_IN_PKTS, S_OUT_BYTES, S_OUT_PKTS, STATS_WORDS } = abi;

/** The global counter array, indexed by C_* (reason r at C_REASON_BASE + r). */
export function createCounters(): Float64Array {
  return new Float64Array(C_COUNT);
}

/** A stats table for `n` objects, STATS_WORDS cells each. */
export function createStats(n: number): Float64Array {
  return new Float64Array(n * STATS_WORDS);
}

/** Zeroes object `i`'s stats (a slot being handed out again). */
export function zeroStats(t: Float64Array, i: number): void {
  t.fill(0, i * STATS_WORDS, (i + 1) * STATS_WORDS);
}

/** Counts one packet of `bytes` in direction in (`out` false) or out for object `i`. */
export function countPacket(t: Float64Array, i: number, out: boolean, bytes: number): void {
  const o = i * STATS_WORDS;
  if (out) {
    t[o + S_OUT_PKTS]++;
    t[o + S_OUT_BYTES] += bytes;
  } else {
    t[o + S_IN_PKTS]++;
    t[o + S_IN_BYTES] += bytes;
  }
}

/** Object `i`'s stats as the Engine interface reports them (zeros when out of range). */
export function readStats(t: Float64Array, i: number): Stats {
  const o = i * STATS_WORDS;
  const ok = Number.isInteger(i) && i >= 0 && o < t.length;
  return {
    conns: ok ? t[o + S_CONNS] : 0,
    inPkts: ok ? t[o + S_IN_PKTS] : 0,
    outPkts: ok ? t[o + S_OUT_PKTS] : 0,
    inBytes: ok ? t[o + S_IN_BYTES] : 0,
    outBytes: ok ? t[o + S_OUT_BYTES] : 0,
  };
}
