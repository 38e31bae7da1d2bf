// What the backend probes (_afp_probe.ts, _xdp_probe.ts) share: a small WASM engine whose
// frame area a port receives into (nothing is processed), and the receive loop that keeps
// the first bytes of every frame as the engine sees them.
import { HEADROOM, RXD_LEN, RXD_SIZE, RXD_SLOT, SLOT_SIZE } from "../../host/engine/abi.gen.ts";
import type { Engine } from "../../host/engine/engine.ts";
import { createWasmEngine } from "../../host/engine/wasm/wasm_engine.ts";
import type { FrameArea, FramePort, RxCursor } from "../../host/io/frame_io.ts";

/** A WASM engine with room for nothing but frames (its memory starts on a page, as rings need). */
export function probeEngine(batch: number): Promise<Engine> {
  return createWasmEngine({ maxConns: 16, maxServices: 1, maxDests: 1, batch, seed: 1 });
}

/** One received frame: its host slot, where its bytes start in the area, and its length. */
export interface RxFrame {
  slot: number;
  at: number;
  len: number;
}

/**
 * Receives on `port` for `ms`, waiting `idleMs` after an empty round; returns each frame's
 * first 24 bytes in hex. `onBatch` sees every non-empty round's frames before the next one.
 */
export async function collectFrames(
  port: FramePort,
  area: FrameArea,
  ms: number,
  idleMs: number,
  onBatch?: (frames: RxFrame[]) => void,
): Promise<string[]> {
  const mem = new Uint8Array(area.memory);
  const dv = new DataView(area.memory);
  const out: string[] = [];
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const cur: RxCursor = { slot: 0, desc: 0, ring: 0 };
    const n = port.recvBatch(cur, area.batch, 0);
    const batch: RxFrame[] = [];
    for (let i = 0; i < n; i++) {
      const d = area.rxDesc + i * RXD_SIZE;
      const slot = dv.getUint32(d + RXD_SLOT, true);
      const f = {
        slot,
        at: area.slots + slot * SLOT_SIZE + HEADROOM,
        len: dv.getUint16(d + RXD_LEN, true),
      };
      batch.push(f);
      out.push(
        Array.from(
          mem.subarray(f.at, f.at + Math.min(f.len, 24)),
          (b) => b.toString(16).padStart(2, "0"),
        )
          .join(""),
      );
    }
    if (n > 0) onBatch?.(batch);
    else await new Promise((r) => setTimeout(r, idleMs));
  }
  return out;
}
