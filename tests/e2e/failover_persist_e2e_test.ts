// Persistence across a failover, end to end in network namespaces (issue 6): the failover
// topology (failover_tools.ts: a client, a master and a backup director on a DR segment,
// three real servers, a sync link), a persistent service (`wvsadm -E ... -p`, one template
// per client address), sync daemons from the directors' config files. Three client
// addresses connect through the master, which spreads them over the three real servers
// (rr); the master is killed, the backup takes over, and each address's next connection
// must reach the real server the master chose. They ask in another order than before, so
// that the backup's own rr would map them differently: only the synced templates give the
// right answer. Needs root, iproute2, python3; skips loudly otherwise.
import assert from "node:assert/strict";
import { admOk, buildFailover, jsonLines, LB, RS, startDirectorIn, VIP } from "./failover_tools.ts";
import { haveCommand, Netns, netnsUnavailable, reapStaleNamespaces } from "./netns.ts";
import { e2eEngine, PYTHON } from "./topology.ts";

const CLIENTS = ["198.18.2.1", "198.18.2.2", "198.18.2.3"];
const PORT = 80;
/** Time for the master's last sync message (flushed after 20 ms) to reach the backup. */
const SETTLE_MS = 1_000;

const skip = netnsUnavailable() ?? (haveCommand(PYTHON) ? null : `${PYTHON} is not installed`);
if (skip) console.warn(`\n*** SKIPPING the persistence failover test: ${skip} ***\n`);
const echo = Deno.env.get("WVS_E2E_VERBOSE") ? (l: string) => console.log(`  | ${l}`) : undefined;

/** argv: port name. Sends its name to every connection, then closes it. */
const NAME_SERVER = `
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(64)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    try:
        c.sendall(sys.argv[2].encode() + b"\\n")
    except OSError:
        pass
    c.close()
`;

/** argv: vip port src...: one connection from each source address; a JSON line each. */
const ASK = `
import json, socket, sys
vip, port = sys.argv[1], int(sys.argv[2])
for src in sys.argv[3:]:
    r = {"src": src, "server": None, "err": None}
    try:
        s = socket.create_connection((vip, port), timeout=5, source_address=(src, 0))
        s.settimeout(5); got = b""
        while not got.endswith(b"\\n"):
            d = s.recv(100)
            if not d: break
            got += d
        r["server"] = got.decode().strip() or None
        s.close()
    except OSError as e:
        r["err"] = repr(e)
    print(json.dumps(r), flush=True)
`;

interface Answer {
  src: string;
  server: string | null;
  err: string | null;
}

function directorConfig(own: string, state: "master" | "backup", socket: string) {
  return {
    engine: e2eEngine(),
    batch: 64,
    ports: [{ ifname: "eth0", addrs: [`${own}/24`] }],
    // Seeds the control plane; wvsadm makes it persistent below.
    services: [{
      protocol: "tcp",
      addr: VIP,
      port: PORT,
      sched: "rr",
      dests: RS.map((addr) => ({ addr, port: PORT, fwd: "route" })),
    }],
    control: { socket },
    sync: {
      daemons: [{ state, mcastIfn: "sync0", syncid: 9 }],
      standby: state === "backup",
    },
  };
}

Deno.test({
  name: "failover: persistent clients keep their real server after the backup takes over",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await reapStaleNamespaces();
  const net = new Netns("p");
  try {
    await buildFailover(net);
    for (const a of CLIENTS.slice(1)) await net.addr("cl", "eth0", `${a}/24`);
    await Promise.all(
      ["rs1", "rs2", "rs3"].map((n) =>
        net.spawn(n, [PYTHON, "-u", "-c", NAME_SERVER, String(PORT), n]).out
          .waitFor(/listening/, 10_000)
      ),
    );
    const dir = await net.tempDir("wvs-persist-");
    const sockets = { lb1: `${dir}/lb1.sock`, lb2: `${dir}/lb2.sock` };
    const adm = (lb: "lb1" | "lb2", ...args: string[]) => admOk(sockets[lb], ...args);
    const backup = await startDirectorIn(
      net,
      "lb2",
      directorConfig(LB.lb2, "backup", sockets.lb2),
      echo,
    );
    const master = await startDirectorIn(
      net,
      "lb1",
      directorConfig(LB.lb1, "master", sockets.lb1),
      echo,
    );
    // The same persistent service on both (IPVS asks the same of its directors).
    for (const lb of ["lb1", "lb2"] as const) {
      await adm(lb, "-E", "-t", `${VIP}:${PORT}`, "-s", "rr", "-p", "120");
      assert.match(await adm(lb, "-L", "-n"), /persistent 120/);
    }
    await net.exec("cl", ["ping", "-c", "1", "-W", "2", VIP], { check: false });
    /** One connection per client address, in `order`; the answers in CLIENTS order. */
    const ask = async (order = CLIENTS) => {
      const p = net.spawn("cl", [PYTHON, "-u", "-c", ASK, VIP, String(PORT), ...order]);
      const st = await p.child.status;
      assert.equal(st.code, 0, p.err.lines.join("\n"));
      const got = jsonLines<Answer>(p.out.lines);
      return CLIENTS.map((c) => got.find((x) => x.src === c)!);
    };
    const before = await ask();
    // Twice: the second round goes through the templates the first made.
    const again = await ask();
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const masterConns = await adm("lb1", "-L", "-n", "-c");
    const backupConns = await adm("lb2", "-L", "-n", "-c");

    master.proc.child.kill("SIGKILL");
    await master.proc.child.status;
    await adm("lb2", "--takeover");
    // In reverse order: the backup's own rr, fresh, would give them the master's first
    // three picks in the master's order, so only the templates can map each correctly.
    const after = await ask([...CLIENTS].reverse());
    const syncStats = backup.proc.out.lines.filter((l) => l.startsWith("wvs sync stats:")).at(-1);
    await net.stop(backup.proc, "SIGTERM", 5000);
    await Deno.remove(backup.configFile).catch(() => {});
    await Deno.remove(master.configFile).catch(() => {});

    const servers = (xs: Answer[]) => xs.map((x) => x.server);
    console.log(`persistence failover report: ${
      JSON.stringify({
        engine: e2eEngine(),
        before: servers(before),
        again: servers(again),
        after: servers(after),
        backupSync: syncStats,
      })
    }`);
    if (Deno.env.get("WVS_E2E_VERBOSE")) {
      console.log(`master -Lnc:\n${masterConns}\nbackup -Lnc before takeover:\n${backupConns}`);
    }
    for (const xs of [before, again, after]) {
      assert.deepEqual(xs.filter((x) => x.err || !x.server), [], "every connection is served");
    }
    assert.equal(new Set(servers(before)).size, 3, "rr spread the three clients");
    assert.deepEqual(servers(again), servers(before), "the master keeps them (persistence)");
    assert.match(backupConns, /NONE|ASSURED/, "the backup holds templates before the takeover");
    assert.deepEqual(servers(after), servers(before), "the backup sends each to the same one");
  } finally {
    await net.cleanup();
  }
});
