// An in-memory frame port: frames queued by the caller are "received", frames
// the director sends are collected. Runtime-agnostic. For tests of the daemon
// loop and for simulated networks; it copies frames (a real backend does not).
import {
  HEADROOM,
  MAX_FRAME,
  RXD_LEN,
  RXD_MARK,
  RXD_PORT,
  RXD_SIZE,
  RXD_SLOT,
  SLOT_SIZE,
  TXD_LEN,
  TXD_OFF,
  TXD_SIZE,
  TXD_SLOT,
} from "../engine/abi.gen.ts";
import {
  emptyPortStats,
  type FrameArea,
  type FramePort,
  type PortStats,
  type RxCursor,
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
      const d = a.rxDesc + cur.desc * RXD_SIZE;
      this.#dv.setUint32(d + RXD_SLOT, cur.slot, true);
      this.#dv.setUint16(d + RXD_LEN, f.length > MAX_FRAME ? 0xffff : len, true);
      this.#dv.setUint16(d + RXD_PORT, port, true);
      this.#dv.setUint32(d + RXD_MARK, 0, true);
      this.#dv.setUint32(d + 12, 0, true);
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
      const d = a.txDesc + idx[k] * TXD_SIZE;
      const at = a.slots + this.#dv.getUint32(d + TXD_SLOT, true) * SLOT_SIZE +
        this.#dv.getUint16(d + TXD_OFF, true);
      this.sent.push(this.#mem.slice(at, at + this.#dv.getUint16(d + TXD_LEN, true)));
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
