// End to end with mixed backends: the client reaches the director through a TAP
// (the kernel side of the TAP is the client's interface), the real servers
// through AF_PACKET. Checks the TAP backend both ways: ARP for the VIP, NAT'd
// TCP, and a clean stop. Needs root and iproute2; skips loudly otherwise.
import assert from "node:assert/strict";
import { haveCommand, Netns, netnsUnavailable, reapStaleNamespaces } from "./netns.ts";
import {
  attachTapClient,
  buildNat,
  curlMany,
  e2eEngine,
  PYTHON,
  startDirector,
  startHttpServers,
  stopDirector,
  tally,
} from "./topology.ts";

const skip = netnsUnavailable() ??
  (haveCommand(PYTHON) && haveCommand("curl") ? null : "python3 or curl missing");
if (skip) console.warn(`\n*** SKIPPING the TAP end-to-end test: ${skip} ***\n`);
else await reapStaleNamespaces();

Deno.test({
  name: "Director serves a client behind a TAP port and real servers behind AF_PACKET",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const net = new Netns("p");
  const tap = "wvstap0";
  try {
    const topo = await buildNat(net, false, tap);
    await startHttpServers(net, topo, 8080);
    const d = await startDirector(net, {
      engine: e2eEngine(),
      ports: topo.ports,
      services: [{
        protocol: "tcp",
        addr: topo.vip4,
        port: 80,
        sched: "rr",
        dests: topo.rs.map((r) => ({ addr: r.addr4, port: 8080, fwd: "masq" as const })),
      }],
    });
    try {
      await attachTapClient(net, tap);
      const res = await curlMany(net, "cl", `http://${topo.vip4}/`, 12);
      assert.deepEqual(res.filter((r) => r.exit !== 0 || r.http !== "200"), []);
      assert.deepEqual(tally(res.map((r) => r.body)), { rs1: 4, rs2: 4, rs3: 4 });
    } finally {
      const r = await stopDirector(net, d);
      assert.equal(r.code, 0, r.errors.join("\n"));
      const tapStats = r.stats.ports.find((p: { ifname: string }) => p.ifname === tap);
      assert.ok(tapStats.rxFrames > 0 && tapStats.txFrames > 0, JSON.stringify(tapStats));
      console.log(`  TAP port stats: ${JSON.stringify(tapStats)}`);
    }
  } finally {
    await net.cleanup();
  }
});
