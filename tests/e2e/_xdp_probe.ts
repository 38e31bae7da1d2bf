// Helper of af_xdp_e2e_test.ts, run inside a test namespace: opens an AF_XDP
// port on argv[0] over a WASM engine's frame area (nothing is processed) and,
// for argv[1] ms, sends every frame it receives straight back out through TX
// descriptors that point at the frame's own RX slot (the director's in-place
// case). Prints "open <mode>" once ready, then one JSON line: the port's
// counters, the kernel's, and the first bytes of every frame received.
import { HEADROOM, TXD_LEN, TXD_OFF, TXD_SIZE, TXD_SLOT } from "../../host/engine/abi.gen.ts";
import { openAfXdp, xdpPlan } from "../../host/io/af_xdp_deno.ts";
import { frameArea } from "../../host/io/frame_io.ts";
import { collectFrames, probeEngine } from "./_probe_tools.ts";

const [ifname, ms, mode] = Deno.args;
const area = frameArea(await probeEngine(64));
const port = openAfXdp(ifname, area, xdpPlan(area, 1)![0], { generic: mode === "generic" });
console.log(`open ${JSON.stringify(port.mode)}`);
const dv = new DataView(area.memory);
const idx = new Uint32Array(area.txCap);
const frames = await collectFrames(port, area, Number(ms), 2, (batch) => {
  batch.forEach((f, i) => {
    const t = area.txDesc + i * TXD_SIZE;
    dv.setUint32(t + TXD_SLOT, f.slot, true);
    dv.setUint16(t + TXD_OFF, HEADROOM, true);
    dv.setUint16(t + TXD_LEN, f.len, true);
    idx[i] = i;
  });
  port.sendBatch(idx, batch.length);
});
port.close();
console.log(JSON.stringify({ stats: port.stats, kernel: port.kernelStats(), frames }));
