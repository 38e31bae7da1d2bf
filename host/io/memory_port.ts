// An in-memory frame port: frames queued by the caller are "received", frames
// the director sends are collected. Runtime-agnostic. For tests of the daemon
// loop and for simulated networks; it copies frames (a real backend does not).
import { HEADROOM, MAX_FRAME, SLOT_SIZE } from "../engine/abi.gen.ts";
import {
  emptyPortStats,
  type FrameArea,
  type FramePort,
  type PortStats,
  putRxDesc,
  type RxCursor,
  txFrameAt,
  txFrameLen,
} from "./frame_io.ts";

export class MemoryPort implements FramePort {
  readonly ifname: string;
  readonly kind = "memory" as const;
  readonly fd = -1;
  readonly stats: PortStats = emptyPortStats();
  /** Frames waiting to be received, oldest first. */
  readonly inbox: Uint8Array[] = [];
  /** Frames sent, oldest first (copies). */
  readonly sent: Uint8Array[] = [];
  #area: FrameArea;
  #mem: Uint8Array;
  #dv: DataView;

  constructor(ifname: string, area: FrameArea) {
    this.ifname = ifname;
    this.#area = area;
    this.#mem = new Uint8Array(area.memory);
    this.#dv = new DataView(area.memory);
  }

  recvBatch(cur: RxCursor, limit: number, port: number): number {
    const a = this.#area;
    let n = 0;
    while (this.inbox.length > 0 && cur.slot < Math.min(limit, a.batch)) {
      const f = this.inbox.shift()!;
      const len = Math.min(f.length, MAX_FRAME);
      this.#mem.set(f.subarray(0, len), a.slots + cur.slot * SLOT_SIZE + HEADROOM);
      putRxDesc(this.#dv, a, cur.desc, cur.slot, f.length > MAX_FRAME ? 0xffff : len, port);
      cur.slot++;
      cur.desc++;
      n++;
    }
    this.stats.rxFrames += n;
    return n;
  }

  sendBatch(idx: Uint32Array, n: number): number {
    const a = this.#area;
    for (let k = 0; k < n; k++) {
      const at = txFrameAt(this.#dv, a, idx[k]);
      this.sent.push(this.#mem.slice(at, at + txFrameLen(this.#dv, a, idx[k])));
    }
    this.stats.txFrames += n;
    return n;
  }

  sendFrame(frame: Uint8Array): boolean {
    this.sent.push(frame.slice());
    this.stats.txFrames++;
    return true;
  }

  close(): void {}
}
