// The director's daemon loop on real interfaces, beyond forwarding: two
// workers sharing the interfaces through the client-hash fanout (each NAT
// connection's two directions on one worker), ICMP echo to the VIP, client
// MACs learned from traffic (the client never ARPs: its neighbour entry for
// the VIP is static), and a SIGHUP reload that takes a real server out.
// Needs root, iproute2, curl and python3; skips loudly otherwise.
import assert from "node:assert/strict";
import type { DirectorConfig } from "../../host/director/config.ts";
import { haveCommand, Netns, netnsUnavailable, reapStaleNamespaces } from "./netns.ts";
import {
  buildNat,
  curlMany,
  e2eEngine,
  PYTHON,
  startDirector,
  startHttpServers,
  stopDirector,
  tally,
} from "./topology.ts";

const skip = netnsUnavailable() ?? ["curl", PYTHON].find((c) => !haveCommand(c)) ?? null;
if (skip) console.warn(`\n*** SKIPPING the director operations test: ${skip} ***\n`);

/** Sends `n` ICMP echo requests to argv[1] from a raw socket; prints how many were answered. */
const PING = `
import os, socket, struct, sys, time
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(2)
ok = 0
for seq in range(int(sys.argv[2])):
    body = struct.pack("!BBHHH", 8, 0, 0, 0x77, seq) + b"wvs-ping"
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    s.sendto(body, (sys.argv[1], 0))
    try:
        while True:
            d, a = s.recvfrom(2048)
            ihl = (d[0] & 15) * 4
            t, _, c, ident, sq = struct.unpack("!BBHHH", d[ihl:ihl + 8])
            if t == 0 and ident == 0x77 and sq == seq and csum(d[ihl:]) == 0:
                ok += 1
                break
    except socket.timeout:
        pass
print(ok)
`;

const echo = Deno.env.get("WVS_E2E_VERBOSE") ? (l: string) => console.log(`  | ${l}`) : undefined;

Deno.test({
  name:
    "Director with 2 workers answers ping, learns the client from traffic, and reloads on SIGHUP",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  await reapStaleNamespaces();
  const net = new Netns("ops");
  try {
    const topo = await buildNat(net, false);
    await startHttpServers(net, topo, 8080);
    // The client knows the VIP's MAC already (as after a director restart): it will not ARP.
    await net.ip("cl", "neigh", "replace", topo.vip4, "lladdr", "02:00:00:00:00:fe", "dev", "eth0");
    const config = (n: number): DirectorConfig => ({
      engine: e2eEngine(),
      workers: 2,
      io: "ring",
      ports: topo.ports,
      services: [{
        protocol: "tcp",
        addr: topo.vip4,
        port: 80,
        sched: "rr",
        dests: topo.rs.slice(0, n).map((r) => ({ addr: r.addr4, port: 8080, fwd: "masq" })),
      }],
    });
    const d = await startDirector(net, config(3), echo);
    let r;
    try {
      await t.step("ping to the VIP is answered", async () => {
        const p = await net.exec("cl", [PYTHON, "-c", PING, topo.vip4, "3"], { timeoutMs: 15_000 });
        assert.equal(p.stdout.trim(), "3", "3 echo replies with a valid checksum");
      });
      await t.step("30 curls all answer, from all three real servers", async () => {
        const res = await curlMany(net, "cl", `http://${topo.vip4}/`, 30);
        assert.deepEqual(res.filter((x) => x.http !== "200"), [], JSON.stringify(res));
        const n = tally(res.map((x) => x.body));
        assert.deepEqual(Object.keys(n).sort(), ["rs1", "rs2", "rs3"], JSON.stringify(n));
      });
      await t.step(
        "SIGHUP with rs3 removed from the file: rs3 gets no new connection",
        async () => {
          await Deno.writeTextFile(d.configFile, JSON.stringify(config(2)));
          d.proc.child.kill("SIGHUP");
          const line = await d.proc.out.waitFor(/wvs director: reload/, 10_000);
          assert.match(line, /deleted dest 198\.18\.1\.3/);
          const res = await curlMany(net, "cl", `http://${topo.vip4}/`, 12);
          assert.deepEqual(res.filter((x) => x.http !== "200"), [], JSON.stringify(res));
          assert.equal(tally(res.map((x) => x.body)).rs3, undefined);
        },
      );
    } finally {
      r = await stopDirector(net, d);
    }
    await t.step("it stops with exit 0; both workers forwarded; no frame lacked a next hop", () => {
      assert.equal(r.code, 0, r.errors.join("\n"));
      const s = r.stats!;
      assert.equal(s.workers?.length, 2, JSON.stringify(s));
      for (const w of s.workers!) {
        assert.ok(w.tx > 0, `every worker forwarded: ${JSON.stringify(s.workers)}`);
      }
      assert.equal(s.reasons.no_neigh ?? 0, 0, JSON.stringify(s.reasons));
      assert.equal(s.counters.connNew, 42);
    });
  } finally {
    await net.cleanup();
  }
});
