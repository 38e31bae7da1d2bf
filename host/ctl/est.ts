// The IPVS rate estimator (ip_vs_est.c): every 2 s, per stats object, an EWMA
// with weight 1/4 of connection, packet and byte rates in fixed point.
// Runtime-agnostic. The kernel scales packet and connection rates by 2^10 and
// byte rates by 2^5; we keep its integer arithmetic exactly (JS numbers are
// exact here: counters stay below 2^53), so `-L --rate` prints what IPVS would.
import type { Stats } from "../engine/engine.ts";

/** Rates as `ipvsadm -L --rate` shows them: per second, integers. */
export interface Rates {
  cps: number;
  inPps: number;
  outPps: number;
  inBps: number;
  outBps: number;
}

/** Estimator period: the kernel samples every 2 seconds. */
export const EST_PERIOD_MS = 2000;

/** Arithmetic shift right for possibly negative, possibly > 2^31 integers. */
function sar(x: number, n: number): number {
  return Math.floor(x / 2 ** n);
}

/** One estimator: feed it the cumulative counters every EST_PERIOD_MS. */
export class Estimator {
  #last: Stats | null = null;
  // Averages in the kernel's fixed point: rates << 10, byte rates << 5.
  #cps = 0;
  #inPps = 0;
  #outPps = 0;
  #inBps = 0;
  #outBps = 0;

  /**
   * Takes one 2-second sample of cumulative counters.
   * @param s the counters now
   * @example
   * ```ts
   * const e = new Estimator();
   * e.sample({ conns: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0 });
   * e.sample({ conns: 20, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0 });
   * if (e.rates().cps !== 2) throw new Error("a quarter of 10/s is 2.5, which rounds down");
   * ```
   */
  sample(s: Stats): void {
    if (this.#last) {
      const l = this.#last;
      // Δ over 2 s, scaled by 2^10 per second: Δ << 9; bytes by 2^5: Δ << 4.
      this.#cps += sar((s.conns - l.conns) * 512 - this.#cps, 2);
      this.#inPps += sar((s.inPkts - l.inPkts) * 512 - this.#inPps, 2);
      this.#outPps += sar((s.outPkts - l.outPkts) * 512 - this.#outPps, 2);
      this.#inBps += sar((s.inBytes - l.inBytes) * 16 - this.#inBps, 2);
      this.#outBps += sar((s.outBytes - l.outBytes) * 16 - this.#outBps, 2);
    }
    this.#last = { ...s };
  }

  /** `ipvsadm -Z` semantics: keep the baseline, restart the averages. */
  reset(s: Stats): void {
    this.#last = { ...s };
    this.#cps =
      this.#inPps =
      this.#outPps =
      this.#inBps =
      this.#outBps =
        0;
  }

  rates(): Rates {
    return {
      cps: sar(this.#cps + 0x1ff, 10),
      inPps: sar(this.#inPps + 0x1ff, 10),
      outPps: sar(this.#outPps + 0x1ff, 10),
      inBps: sar(this.#inBps + 0xf, 5),
      outBps: sar(this.#outBps + 0xf, 5),
    };
  }
}
