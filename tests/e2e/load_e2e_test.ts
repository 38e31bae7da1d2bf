// Real load clients through the director (NAT, IPv4): wrk with short connections
// and with keep-alive against nginx on three real servers, and iperf3 against one.
// Checks that wrk sees no socket error (a reset would be a read error) and only
// 2xx answers, that rr spread the connections evenly (the director's per-dest
// statistics), and that iperf3's transfer arrived through the director. Bounded: two
// 3-second wrk runs and a 2-second iperf3. Needs root, iproute2, wrk, iperf3,
// curl and ethtool, and nginx or python3 for the web servers; skips loudly otherwise.
import assert from "node:assert/strict";
import { haveCommand, Netns, netnsUnavailable, reapStaleNamespaces } from "./netns.ts";
import {
  buildNat,
  e2eDataplane,
  e2eEngine,
  PYTHON,
  startDirector,
  startHttpServers,
  startNginx,
  stopDirector,
} from "./topology.ts";

const HTTP = 80;
const IPERF = 5201;
const WRK_S = 3;

const skip = netnsUnavailable() ??
  ["wrk", "iperf3", "curl", "ethtool"].find((c) => !haveCommand(c)) ??
  (haveCommand("nginx") || haveCommand(PYTHON) ? null : "nginx (or python3)");
if (skip) console.warn(`\n*** SKIPPING the wrk/iperf3 end-to-end test: ${skip} is missing ***\n`);

/** wrk's summary: requests done, and its error lines (none when all went well). */
function wrkSummary(out: string): { requests: number; errors: string[] } {
  const m = out.match(/(\d+) requests in /);
  const errors = out.split("\n").filter((l) => /Socket errors|Non-2xx or 3xx/.test(l)).map((l) =>
    l.trim()
  );
  return { requests: m ? Number(m[1]) : 0, errors };
}

Deno.test({
  name: "wrk and iperf3 through NAT: no socket errors, rr spreads connections evenly, data moves",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  await reapStaleNamespaces();
  const net = new Netns("load");
  try {
    const topo = await buildNat(net, false);
    if (haveCommand("nginx")) await startNginx(net, topo, HTTP);
    else await startHttpServers(net, topo, HTTP);
    net.spawn(topo.rs[0].name, ["iperf3", "-s", "-p", String(IPERF)]);
    const d = await startDirector(net, {
      engine: e2eEngine(),
      ...e2eDataplane(),
      // Short connections linger in TIME_WAIT (2 min): room for a fast machine's 3 s of them.
      maxConns: 1 << 18,
      ports: topo.ports,
      services: [
        {
          protocol: "tcp",
          addr: topo.vip4,
          port: HTTP,
          sched: "rr",
          dests: topo.rs.map((r) => ({ addr: r.addr4, port: HTTP, fwd: "masq" as const })),
        },
        // iperf3's control and data connections must meet the same server: one dest.
        {
          protocol: "tcp",
          addr: topo.vip4,
          port: IPERF,
          sched: "rr",
          dests: [{ addr: topo.rs[0].addr4, port: IPERF, fwd: "masq" as const }],
        },
      ],
    });
    let r;
    const wrk: { requests: number; errors: string[] }[] = [];
    let iperf: { sent: number; received: number; error?: string } | undefined;
    try {
      const url = `http://${topo.vip4}/`;
      await t.step(`wrk, Connection: close, ${WRK_S} s`, async () => {
        const out = await net.exec("cl", [
          "wrk",
          "-t1",
          "-c8",
          `-d${WRK_S}s`,
          "-H",
          "Connection: close",
          url,
        ], { timeoutMs: 30_000 });
        wrk.push(wrkSummary(out.stdout));
        console.log(`  wrk close: ${wrk[0].requests} requests`);
        assert.deepEqual(wrk[0].errors, [], out.stdout);
        assert.ok(wrk[0].requests >= 100, out.stdout);
      });
      await t.step(`wrk, keep-alive, ${WRK_S} s`, async () => {
        const out = await net.exec("cl", ["wrk", "-t1", "-c8", `-d${WRK_S}s`, url], {
          timeoutMs: 30_000,
        });
        wrk.push(wrkSummary(out.stdout));
        console.log(`  wrk keep-alive: ${wrk[1].requests} requests`);
        assert.deepEqual(wrk[1].errors, [], out.stdout);
        assert.ok(wrk[1].requests >= 100, out.stdout);
      });
      await t.step("iperf3, 2 s", async () => {
        const out = await net.exec("cl", [
          "iperf3",
          "-c",
          topo.vip4,
          "-p",
          String(IPERF),
          "-t",
          "2",
          "-J",
        ], { timeoutMs: 30_000 });
        const j = JSON.parse(out.stdout);
        iperf = {
          sent: j.end?.sum_sent?.bytes ?? 0,
          received: j.end?.sum_received?.bytes ?? 0,
          error: j.error,
        };
        const mbit = (j.end?.sum_received?.bits_per_second ?? 0) / 1e6;
        console.log(`  iperf3: ${iperf.received} bytes received, ${mbit.toFixed(0)} Mbit/s`);
        assert.equal(iperf.error, undefined, out.stdout.slice(0, 500));
        assert.ok(iperf.received > 1_000_000, JSON.stringify(iperf));
      });
    } finally {
      r = await stopDirector(net, d);
    }
    assert.equal(r.code, 0, r.errors.join("\n"));
    // Every closed request was a connection of its own; keep-alive added its 8.
    const conns = r.stats.services[0].dests.map((x: { conns: number }) => x.conns);
    const total = conns.reduce((a: number, b: number) => a + b, 0);
    assert.ok(total >= wrk[0].requests, `${total} connections for ${wrk[0].requests} requests`);
    assert.ok(Math.max(...conns) - Math.min(...conns) <= 1, `rr spread ${conns.join(" / ")}`);
    assert.ok(r.stats.services[1].dests[0].conns >= 2, "iperf3: control and data connection");
  } finally {
    await net.cleanup();
  }
});
