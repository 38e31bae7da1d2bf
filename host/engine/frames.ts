// Frame I/O over an engine's descriptor arrays and slots (see ARCHITECTURE.md).
// Runtime-agnostic. Used by replay, tests, benches and the director's I/O loop.
import {
  HEADROOM,
  L_BATCH,
  L_RX_DESC,
  L_SLOTS,
  L_TX_DESC,
  MAX_FRAME,
  RXD_LEN,
  RXD_MARK,
  RXD_PORT,
  RXD_REASON,
  RXD_SIZE,
  RXD_SLOT,
  RXD_VERDICT,
  SLOT_SIZE,
  TXD_LEN,
  TXD_OFF,
  TXD_PORT,
  TXD_RX,
  TXD_SIZE,
  TXD_SLOT,
} from "./abi.gen.ts";
import type { Engine } from "./engine.ts";

/** One frame out of the engine (copied out of its slot). */
export interface TxFrame {
  bytes: Uint8Array;
  port: number;
  /** Index of the RX frame in the batch that produced it. */
  rx: number;
}

/** Result of one batch: per-RX verdict and reason, and the TX frames. */
export interface BatchResult {
  verdicts: number[];
  reasons: number[];
  tx: TxFrame[];
}

/**
 * Writes frames into an engine's RX slots and reads its TX descriptors.
 * Views are made once; the engine memory never grows after init.
 */
export class FrameIo {
  readonly engine: Engine;
  readonly batch: number;
  #u8: Uint8Array;
  #dv: DataView;
  #rx: number;
  #tx: number;
  #slots: number;

  constructor(engine: Engine) {
    this.engine = engine;
    this.#u8 = new Uint8Array(engine.memory);
    this.#dv = new DataView(engine.memory);
    this.#rx = engine.layout[L_RX_DESC];
    this.#tx = engine.layout[L_TX_DESC];
    this.#slots = engine.layout[L_SLOTS];
    this.batch = engine.layout[L_BATCH];
  }

  /** Byte offset in memory where RX slot `slot` holds its frame. */
  frameOffset(slot: number): number {
    return this.#slots + slot * SLOT_SIZE + HEADROOM;
  }

  /** Places `frame` in RX slot `i` and fills descriptor `i`. */
  put(i: number, frame: Uint8Array, port = 0, mark = 0): void {
    if (i >= this.batch) {
      throw new RangeError(`Cannot put frame: index ${i} >= batch ${this.batch}`);
    }
    const len = Math.min(frame.length, MAX_FRAME);
    this.#u8.set(frame.subarray(0, len), this.frameOffset(i));
    const d = this.#rx + i * RXD_SIZE;
    this.#dv.setUint32(d + RXD_SLOT, i, true);
    this.#dv.setUint16(d + RXD_LEN, frame.length > MAX_FRAME ? 0xffff : len, true);
    this.#dv.setUint16(d + RXD_PORT, port, true);
    this.#dv.setUint32(d + RXD_MARK, mark, true);
    this.#u8[d + RXD_VERDICT] = 0;
    this.#u8[d + RXD_REASON] = 0;
  }

  verdict(i: number): number {
    return this.#u8[this.#rx + i * RXD_SIZE + RXD_VERDICT];
  }

  reason(i: number): number {
    return this.#u8[this.#rx + i * RXD_SIZE + RXD_REASON];
  }

  /** A view (not a copy) of TX frame `j`; valid until the next batch. */
  txView(j: number): Uint8Array {
    const d = this.#tx + j * TXD_SIZE;
    const slot = this.#dv.getUint32(d + TXD_SLOT, true);
    const off = this.#dv.getUint16(d + TXD_OFF, true);
    const len = this.#dv.getUint16(d + TXD_LEN, true);
    const start = this.#slots + slot * SLOT_SIZE + off;
    return this.#u8.subarray(start, start + len);
  }

  txPort(j: number): number {
    return this.#dv.getUint16(this.#tx + j * TXD_SIZE + TXD_PORT, true);
  }

  txRx(j: number): number {
    return this.#dv.getUint32(this.#tx + j * TXD_SIZE + TXD_RX, true);
  }

  /** Runs frames (at most `batch`) through the engine and copies the results out. */
  run(frames: Uint8Array[], now: number, port = 0, mark = 0): BatchResult {
    frames.forEach((f, i) => this.put(i, f, port, mark));
    const nTx = this.engine.processBatch(frames.length, now);
    const verdicts: number[] = [];
    const reasons: number[] = [];
    for (let i = 0; i < frames.length; i++) {
      verdicts.push(this.verdict(i));
      reasons.push(this.reason(i));
    }
    const tx: TxFrame[] = [];
    for (let j = 0; j < nTx; j++) {
      tx.push({ bytes: this.txView(j).slice(), port: this.txPort(j), rx: this.txRx(j) });
    }
    return { verdicts, reasons, tx };
  }
}
