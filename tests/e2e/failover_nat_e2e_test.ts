// Failover of a NAT pair, end to end in network namespaces: both directions of every
// connection cross the director, so the backup must hold the synced entries for the
// replies too, and the real servers' default gateway (a floating address, NAT_GW) must move
// with the VIP. A client, a master and a backup director (both run with a control socket;
// the sync daemons and the takeover come from wvsadm), three real servers behind them. Long
// transfers run through the master; the master is killed (SIGKILL) and the backup takes
// over; every transfer must go on with no reset and no lost or changed byte, and new
// connections must be served. Needs root, iproute2, python3; skips loudly otherwise.
import assert from "node:assert/strict";
import {
  admOk,
  buildNatFailover,
  jsonLines,
  LB,
  type LongResult,
  NAT_BACK,
  NAT_GW,
  NAT_RS,
  startDirectorIn,
  startEcho,
  startLongClient,
  startShortClient,
  VIP,
} from "./failover_tools.ts";
import { haveCommand, Netns, netnsUnavailable, reapStaleNamespaces } from "./netns.ts";
import { e2eEngine, PYTHON } from "./topology.ts";

const LONG_CONNS = 8;
const LONG_SECONDS = 8;
const RATE = 200_000; // bytes/s per connection
const KILL_AT_MS = 3_000;
/** Time the "cluster manager" needs to notice. */
const DETECT_MS = 300;

const skip = netnsUnavailable() ?? (haveCommand(PYTHON) ? null : `${PYTHON} is not installed`);
if (skip) console.warn(`\n*** SKIPPING the NAT failover test: ${skip} ***\n`);
const echo = Deno.env.get("WVS_E2E_VERBOSE") ? (l: string) => console.log(`  | ${l}`) : undefined;

function config(lb: "lb1" | "lb2", socket: string) {
  return {
    engine: e2eEngine(),
    ports: [
      { ifname: "eth0", addrs: [`${LB[lb]}/24`] },
      { ifname: "eth1", addrs: [`${NAT_BACK[lb]}/24`], floating: [`${NAT_GW}/24`] },
    ],
    services: [{
      protocol: "tcp",
      addr: VIP,
      port: 80,
      sched: "rr",
      dests: NAT_RS.map((addr) => ({ addr, port: 80, fwd: "masq" })),
    }],
    control: { socket },
    sync: { daemons: [], standby: lb === "lb2" },
  };
}

Deno.test({
  name: "NAT failover: transfers survive the master's death, the gateway moves with the VIP",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await reapStaleNamespaces();
  const net = new Netns("fn");
  try {
    await buildNatFailover(net);
    await startEcho(net, 80);
    const dir = await net.tempDir("wvs-natfo-");
    const sock = { lb1: `${dir}/lb1.sock`, lb2: `${dir}/lb2.sock` };
    const adm = (lb: "lb1" | "lb2", ...args: string[]) => admOk(sock[lb], ...args);
    const backup = await startDirectorIn(net, "lb2", config("lb2", sock.lb2), echo);
    await adm("lb2", "--start-daemon", "backup", "--mcast-interface", "sync0");
    const master = await startDirectorIn(net, "lb1", config("lb1", sock.lb1), echo);
    await adm("lb1", "--start-daemon", "master", "--mcast-interface", "sync0");
    // The real servers learn the gateway's MAC (the master's) before the load starts.
    for (const n of ["rs1", "rs2", "rs3"]) {
      await net.exec(n, ["ping", "-c", "1", "-W", "2", NAT_GW], { check: false });
    }

    const long = startLongClient(net, 80, LONG_CONNS, LONG_SECONDS, RATE);
    await long.out.waitFor(/started/, 20_000);
    await new Promise((r) => setTimeout(r, KILL_AT_MS));
    const synced = (await adm("lb2", "-L", "-n", "-c")).split("\n")
      .filter((l) => l.startsWith("TCP") && l.includes("ESTABLISHED")).length;
    master.proc.child.kill("SIGKILL");
    await master.proc.child.status;
    await new Promise((r) => setTimeout(r, DETECT_MS));
    await adm("lb2", "--takeover");
    // New connections after the takeover are served by the backup.
    const short = startShortClient(net, 80, 2, 50);
    const ls = await long.child.status;
    await short.child.status;
    const longs = jsonLines<LongResult>(long.out.lines);
    const shorts = jsonLines<{ err: string | null }>(short.out.lines);
    const stats = await adm("lb2", "-L", "-n", "--stats");
    console.log(
      `  NAT failover: ${synced} established connections in the backup before the kill; ` +
        `long transfers ${longs.filter((r) => !r.err).length}/${longs.length} intact ` +
        `(max gap ${Math.max(...longs.map((r) => r.maxGapMs))} ms); short connections after ` +
        `takeover ${shorts.filter((r) => !r.err).length}/${shorts.length}`,
    );
    assert.equal(ls.code, 0, long.err.lines.join("\n"));
    assert.equal(longs.length, LONG_CONNS);
    assert.ok(synced >= LONG_CONNS, `the backup knew ${synced} established connections`);
    for (const r of longs) {
      assert.equal(r.err, null, `transfer ${r.id}: ${r.err}`);
      assert.ok(r.sent > 0 && r.recv === r.sent, `transfer ${r.id}: ${r.recv} of ${r.sent} bytes`);
    }
    assert.ok(shorts.length > 0 && shorts.every((r) => !r.err), JSON.stringify(shorts));
    // Replies crossed the backup: its per-server OutPkts grew.
    const outPkts = stats.split("\n").filter((l) => /-> \d/.test(l))
      .reduce((n, l) => n + Number(l.trim().split(/\s+/)[3]), 0);
    assert.ok(outPkts > 0, stats);
    await net.stop(backup.proc, "SIGTERM", 5000);
  } finally {
    await net.cleanup();
  }
});
