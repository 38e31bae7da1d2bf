// wvsadm against the running network director (its embedded control socket): services
// added, drained and listed while real traffic flows; Prometheus text with its interfaces; the sync daemon started and shown;
// a bad command refused whole; the configuration saved on SIGTERM and restored at the
// next start, which then forwards without any wvsadm command.
// Needs root, iproute2, curl and python3; skips loudly otherwise.
import assert from "node:assert/strict";
import type { DirectorConfig } from "../../host/director/config.ts";
import { wvsadm } from "../../host/wvsadm.ts";
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
if (skip) console.warn(`\n*** SKIPPING the director control-socket test: ${skip} ***\n`);

const echo = Deno.env.get("WVS_E2E_VERBOSE") ? (l: string) => console.log(`  | ${l}`) : undefined;

for (const workers of [0, 1]) {
  Deno.test({
    name: `wvsadm drives the running director (workers: ${workers}): add, drain, list, ` +
      `${workers ? "" : "sync daemon, "}save and restore`,
    ignore: skip !== null,
    sanitizeOps: false,
    sanitizeResources: false,
  }, (t) => scenario(t, workers));
}

/** One data plane: on the main thread (0) or in a Worker (1), where the engine is remote. */
async function scenario(t: Deno.TestContext, workers: number): Promise<void> {
  await reapStaleNamespaces();
  const net = new Netns(`ctl${workers}`);
  const dir = await Deno.makeTempDir({ prefix: "wvs-ctl-" });
  const socket = `${dir}/wvs.sock`;
  const adm = (args: string[], stdin = "") => wvsadm(args, () => Promise.resolve(stdin), socket);
  try {
    const topo = await buildNat(net, false);
    await startHttpServers(net, topo, 8080);
    const config: DirectorConfig = {
      engine: e2eEngine(),
      ports: topo.ports,
      workers,
      services: [],
      control: { socket, stateDir: `${dir}/state`, metrics: "127.0.0.1:9910" },
    };
    let d = await startDirector(net, config, echo);
    const vip = `${topo.vip4}:80`;

    await t.step("rules loaded with -R reach the engine and the network", async () => {
      const rules = [`-A -t ${vip} -s rr`]
        .concat(topo.rs.map((r) => `-a -t ${vip} -r ${r.addr4}:8080 -m -w 1`)).join("\n") + "\n";
      const r = await adm(["-R"], rules);
      assert.equal(r.status, 0, r.stderr);
      const list = await adm(["-L", "-n"]);
      assert.match(list.stdout, new RegExp(`TCP  ${topo.vip4.replaceAll(".", "\\.")}:80 rr`));
      for (const rs of topo.rs) {
        assert.match(list.stdout, new RegExp(`-> ${rs.addr4}:8080 +Masq +1`));
      }
      const res = await curlMany(net, "cl", `http://${vip}/`, 30);
      assert.deepEqual(res.filter((x) => x.http !== "200"), [], "every request answered");
      const spread = tally(res.map((x) => x.body));
      assert.deepEqual(Object.values(spread).sort(), [10, 10, 10], JSON.stringify(spread));
      const stats = await adm(["-L", "-n", "--stats"]);
      const conns = stats.stdout.split("\n").filter((l) => /-> \d/.test(l))
        .reduce((n, l) => n + Number(l.trim().split(/\s+/)[2]), 0);
      assert.equal(conns, 30, stats.stdout);
      // The connection table, from wherever the engine runs (a Worker's is remote).
      const table = (await adm(["-L", "-n", "-c"])).stdout.split("\n")
        .filter((l) => / 198\.18\.0\.100:80 +198\.18\.1\.\d:8080$/.test(l));
      assert.equal(table.length, 30, table.join("\n"));
    });

    await t.step("/metrics has the services, the engine and the interfaces", async () => {
      const r = await net.exec("lb", ["curl", "-sS", "http://127.0.0.1:9910/metrics"]);
      const value = (re: RegExp) => Number(re.exec(r.stdout)?.[1] ?? NaN);
      assert.ok(value(/^wvs_port_received_frames_total\{port="eth0"\} (\d+)$/m) > 0, r.stdout);
      assert.ok(value(/^wvs_port_transmitted_frames_total\{port="eth1"\} (\d+)$/m) > 0);
      assert.ok(value(/^wvs_port_kernel_drops_total\{port="eth0"\} (\d+)$/m) >= 0);
      assert.ok(value(/^wvs_connections_created_total (\d+)$/m) >= 30);
    });

    await t.step("a drained server (weight 0) gets no new connections", async () => {
      const drained = topo.rs[2];
      const r = await adm(["-e", "-t", vip, "-r", `${drained.addr4}:8080`, "-m", "-w", "0"]);
      assert.equal(r.status, 0, r.stderr);
      const res = await curlMany(net, "cl", `http://${vip}/`, 20);
      assert.deepEqual(res.filter((x) => x.http !== "200"), []);
      const spread = tally(res.map((x) => x.body));
      assert.equal(spread[drained.name] ?? 0, 0, JSON.stringify(spread));
    });

    await t.step("a bad command is refused with ipvsadm's words and changes nothing", async () => {
      const before = (await adm(["-S", "-n"])).stdout;
      const r = await adm(["-a", "-t", `${topo.vip4}:81`, "-r", "198.18.1.9:8080", "-m"]);
      // ipvsadm exits 255 when the kernel refuses a command.
      assert.equal(r.status, 255);
      assert.match(r.stderr, /Service not defined/);
      assert.equal((await adm(["-S", "-n"])).stdout, before);
    });

    if (workers) {
      await t.step("with Workers, the sync daemon is refused with the reason", async () => {
        const r = await adm(["--start-daemon", "master", "--mcast-interface", "eth1"]);
        assert.equal(r.status, 255);
        assert.match(r.stderr, /connection sync runs with the one-thread director \(workers: 0\)/);
        assert.equal((await adm(["-L", "--daemon"])).stdout, "");
      });
    }

    if (!workers) {
      await t.step("the sync daemon starts, shows and stops through wvsadm", async () => {
        // Sync goes through the kernel's UDP: the director's sync link has a kernel address.
        await net.addNs("peer");
        await net.veth("lb", "sync0", "peer", "sync0");
        await net.addr("lb", "sync0", "198.18.3.1/24");
        const noAddr = await adm(["--start-daemon", "master", "--mcast-interface", "eth1"]);
        assert.equal(noAddr.status, 255, "an interface without an address is refused");
        const start = await adm(["--start-daemon", "master", "--mcast-interface", "sync0"]);
        assert.equal(start.status, 0, start.stderr);
        const shown = await adm(["-L", "--daemon"]);
        assert.match(
          shown.stdout,
          /^master sync daemon \(mcast=sync0, syncid=0, maxlen=1472, group=224\.0\.0\.81, port=8848, ttl=1\)$/m,
        );
        const again = await adm(["--start-daemon", "master", "--mcast-interface", "sync0"]);
        assert.notEqual(again.status, 0, "a second master is refused");
        assert.equal((await adm(["--stop-daemon", "master"])).status, 0);
        assert.equal((await adm(["-L", "--daemon"])).stdout, "");
        // Left running: the saved configuration carries it to the next start.
        const again2 = await adm(["--start-daemon", "master", "--mcast-interface", "sync0"]);
        assert.equal(again2.status, 0, again2.stderr);
      });

      await t.step("takeover and release go to the director", async () => {
        assert.equal((await adm(["--release"])).status, 0);
        assert.equal((await adm(["--takeover"])).status, 0);
      });
    }

    await t.step("SIGTERM saves; the next start restores and forwards", async () => {
      const saved = (await adm(["-S", "-n"])).stdout;
      const daemons = (await adm(["-L", "--daemon"])).stdout;
      const stopped = await stopDirector(net, d);
      assert.equal(stopped.code, 0, stopped.errors.join("\n"));
      const file = await Deno.readTextFile(`${dir}/state/ipvsadm.rules`);
      assert.equal(file.replace(/^#.*\n/gm, ""), saved);
      d = await startDirector(net, config, echo);
      assert.equal((await adm(["-S", "-n"])).stdout, saved);
      assert.equal((await adm(["-L", "--daemon"])).stdout, daemons, "the sync daemon is back");
      const res = await curlMany(net, "cl", `http://${vip}/`, 10);
      assert.deepEqual(res.filter((x) => x.http !== "200"), []);
      assert.equal(tally(res.map((x) => x.body))[topo.rs[2].name] ?? 0, 0, "still drained");
    });
    const last = await stopDirector(net, d);
    assert.equal(last.code, 0);
  } finally {
    await net.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
