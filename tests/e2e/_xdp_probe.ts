// Helper of af_xdp_e2e_test.ts, run inside a test namespace: opens an AF_XDP
// port on argv[0] over a WASM engine's frame area (nothing is processed) and,
// for argv[1] ms, sends every frame it receives straight back out through TX
// descriptors that point at the frame's own RX slot (the director's in-place
// case). Prints "open <mode>" once ready, then one JSON line: the port's
// counters, the kernel's, and the first bytes of every frame received.
import { HEADROOM, RXD_LEN, RXD_SIZE, RXD_SLOT, SLOT_SIZE } from "../../host/engine/abi.gen.ts";
import { TXD_LEN, TXD_OFF, TXD_SIZE, TXD_SLOT } from "../../host/engine/abi.gen.ts";
import { createWasmEngine } from "../../host/engine/wasm/wasm_engine.ts";
import { openAfXdp, xdpPlan } from "../../host/io/af_xdp_deno.ts";
import { frameArea, type RxCursor } from "../../host/io/frame_io.ts";

const [ifname, ms, mode] = Deno.args;
const engine = await createWasmEngine({
  maxConns: 16,
  maxServices: 1,
  maxDests: 1,
  batch: 64,
  seed: 1,
});
const area = frameArea(engine);
const port = openAfXdp(ifname, area, xdpPlan(area, 1)![0], { generic: mode === "generic" });
console.log(`open ${JSON.stringify(port.mode)}`);
const mem = new Uint8Array(area.memory);
const dv = new DataView(area.memory);
const frames: string[] = [];
const idx = new Uint32Array(area.txCap);
const until = performance.now() + Number(ms);
while (performance.now() < until) {
  const cur: RxCursor = { slot: 0, desc: 0, ring: 0 };
  const n = port.recvBatch(cur, area.batch, 0);
  for (let i = 0; i < n; i++) {
    const d = area.rxDesc + i * RXD_SIZE;
    const slot = dv.getUint32(d + RXD_SLOT, true);
    const at = area.slots + slot * SLOT_SIZE + HEADROOM;
    const len = dv.getUint16(d + RXD_LEN, true);
    frames.push(
      Array.from(mem.subarray(at, at + Math.min(len, 24)), (b) => b.toString(16).padStart(2, "0"))
        .join(""),
    );
    const t = area.txDesc + i * TXD_SIZE;
    dv.setUint32(t + TXD_SLOT, slot, true);
    dv.setUint16(t + TXD_OFF, HEADROOM, true);
    dv.setUint16(t + TXD_LEN, len, true);
    idx[i] = i;
  }
  if (n > 0) port.sendBatch(idx, n);
  else await new Promise((r) => setTimeout(r, 2));
}
port.close();
console.log(JSON.stringify({ stats: port.stats, kernel: port.kernelStats(), frames }));
