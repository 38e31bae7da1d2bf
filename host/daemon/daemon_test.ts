// Tests of the daemon (daemon.ts, protocol.ts, state.ts) on temporary sockets: the JSON
// protocol, many clients at once, all-or-nothing `apply`, the saved configuration restored
// at start, and the `-S -n | -R` round trip.
import assert from "node:assert/strict";
import { createReferenceEngine } from "../engine/reference/reference_engine.ts";
import { ControlClient, requestOnce } from "./client.ts";
import { createDaemon, type Daemon } from "./daemon.ts";
import { wvsadm } from "../wvsadm.ts";

const CONFIG = { maxConns: 4096, maxServices: 1024, maxDests: 8192, batch: 32, seed: 1 };

async function withDaemon(
  fn: (socket: string, daemon: Daemon, dir: string) => Promise<void>,
  stateDir?: (dir: string) => string,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "wvs-daemon-" });
  const socket = `${dir}/wvs.sock`;
  const daemon = await createDaemon({
    engine: createReferenceEngine(CONFIG),
    socketPath: socket,
    stateDir: stateDir ? stateDir(dir) : null,
    tableSize: 4096,
    log: () => {},
  });
  try {
    await fn(socket, daemon, dir);
  } finally {
    await daemon.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const run = (socket: string, args: string, stdin = "") =>
  wvsadm(args === "" ? [] : args.split(" "), () => Promise.resolve(stdin), socket);

Deno.test("the daemon's socket is mode 0600 and answers every op of the JSON protocol", async () => {
  await withDaemon(async (socket) => {
    assert.equal(Deno.statSync(socket).mode! & 0o777, 0o600);
    const c = await ControlClient.connect(socket);
    try {
      const info = await c.request({ op: "info", id: "x" });
      assert.ok(info.ok && info.id === "x");
      assert.equal((info.result as { engine: string }).engine, "ts");
      const applied = await c.request({
        op: "apply",
        commands: ["-A -t 198.18.0.1:80 -s rr", [
          "-a",
          "-t",
          "198.18.0.1:80",
          "-r",
          "198.18.1.1:8080",
          "-m",
          "-x",
          "10",
        ]],
      });
      assert.deepEqual(applied, { id: 1, ok: true, result: { stdout: "" } });
      const get = await c.request({ op: "get" });
      assert.ok(get.ok);
      const svc = (get.result as {
        services: {
          addr: string;
          sched: string;
          dests: { port: number; uThreshold: number; fwd: string }[];
        }[];
      }).services[0];
      assert.deepEqual([
        svc.addr,
        svc.sched,
        svc.dests[0].port,
        svc.dests[0].uThreshold,
        svc.dests[0].fwd,
      ], ["198.18.0.1", "rr", 8080, 10, "masq"]);
      assert.deepEqual(await c.request({ op: "save", id: 9 }), {
        id: 9,
        ok: true,
        result: {
          rules: "-A -t 198.18.0.1:80 -s rr\n-a -t 198.18.0.1:80 -r 198.18.1.1:8080 -m -w 1\n",
        },
      });
      const counters = await c.request({ op: "counters" });
      assert.ok(
        counters.ok && (counters.result as { drops: Record<string, number> }).drops.no_dest === 0,
      );
      assert.deepEqual(await c.request({ op: "conns", id: 1 }), { id: 1, ok: true, result: [] });
      const ipvsadm = await c.request({ op: "ipvsadm", argv: ["-A", "-t", "198.18.0.1:80"] });
      assert.deepEqual(ipvsadm.ok && ipvsadm.result, {
        stdout: "",
        stderr: "Service already exists\n",
        status: 255,
      });
      const unknown = await c.request({ op: "frobnicate", id: 5 });
      assert.ok(!unknown.ok && unknown.id === 5 && unknown.error.message.includes("unknown op"));
    } finally {
      c.close();
    }
    // Not JSON: an error response, and the connection stays usable.
    const conn = await Deno.connect({ transport: "unix", path: socket });
    await conn.write(new TextEncoder().encode('{nope\n{"op":"ping","id":3}\n'));
    const buf = new Uint8Array(4096);
    let text = "";
    while (text.split("\n").length < 3) {
      text += new TextDecoder().decode(buf.subarray(0, (await conn.read(buf))!));
    }
    conn.close();
    const [bad, ping] = text.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(bad.ok, false);
    assert.equal(bad.error.errno, 22);
    assert.deepEqual(ping, { id: 3, ok: true, result: {} });
  });
});

Deno.test("the daemon serves many clients at once and loses no command", async () => {
  await withDaemon(async (socket) => {
    const clients = 16, each = 25;
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let i = 0; i < each; i++) {
          const r = await run(socket, `-A -t 198.18.${c}.${i + 1}:80 -s wrr`);
          assert.equal(r.status, 0, r.stderr);
        }
      }),
    );
    const saved = (await run(socket, "-S -n")).stdout.trim().split("\n");
    assert.equal(saved.length, clients * each);
  });
});

Deno.test("apply is all or nothing and names the command that failed", async () => {
  await withDaemon(async (socket) => {
    const r = await requestOnce(socket, {
      op: "apply",
      commands: [
        "-A -t 198.18.0.1:80",
        "-a -t 198.18.0.1:80 -r 198.18.1.1",
        "-a -t 198.18.0.9:80 -r 198.18.1.1",
      ],
    });
    assert.ok(!r.ok);
    assert.deepEqual({ ...r.error, message: undefined }, {
      errno: 3,
      text: "Service not defined",
      status: 255,
      line: 3,
      message: undefined,
    });
    assert.equal((await run(socket, "-S -n")).stdout, "");
  });
});

Deno.test("the configuration is saved on change and restored at start, thresholds and timeouts too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wvs-state-" });
  const opts = {
    socketPath: `${dir}/wvs.sock`,
    stateDir: `${dir}/state`,
    tableSize: 4096,
    log: () => {},
  };
  try {
    let d = await createDaemon({ engine: createReferenceEngine(CONFIG), ...opts });
    const s = opts.socketPath;
    await run(s, "-A -t 198.18.0.1:80 -s wrr");
    await run(s, "-a -t 198.18.0.1:80 -r 198.18.1.2:8080 -m -w 3 -x 100 -y 50");
    await run(s, "-a -t 198.18.0.1:80 -r 198.18.1.1:8080 -m -w 2");
    await run(s, "--set 1000 20 30");
    const before = await Promise.all(
      ["-L -n --nosort", "-L -n --thresholds", "-L --timeout"].map((a) => run(s, a)),
    );
    await d.close();
    assert.match(await Deno.readTextFile(`${dir}/state/ipvsadm.rules`), /^# WVS rules/);
    d = await createDaemon({ engine: createReferenceEngine(CONFIG), ...opts });
    const after = await Promise.all(
      ["-L -n --nosort", "-L -n --thresholds", "-L --timeout"].map((a) => run(s, a)),
    );
    assert.deepEqual(after, before);
    assert.equal(after[2].stdout, "Timeout (tcp tcpfin udp): 1000 20 30\n");
    await d.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A seeded random configuration of what the engines run (xorshift32; the seed is printed). */
function randomRules(seed: number): string {
  let x = seed >>> 0 || 1;
  const rnd = (n: number) => {
    x ^= x << 13, x >>>= 0, x ^= x >>> 17, x ^= x << 5, x >>>= 0;
    return x % n;
  };
  const lines: string[] = [];
  for (let i = 0; i < 60; i++) {
    const kind = rnd(5);
    const sched = ["rr", "wrr", "wlc"][rnd(3)];
    const flags = rnd(4) === 0 ? ` -b flag-${1 + rnd(3)}` : "";
    const v6 = kind === 3;
    const svc = kind === 4
      ? `-f ${1 + rnd(4294967295)}${rnd(2) ? " -6" : ""}`
      : `${rnd(2) ? "-t" : "-u"} ${
        v6
          ? `[2001:db8::${(i + 1).toString(16)}]`
          : `${1 + rnd(223)}.${rnd(256)}.${rnd(256)}.${1 + rnd(254)}`
      }:${1 + rnd(65535)}`;
    lines.push(`-A ${svc} -s ${sched}${flags}`);
    const fw6 = svc.endsWith(" -6");
    for (let j = rnd(5); j > 0; j--) {
      const fwd = ["-g", "-m", "-i"][rnd(3)];
      const rs = v6 || fw6
        ? `[2001:db8:1::${rnd(65536).toString(16)}]:${rnd(65536)}`
        : `10.${rnd(256)}.${rnd(256)}.${1 + rnd(254)}:${rnd(65536)}`;
      lines.push(`-a ${svc} -r ${rs} ${fwd} -w ${rnd(100000)}`);
    }
  }
  return lines.join("\n") + "\n";
}

Deno.test("wvsadm -S -n | wvsadm -R round-trips random configurations exactly", async () => {
  for (const seed of [1, 42, 20240601]) {
    const rules = randomRules(seed);
    await withDaemon(async (a) => {
      const first = await run(a, "-R", rules);
      assert.equal(first.status, 0, `seed ${seed}: ${first.stderr}`);
      const saved = await run(a, "-S -n");
      const listed = await run(a, "-L -n");
      await withDaemon(async (b) => {
        assert.equal((await run(b, "-R", saved.stdout)).status, 0);
        assert.equal((await run(b, "-S -n")).stdout, saved.stdout, `seed ${seed}`);
        assert.equal((await run(b, "-L -n")).stdout, listed.stdout, `seed ${seed}`);
      });
    });
  }
});

Deno.test("the wvsadm program prints the daemon's answer and exits with ipvsadm's status", async () => {
  await withDaemon(async (socket) => {
    const wvsadmPath = new URL("../wvsadm.ts", import.meta.url).pathname;
    const exec = async (args: string[], stdin = "") => {
      const p = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-check", wvsadmPath, ...args],
        env: { WVS_SOCKET: socket },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = p.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
      const o = await p.output();
      const dec = new TextDecoder();
      return { stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr), status: o.code };
    };
    assert.deepEqual(
      await exec(["-R"], "-A -t 198.18.0.1:80 -s rr\n-a -t 198.18.0.1:80 -r 198.18.1.1 -m\n"),
      {
        stdout: "",
        stderr: "",
        status: 0,
      },
    );
    assert.deepEqual(await exec(["--", "-S", "-n"]), {
      stdout: "-A -t 198.18.0.1:80 -s rr\n-a -t 198.18.0.1:80 -r 198.18.1.1:80 -m -w 1\n",
      stderr: "",
      status: 0,
    });
    assert.deepEqual(await exec(["-A", "-t", "198.18.0.1:80"]), {
      stdout: "",
      stderr: "Service already exists\n",
      status: 255,
    });
    const none = await exec(["-L", "-n"].concat([]), "");
    assert.equal(none.status, 0);
  });
});

Deno.test("running sync daemons are saved with the configuration and started again", async () => {
  const { SyncManager } = await import("../sync/sync.ts");
  const { MemNet } = await import("../../tests/fixtures/sync_memnet.ts");
  const dir = await Deno.makeTempDir({ prefix: "wvs-state-sync-" });
  const start = () => {
    const engine = createReferenceEngine(CONFIG);
    const sync = new SyncManager({ engine, transport: new MemNet(), clock: () => 0 });
    return createDaemon({
      engine,
      sync,
      socketPath: `${dir}/wvs.sock`,
      stateDir: `${dir}/state`,
      log: () => {},
    }).then((d) => ({ d, sync }));
  };
  try {
    let { d, sync } = await start();
    const s = `${dir}/wvs.sock`;
    await run(s, "-A -t 198.18.0.1:80 -s rr");
    assert.equal(
      (await run(s, "--start-daemon backup --mcast-interface sync0 --syncid 7")).status,
      0,
    );
    const listed = (await run(s, "-L --daemon")).stdout;
    assert.match(listed, /^backup sync daemon \(mcast=sync0, syncid=7,/);
    await d.close();
    await sync.close();
    const state = JSON.parse(await Deno.readTextFile(`${dir}/state/wvs-state.json`));
    assert.deepEqual(
      state.daemons.map((x: { state: string; syncid: number }) => [x.state, x.syncid]),
      [
        ["backup", 7],
      ],
    );
    ({ d, sync } = await start());
    assert.equal((await run(s, "-L --daemon")).stdout, listed);
    await d.close();
    await sync.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
