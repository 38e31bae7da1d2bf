// Issue 7 end to end: a SYN flood with spoofed sources (hping3 --flood on a core of its own,
// as fast as it goes, for FLOOD_S seconds, then it stops by itself) at a NAT service while legitimate clients
// open connections to it and an established connection keeps exchanging data. The
// director runs with a bounded table (maxConns) and drop_entry automatic: a full table
// evicts half-open entries for new connections. Pass: the table never exceeds its bound,
// at least 99% of the legitimate requests succeed, the established connection sees no
// error. The figures are printed. Spoofed sources stay in 198.18.0.0/24; everything runs in
// our namespaces (tests/e2e/netns.ts). Needs root, iproute2, python3, curl, hping3.
import assert from "node:assert/strict";
import type { DirectorConfig } from "../../host/director/config.ts";
import { haveCommand, Netns, netnsUnavailable, reapStaleNamespaces } from "./netns.ts";
import {
  buildNat,
  denoDirector,
  e2eDataplane,
  e2eEngine,
  PYTHON,
  startDirector,
  startHttpServers,
  stopDirector,
} from "./topology.ts";
import { startEcho, startProbe } from "./edges_tools.ts";

const HPING = "/usr/sbin/hping3";
const skip = netnsUnavailable() ??
  (haveCommand(PYTHON) && haveCommand("curl") ? null : "python3 or curl is not installed") ??
  (haveCommand(HPING) ? null : "hping3 is not installed (apt-get install hping3)");
if (skip) console.warn(`\n*** SKIPPING the SYN flood end-to-end test: ${skip} ***\n`);
else await reapStaleNamespaces();

/** `taskset -c cpu` where the machine has two cores or more (else nothing). */
function pin(cpu: number): string[] {
  return navigator.hardwareConcurrency >= 2 && haveCommand("taskset")
    ? ["taskset", "-c", String(cpu)]
    : [];
}

const echo = Deno.env.get("WVS_E2E_VERBOSE") ? (l: string) => console.log(`  | ${l}`) : undefined;
const FLOOD_S = Number(Deno.env.get("WVS_FLOOD_SECONDS") ?? 10);
/**
 * The table's bound. drop_entry evicts half-open entries near a cursor; IPVS takes any, so a
 * legitimate one waiting for its client's ACK can go (at 32 Ki, 2 of 4 runs here lost one that
 * way, tcp_no_syn; at 64 Ki none of 7). The engine now passes over entries younger than 200 ms
 * when an older one is in reach, and the larger table keeps the margin. It must stay below
 * what the spoofed sources offer.
 */
const MAX_CONNS = 65536;
/**
 * One hping3 per spoofed source (WVS_FLOOD_PROCS, default 2). hping3 walks the source ports,
 * so one source offers at most 65,536 distinct connections, no more than the table holds: in
 * one CI run with a single source the kernel dropped most of the flood before the director
 * (150k of 554k SYNs arrived, 61,379 distinct) and the table never reached pressure. Two
 * sources offer twice the bound.
 */
const SPOOFED = ["198.18.0.71", "198.18.0.72"].slice(
  0,
  Number(Deno.env.get("WVS_FLOOD_PROCS") ?? 2),
);

Deno.test({
  name: "a spoofed SYN flood neither starves new clients nor drops established connections",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const net = new Netns("s");
  try {
    const topo = await buildNat(net, false);
    await startHttpServers(net, topo, 8080);
    for (const r of topo.rs) await startEcho(net, r.name, 7);
    const config: DirectorConfig = {
      engine: e2eEngine(),
      ports: topo.ports,
      batch: Number(Deno.env.get("WVS_FLOOD_BATCH") ?? 256),
      ...e2eDataplane(),
      maxConns: MAX_CONNS,
      sysctl: { drop_entry: 1 },
      services: [
        {
          protocol: "tcp",
          addr: topo.vip4,
          port: 80,
          sched: "rr",
          dests: topo.rs.map((r) => ({ addr: r.addr4, port: 8080, fwd: "masq" as const })),
        },
        {
          protocol: "tcp",
          addr: topo.vip4,
          port: 7,
          sched: "rr",
          dests: topo.rs.map((r) => ({ addr: r.addr4, port: 7, fwd: "masq" as const })),
        },
      ],
    };
    const d = await startDirector(net, config, echo, (f) => [...pin(1), ...denoDirector(f)]);
    let stats;
    let legit = { ok: 0, fail: 0, p50: 0, max: 0 };
    let probe: [number, number, number, string] = [0, 0, 0, ""];
    let sent = 0;
    try {
      // An established connection that talks all through the flood.
      const p = await startProbe(net, "cl", topo.vip4, 7, FLOOD_S + 2);
      // The flood: one hping3 per spoofed source (its source port moves with every SYN, so
      // each SYN is a new connection), stopped by SIGINT after FLOOD_S seconds.
      const floods = SPOOFED.map((src) =>
        net.spawn("cl", [
          "timeout",
          "-s",
          "INT",
          String(FLOOD_S),
          // The director has CPU1 to itself; the generator gets CPU0, niced so that the
          // clients and servers there still run: it sends as fast as that core lets it.
          ...pin(0),
          "nice",
          "-n",
          "19",
          HPING,
          "-q",
          "-S",
          "-p",
          "80",
          "--flood",
          "-a",
          src,
          topo.vip4,
        ])
      );
      await new Promise((r) => setTimeout(r, 500));
      // Legitimate clients: three loops of new connections, one after another in each, while
      // the flood lasts.
      const script = `end=$(( $(date +%s) + ${FLOOD_S - 2} ))
for j in 1 2 3; do
  while [ $(date +%s) -lt $end ]; do
    curl -s -o /dev/null --max-time 15 -w '%{http_code} %{time_total}\\n' http://${topo.vip4}/
  done &
done
wait`;
      const r = await net.exec("cl", ["sh", "-c", script], {
        timeoutMs: (FLOOD_S + 20) * 1000,
        check: false, // the last curl may have timed out: counted below
      });
      // A client waits as curl does by default, through SYN retransmissions (1 s, 2 s, 4 s):
      // a request fails when no answer came within 15 s.
      const rows = r.stdout.trim().split("\n").filter((l) => l).map((l) => l.split(" "));
      const times = rows.filter(([c]) => c === "200").map(([, t]) => Number(t)).sort((a, b) =>
        a - b
      );
      legit = {
        ok: times.length,
        fail: rows.length - times.length,
        p50: times[Math.floor(times.length / 2)] ?? 0,
        max: times.at(-1) ?? 0,
      };
      for (const f of floods) {
        await f.child.status;
        await f.err.closed();
        const m = /(\d+) packets transmitted/.exec(f.err.lines.join("\n"));
        sent += m ? Number(m[1]) : 0;
      }
      probe = await p.done;
    } finally {
      stats = (await stopDirector(net, d)).stats;
    }
    const total = legit.ok + legit.fail;
    const rate = total ? (100 * legit.ok) / total : 0;
    console.log(
      `  flood: ${sent} spoofed SYNs in ${FLOOD_S} s (${
        Math.round(sent / FLOOD_S)
      }/s from hping3); ` +
        `director rx ${stats.counters.rx}, conns at the end ${stats.counters.conns} (bound ${MAX_CONNS}), ` +
        `half-open entries dropped ${stats.counters.connDropped}; reasons ${
          JSON.stringify(stats.reasons)
        }; ` +
        `ports ${JSON.stringify(stats.ports)}; counters ${JSON.stringify(stats.counters)}`,
    );
    console.log(
      `  legitimate: ${legit.ok}/${total} requests answered (${rate.toFixed(2)}%), ` +
        `time p50 ${legit.p50.toFixed(3)} s, max ${legit.max.toFixed(3)} s; ` +
        `established probe: ${probe[0]} round trips, ${probe[1]} stalls of 5 s ` +
        `(frames lost before the director), ${probe[2]} errors ${probe[3]}`,
    );
    assert.ok(sent > 10_000, `the flood reached only ${sent} SYNs`);
    assert.ok(stats.counters.conns <= MAX_CONNS, "the table stays within its bound");
    // On its own core hping3 sends ~90k SYN/s here, 40x what fills the table in the flood's
    // time: the defence must have been at work.
    assert.ok(stats.counters.connDropped > 0, "the table reached pressure and drop_entry evicted");
    // Under the flood most frames, legitimate SYNs included, are lost before the director
    // sees them (the kernel's ring overflows), so clients wait for SYN retransmissions:
    // few requests complete, and every one of them must.
    assert.ok(total >= 5, `only ${total} legitimate requests ran`);
    assert.ok(rate >= 99, `legitimate success ${rate.toFixed(2)}% < 99%`);
    // Not dropped: it was never reset or closed, and it still works after the flood.
    assert.equal(probe[2], 0, `the established connection failed: ${probe[3]}`);
    // The probe counts 2 for its two round trips after the flood: more means it also got
    // through during it.
    assert.ok(probe[0] > 2, `the established connection made no progress (${probe[0]})`);
  } finally {
    await net.cleanup();
  }
});
