// Helper of af_packet_e2e_test.ts, run inside a test namespace: opens an
// AF_PACKET port (recvmmsg or ring) on argv[0] over a WASM engine's frame
// area (nothing is processed), collects what arrives for argv[2] ms, and prints one JSON line:
// the port's counters and the first bytes of every frame, as the engine sees them.
import { createWasmEngine } from "../../host/engine/wasm/wasm_engine.ts";
import { HEADROOM, RXD_LEN, RXD_SIZE, RXD_SLOT, SLOT_SIZE } from "../../host/engine/abi.gen.ts";
import { openAfPacket, ringPlan } from "../../host/io/af_packet.ts";
import { frameArea, type RxCursor } from "../../host/io/frame_io.ts";
import { denoSys } from "../../host/io/sys_deno.ts";

const [ifname, io, ms] = Deno.args;
// The WASM engine's memory starts on a page, as a ring needs.
const engine = await createWasmEngine({
  maxConns: 16,
  maxServices: 1,
  maxDests: 1,
  batch: io === "ring" ? 64 : 16,
  seed: 1,
});
const area = frameArea(engine);
const port = openAfPacket(denoSys(), ifname, area, {
  keepOffloads: true,
  rxRing: io === "ring" ? ringPlan(denoSys(), area, 1)?.[0] : undefined,
});
console.log("open");
const mem = new Uint8Array(area.memory);
const dv = new DataView(area.memory);
const frames: string[] = [];
const until = performance.now() + Number(ms);
while (performance.now() < until) {
  const cur: RxCursor = { slot: 0, desc: 0, ring: 0 };
  const n = port.recvBatch(cur, area.batch, 0);
  for (let i = 0; i < n; i++) {
    const d = area.rxDesc + i * RXD_SIZE;
    const at = area.slots + dv.getUint32(d + RXD_SLOT, true) * SLOT_SIZE + HEADROOM;
    const len = dv.getUint16(d + RXD_LEN, true);
    frames.push(
      Array.from(mem.subarray(at, at + Math.min(len, 24)), (b) => b.toString(16).padStart(2, "0"))
        .join(""),
    );
  }
  if (n === 0) await new Promise((r) => setTimeout(r, 5));
}
port.close();
console.log(JSON.stringify({ stats: port.stats, frames }));
