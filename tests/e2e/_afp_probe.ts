// Helper of af_packet_e2e_test.ts, run inside a test namespace: opens an
// AF_PACKET port (recvmmsg or ring) on argv[0] over a WASM engine's frame
// area (nothing is processed), collects what arrives for argv[2] ms, and prints one JSON line:
// the port's counters and the first bytes of every frame, as the engine sees them.
import { openAfPacket, ringPlan } from "../../host/io/af_packet.ts";
import { frameArea } from "../../host/io/frame_io.ts";
import { denoSys } from "../../host/io/sys_deno.ts";
import { collectFrames, probeEngine } from "./_probe_tools.ts";

const [ifname, io, ms] = Deno.args;
const area = frameArea(await probeEngine(io === "ring" ? 64 : 16));
const port = openAfPacket(denoSys(), ifname, area, {
  keepOffloads: true,
  rxRing: io === "ring" ? ringPlan(denoSys(), area, 1)?.[0] : undefined,
});
console.log("open");
const frames = await collectFrames(port, area, Number(ms), 5);
port.close();
console.log(JSON.stringify({ stats: port.stats, frames }));
