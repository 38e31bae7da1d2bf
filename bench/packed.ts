// A frame corpus packed at a fixed stride, and the cheapest honest way to hand
// it to an engine: copy each frame into its RX slot with 32-bit word moves
// (no per-frame allocation), then one processBatch per batch. The copy stands
// for what the NIC or AF_PACKET does; `copyOnly` measures it alone so the
// engine's own cost is (full − copy).
import type { Engine } from "../host/engine/engine.ts";
import {
  HEADROOM,
  L_BATCH,
  L_RX_DESC,
  L_SLOTS,
  RXD_SIZE,
  SLOT_SIZE,
} from "../host/engine/abi.gen.ts";

export const STRIDE = 128;

export class Packed {
  readonly words: Int32Array;
  readonly lens: Uint16Array;
  readonly count: number;
  constructor(frames: Uint8Array[]) {
    this.count = frames.length;
    const bytes = new Uint8Array(frames.length * STRIDE);
    this.lens = new Uint16Array(frames.length);
    frames.forEach((f, i) => {
      if (f.length > STRIDE) {
        throw new RangeError(`frame ${i} is ${f.length} bytes, over the stride`);
      }
      bytes.set(f, i * STRIDE);
      this.lens[i] = f.length;
    });
    this.words = new Int32Array(bytes.buffer);
  }
}

export class BenchIo {
  readonly engine: Engine;
  readonly batch: number;
  #w: Int32Array;
  #d16: Uint16Array;
  #d32: Uint32Array;
  #slot0: number;
  #rx: number;

  constructor(engine: Engine) {
    this.engine = engine;
    this.batch = engine.layout[L_BATCH];
    this.#w = new Int32Array(engine.memory);
    this.#d16 = new Uint16Array(engine.memory);
    this.#d32 = new Uint32Array(engine.memory);
    this.#slot0 = engine.layout[L_SLOTS] + HEADROOM;
    this.#rx = engine.layout[L_RX_DESC];
    // Descriptors name slot i for entry i once; only lengths change per batch.
    for (let i = 0; i < this.batch; i++) this.#d32[(this.#rx + i * RXD_SIZE) >> 2] = i;
  }

  #fill(p: Packed, from: number, n: number): void {
    const w = this.#w, src = p.words, lens = p.lens;
    for (let k = 0; k < n; k++) {
      const s = (from + k) * (STRIDE >> 2);
      const d = (this.#slot0 + k * SLOT_SIZE) >> 2;
      const words = (lens[from + k] + 3) >> 2;
      for (let j = 0; j < words; j++) w[d + j] = src[s + j];
      this.#d16[(this.#rx + k * RXD_SIZE + 4) >> 1] = lens[from + k];
    }
  }

  /** Copies and processes the whole corpus; returns the TX count. */
  run(p: Packed, now: number): number {
    let tx = 0;
    for (let i = 0; i < p.count; i += this.batch) {
      const n = Math.min(this.batch, p.count - i);
      this.#fill(p, i, n);
      tx += this.engine.processBatch(n, now);
    }
    return tx;
  }

  /** The copy alone, for the I/O floor. */
  copyOnly(p: Packed): void {
    for (let i = 0; i < p.count; i += this.batch) {
      this.#fill(p, i, Math.min(this.batch, p.count - i));
    }
  }
}
