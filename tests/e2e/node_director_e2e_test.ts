// The director under Node 20: host/director/main_node.ts bundled for Node
// (koffi for the system calls) forwards curl through NAT in the namespace
// testbed, with recvmmsg, the TPACKET ring and AF_XDP, and stops cleanly. Needs
// root, iproute2, node, curl, python3 and `npm ci` (koffi); skips loudly otherwise.
import assert from "node:assert/strict";
import { haveCommand, Netns, netnsUnavailable, reapStaleNamespaces } from "./netns.ts";
import {
  buildNat,
  curlMany,
  e2eEngine,
  PYTHON,
  REPO,
  startDirector,
  startHttpServers,
  stopDirector,
  tally,
} from "./topology.ts";

/** Our own bundle name (dist/node/test/ and dist/node/build/ belong to the library's Node run). */
export const NODE_DIRECTOR = `${REPO}dist/node/director/director.mjs`;

function haveKoffi(): boolean {
  try {
    Deno.statSync(`${REPO}node_modules/koffi/package.json`);
    return true;
  } catch {
    return false;
  }
}

const skip = netnsUnavailable() ??
  (["node", "curl", PYTHON].find((c) => !haveCommand(c)) ?? (haveKoffi() ? null : "koffi"));
if (skip) console.warn(`\n*** SKIPPING the Node director test: ${skip} is missing ***\n`);

/** Bundles main_node.ts for Node (koffi stays external: Node loads it from node_modules). */
export async function bundleNodeDirector(): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "-q",
      "--platform",
      "node",
      "--external",
      "koffi",
      "-o",
      NODE_DIRECTOR,
      `${REPO}host/director/main_node.ts`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`Cannot bundle: ${new TextDecoder().decode(out.stderr)}`);
}

Deno.test({
  name: "Director under Node (koffi) balances curl through NAT, with recvmmsg, the ring and AF_XDP",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  await reapStaleNamespaces();
  await bundleNodeDirector();
  const net = new Netns("node");
  try {
    const topo = await buildNat(net, false);
    await startHttpServers(net, topo, 8080);
    for (const io of ["mmsg", "ring", "xdp"] as const) {
      await t.step(`io ${io}: 9 curls answer 3 per real server, exit 0 on SIGTERM`, async () => {
        const d = await startDirector(
          net,
          {
            engine: e2eEngine(),
            io,
            ports: topo.ports,
            services: [{
              protocol: "tcp",
              addr: topo.vip4,
              port: 80,
              sched: "rr",
              dests: topo.rs.map((r) => ({ addr: r.addr4, port: 8080, fwd: "masq" })),
            }],
          },
          undefined,
          (file) => ["node", NODE_DIRECTOR, "--config", file],
        );
        let r;
        try {
          const res = await curlMany(net, "cl", `http://${topo.vip4}/`, 9);
          assert.deepEqual(res.filter((x) => x.http !== "200"), [], JSON.stringify(res));
          assert.deepEqual(tally(res.map((x) => x.body)), { rs1: 3, rs2: 3, rs3: 3 });
        } finally {
          r = await stopDirector(net, d);
        }
        assert.equal(r.code, 0, r.errors.join("\n"));
        assert.equal(r.stats?.counters.connNew, 9);
        assert.ok(r.lines.some((l) => l.startsWith("wvs director up")), r.lines.join("\n"));
        if (io === "xdp") {
          // The sockets really were XDP sockets (koffi maps the rings; Atomics over its views).
          assert.ok(r.lines.some((l) => /: AF_XDP, \w+ XDP/.test(l)), r.lines.join("\n"));
        }
      });
    }
  } finally {
    await net.cleanup();
  }
});
