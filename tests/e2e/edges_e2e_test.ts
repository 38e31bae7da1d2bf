// Issue 7 end to end, in network namespaces (rules of tests/e2e/netns.ts: our namespaces
// only, 198.18.0.0/15 and 2001:2::/48, bounded loads, cleanup in finally):
//  - PMTU over TUN: a client uploads through a TUN service with DF-marked full-size
//    segments; the director answers fragmentation needed (MTU 1480), the client's kernel
//    lowers its path MTU and the upload arrives whole at the real server.
//  - FTP through NAT (edges_ftp_e2e_test.ts) and the SYN flood (edges_flood_e2e_test.ts).
// Needs root, iproute2, python3; skips loudly otherwise. Engine: $WVS_E2E_ENGINE.
import assert from "node:assert/strict";
import type { DirectorConfig, ServiceConfig } from "../../host/director/config.ts";
import { haveCommand, Netns, netnsUnavailable, reapStaleNamespaces } from "./netns.ts";
import {
  buildSegment,
  e2eDataplane,
  e2eEngine,
  PYTHON,
  startDirector,
  stopDirector,
  type Topology,
} from "./topology.ts";
import { ping, startDecap, startSink, upload } from "./edges_tools.ts";

const skip = netnsUnavailable() ?? (haveCommand(PYTHON) ? null : "python3 is not installed");
if (skip) console.warn(`\n*** SKIPPING issue 7 end-to-end tests: ${skip} ***\n`);
else await reapStaleNamespaces();

const echo = Deno.env.get("WVS_E2E_VERBOSE") ? (l: string) => console.log(`  | ${l}`) : undefined;

function config(topo: Topology, services: ServiceConfig[]): DirectorConfig {
  return { engine: e2eEngine(), ports: topo.ports, services, batch: 64, ...e2eDataplane() };
}

Deno.test({
  name:
    "PMTU over TUN: DF segments too big for the tunnel get frag needed 1480, the upload arrives whole",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const net = new Netns("p");
  try {
    const topo = await buildSegment(net, true);
    for (const r of topo.rs) {
      await startDecap(net, r.name);
      await startSink(net, r.name, 80);
    }
    const d = await startDirector(
      net,
      config(topo, [{
        protocol: "tcp",
        addr: topo.vip4,
        port: 80,
        sched: "rr",
        dests: topo.rs.map((r) => ({ addr: r.addr4, port: 80, fwd: "tunnel" as const })),
      }]),
      echo,
    );
    let stats;
    try {
      const before = await net.exec("cl", ["ip", "-4", "route", "get", topo.vip4]);
      assert.doesNotMatch(before.stdout, /mtu 1480/);
      const n = 400_000;
      const [got, sent] = await upload(net, "cl", topo.vip4, 80, n);
      assert.equal(got, sent, "the sink got every byte, in order");
      // The client's kernel took the director's frag needed: its route to the VIP is cached
      // with the tunnel MTU.
      const after = await net.exec("cl", ["ip", "-4", "route", "get", topo.vip4]);
      assert.match(after.stdout, /mtu 1480/, after.stdout);
      // Echo requests to the VIP are answered (by the director's host side, as the kernel
      // owning the VIP would; the real servers hold it on lo without answering ARP).
      assert.equal(await ping(net, "cl", topo.vip4, 2), 2, "echo replies from the VIP");
    } finally {
      stats = (await stopDirector(net, d)).stats;
    }
    assert.ok(stats.reasons.mtu_exceeded >= 1, JSON.stringify(stats.reasons));
    assert.ok(stats.counters.icmpSent >= 1, JSON.stringify(stats.counters));
    console.log(
      `  PMTU/TUN: mtu_exceeded ${stats.reasons.mtu_exceeded}, ICMP sent ${stats.counters.icmpSent}, ` +
        `tx ${stats.counters.tx}`,
    );
  } finally {
    await net.cleanup();
  }
});
