// End to end through real namespaces: curl and UDP clients, the director as a
// separate process on AF_PACKET ports, python real servers. Checks that every
// response arrives, that they spread over the real servers exactly as the
// scheduler says (sequential new connections make rr and wrr deterministic),
// that no connection is reset, and that the director stops cleanly on SIGTERM.
// Needs root and iproute2; skips loudly otherwise. Engine: $WVS_E2E_ENGINE
// (wasm by default, ts for the reference engine).
import assert from "node:assert/strict";
import type { DirectorConfig, ServiceConfig } from "../../host/director/config.ts";
import { haveCommand, Netns, netnsUnavailable, reapStaleNamespaces } from "./netns.ts";
import {
  buildNat,
  buildSegment,
  curlMany,
  e2eDataplane,
  e2eEngine,
  PYTHON,
  startDirector,
  startHttpServers,
  startUdpEcho,
  stopDirector,
  tally,
  type Topology,
  udpMany,
} from "./topology.ts";

const REQUESTS = 30;
const BIG = 1_000_000;

function skipReason(...cmds: string[]): string | null {
  const why = netnsUnavailable();
  if (why) return why;
  for (const c of [PYTHON, ...cmds]) if (!haveCommand(c)) return `${c} is not installed`;
  return null;
}

const skipHttp = skipReason("curl");
if (skipHttp) console.warn(`\n*** SKIPPING end-to-end director tests: ${skipHttp} ***\n`);
if (!skipHttp && !haveCommand("ethtool")) {
  console.warn(
    "\n*** SKIPPING the bulk-download step: ethtool is not installed (veth TSO stays on) ***\n",
  );
}
const skipTun = skipHttp ?? (haveCommand("tshark") ? null : "tshark is not installed");
if (skipTun && !skipHttp) console.warn(`\n*** SKIPPING the TUN capture test: ${skipTun} ***\n`);

if (!skipHttp) {
  await reapStaleNamespaces();
}

const echo = Deno.env.get("WVS_E2E_VERBOSE") ? (l: string) => console.log(`  | ${l}`) : undefined;

function config(topo: Topology, services: ServiceConfig[]): DirectorConfig {
  return { engine: e2eEngine(), ports: topo.ports, services, batch: 64, ...e2eDataplane() };
}

function dests(
  topo: Topology,
  fwd: "masq" | "route" | "tunnel",
  port: number,
  weights = [1, 1, 1],
  v6 = false,
) {
  return topo.rs.map((r, i) => ({ addr: v6 ? r.addr6! : r.addr4, port, fwd, weight: weights[i] }));
}

/** IPVS lists dests newest first, so the first one chosen is the last one added. */
function assertAllAnswered(
  results: { body: string; http: string; exit: number }[],
  what: string,
): string[] {
  const bad = results.filter((r) => r.exit !== 0 || r.http !== "200");
  assert.equal(
    bad.length,
    0,
    `${what}: ${bad.length} of ${results.length} requests failed: ${
      JSON.stringify(bad.slice(0, 5))
    }`,
  );
  assert.equal(results.length, REQUESTS);
  return results.map((r) => r.body);
}

Deno.test({
  name: "Director in NAT mode balances curl over IPv4 and IPv6 and UDP, as rr and wrr say",
  ignore: skipHttp !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const net = new Netns("n");
  try {
    const topo = await buildNat(net, true);
    await startHttpServers(net, topo, 8080, BIG);
    await startUdpEcho(net, topo, 5353);
    const d = await startDirector(
      net,
      config(topo, [
        {
          protocol: "tcp",
          addr: topo.vip4,
          port: 80,
          sched: "rr",
          dests: dests(topo, "masq", 8080),
        },
        {
          protocol: "tcp",
          addr: topo.vip4,
          port: 81,
          sched: "wrr",
          dests: dests(topo, "masq", 8080, [3, 2, 1]),
        },
        {
          protocol: "udp",
          addr: topo.vip4,
          port: 53,
          sched: "rr",
          dests: dests(topo, "masq", 5353),
        },
        {
          protocol: "tcp",
          addr: topo.vip6!,
          port: 80,
          sched: "rr",
          dests: dests(topo, "masq", 8080, [1, 1, 1], true),
        },
      ]),
      echo,
    );
    let stopped = false;
    try {
      await t.step(
        `${REQUESTS} curls to ${topo.vip4}:80 (rr) all answer, 10 per real server`,
        async () => {
          const names = assertAllAnswered(
            await curlMany(net, "cl", `http://${topo.vip4}/`, REQUESTS),
            "NAT rr",
          );
          assert.deepEqual(tally(names), { rs1: 10, rs2: 10, rs3: 10 });
          // Strict rotation, not just equal totals.
          for (let i = 3; i < names.length; i++) assert.equal(names[i], names[i - 3]);
        },
      );
      await t.step(
        `${REQUESTS} curls to ${topo.vip4}:81 (wrr 3:2:1) all answer, 15/10/5`,
        async () => {
          const names = assertAllAnswered(
            await curlMany(net, "cl", `http://${topo.vip4}:81/`, REQUESTS),
            "NAT wrr",
          );
          assert.deepEqual(tally(names), { rs1: 15, rs2: 10, rs3: 5 });
        },
      );
      await t.step(
        `${REQUESTS} UDP datagrams to ${topo.vip4}:53 (rr) all echo, 10 per real server`,
        async () => {
          const names = await udpMany(net, "cl", topo.vip4, 53, REQUESTS);
          assert.deepEqual(tally(names), { rs1: 10, rs2: 10, rs3: 10 });
        },
      );
      await t.step(
        `${REQUESTS} curls to [${topo.vip6}]:80 (rr) all answer, 10 per real server`,
        async () => {
          const names = assertAllAnswered(
            await curlMany(net, "cl", `http://[${topo.vip6}]/`, REQUESTS),
            "NAT6 rr",
          );
          assert.deepEqual(tally(names), { rs1: 10, rs2: 10, rs3: 10 });
        },
      );
      await t.step({
        name:
          `3 downloads of ${BIG} bytes through NAT arrive whole (MTU-sized frames, checksums fixed up)`,
        ignore: !topo.bulkOk,
        fn: async () => {
          const r = await net.exec("cl", [
            "sh",
            "-c",
            `for i in 1 2 3; do curl -sS --max-time 10 -o /dev/null \
            -w '%{http_code} %{size_download}\n' http://${topo.vip4}/big; done`,
          ], { timeoutMs: 40_000 });
          assert.deepEqual(
            r.stdout.trim().split("\n"),
            [`200 ${BIG}`, `200 ${BIG}`, `200 ${BIG}`],
            r.stderr,
          );
        },
      });
      await t.step(
        "the director stops on SIGTERM with exit 0 and consistent counters",
        async () => {
          const r = await stopDirector(net, d);
          stopped = true;
          assert.equal(r.code, 0, r.errors.join("\n"));
          assert.ok(r.stats, "a final stats line");
          assert.equal(r.stats.counters.connNew, 4 * REQUESTS + (topo.bulkOk ? 3 : 0));
          for (const reason of ["no_neigh", "conn_full", "no_dest", "bad_desc"]) {
            assert.equal(
              r.stats.reasons[reason] ?? 0,
              0,
              `no ${reason} drops: ${JSON.stringify(r.stats.reasons)}`,
            );
          }
          console.log(
            `  NAT director stats: ${JSON.stringify(r.stats.counters)} reasons ${
              JSON.stringify(r.stats.reasons)
            }`,
          );
        },
      );
    } finally {
      if (!stopped) await stopDirector(net, d).catch(() => {});
    }
  } finally {
    await net.cleanup();
  }
});

Deno.test({
  name: "Director in DR mode balances curl to real servers that hold the VIP on lo",
  ignore: skipHttp !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const net = new Netns("d");
  try {
    const topo = await buildSegment(net, true);
    await startHttpServers(net, topo, 80);
    const d = await startDirector(
      net,
      config(topo, [{
        protocol: "tcp",
        addr: topo.vip4,
        port: 80,
        sched: "wrr",
        dests: dests(topo, "route", 80, [1, 1, 1]),
      }]),
      echo,
    );
    try {
      await t.step(
        `${REQUESTS} curls to ${topo.vip4} all answer from the real servers directly, 10 each`,
        async () => {
          const names = assertAllAnswered(
            await curlMany(net, "cl", `http://${topo.vip4}/`, REQUESTS),
            "DR",
          );
          assert.deepEqual(tally(names), { rs1: 10, rs2: 10, rs3: 10 });
        },
      );
    } finally {
      const r = await stopDirector(net, d);
      assert.equal(r.code, 0, r.errors.join("\n"));
      // Replies bypass the director in DR: it saw no out-direction packets.
      const out = r.stats.services[0].dests.reduce(
        (n: number, x: { outPkts: number }) => n + x.outPkts,
        0,
      );
      assert.equal(out, 0);
      console.log(`  DR director stats: ${JSON.stringify(r.stats.counters)}`);
    }
  } finally {
    await net.cleanup();
  }
});

Deno.test({
  name: "Director in TUN mode sends IPIP to each real server, as a capture there shows",
  ignore: skipTun !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  // This kernel has no ipip module, so the real servers cannot decapsulate:
  // the check is on the wire, at each real server, with tshark.
  const net = new Netns("t");
  try {
    const topo = await buildSegment(net, false);
    const caps = topo.rs.map((r) => {
      const s = net.spawn(r.name, [
        "tshark",
        "-l",
        "-n",
        "-i",
        "eth0",
        "-a",
        "duration:20",
        "-f",
        "ip proto 4",
        "-T",
        "fields",
        "-e",
        "ip.src",
        "-e",
        "ip.dst",
        "-e",
        "ip.proto",
        "-e",
        "udp.dstport",
      ]);
      return { rs: r, s };
    });
    await Promise.all(caps.map((c) => c.s.err.waitFor(/Capturing on/, 15_000)));
    const d = await startDirector(
      net,
      config(topo, [{
        protocol: "udp",
        addr: topo.vip4,
        port: 53,
        sched: "rr",
        dests: dests(topo, "tunnel", 0),
      }]),
      echo,
    );
    try {
      const replies = await udpMany(net, "cl", topo.vip4, 53, 6, 0.2);
      assert.ok(replies.every((r) => r === "TIMEOUT"), "no decapsulation here, so no replies");
    } finally {
      const r = await stopDirector(net, d);
      assert.equal(r.code, 0, r.errors.join("\n"));
    }
    for (const c of caps) await net.stop(c.s, "SIGINT", 5000);
    for (const c of caps) {
      // Each line: outer src, "outer dst,inner dst", "4,17", udp dport.
      const rows = c.s.out.lines.filter((l) => l.trim()).map((l) => l.split("\t"));
      assert.equal(
        rows.length,
        2,
        `2 of 6 datagrams reach ${c.rs.name} (rr): ${c.s.out.lines.join(" / ")}`,
      );
      for (const [src, dst, proto, dport] of rows) {
        assert.equal(
          src.split(",")[0],
          "198.18.2.254",
          "outer source is the director's port address",
        );
        assert.deepEqual(
          dst.split(","),
          [c.rs.addr4, topo.vip4],
          "outer dst is the real server, inner dst the VIP",
        );
        assert.deepEqual(proto.split(","), ["4", "17"], "IPIP carrying UDP");
        assert.equal(dport, "53");
      }
    }
  } finally {
    await net.cleanup();
  }
});
