// The sync roles end to end in memory: a master engine's decisions become datagrams that a
// backup engine applies (both engines), the daemon commands' errors and listing, and the
// optional authentication (forged, unsigned and replayed datagrams are refused).
import assert from "node:assert/strict";
import type { DaemonConf } from "../ctl/command.ts";
import { IpvsError } from "../ctl/errors.ts";
import type { Engine } from "../engine/engine.ts";
import { FrameIo } from "../engine/frames.ts";
import { ENGINES, setupLab, SMALL_CONFIG, VIP } from "../../tests/fixtures/lab.ts";
import { DIRECTOR_MAC, GW_MAC } from "../../tests/fixtures/lab.ts";
import { Frame } from "../../tests/fixtures/packet_builder.ts";
import { SyncAuth } from "./auth.ts";
import { SyncManager } from "./sync.ts";
import { decodeMessage } from "./wire.ts";
import { MemNet } from "../../tests/fixtures/sync_memnet.ts";

const T0 = 1_700_000_000_000_000;

const conf = (state: "master" | "backup", more: Partial<DaemonConf> = {}): DaemonConf => ({
  state,
  mcastIfn: "sync0",
  syncid: 5,
  syncMaxlen: 0,
  mcastGroup: "",
  mcastPort: 0,
  mcastTtl: 0,
  ...more,
});

const tcp = (flags: string, sport: number) =>
  Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC }).ipv4({ src: "198.18.0.10", dst: VIP.nat4 })
    .tcp({ sport, dport: 80, flags }).build();

async function pair(make: (typeof ENGINES)[number], auth: [SyncAuth | null, SyncAuth | null]) {
  const net = new MemNet();
  let now = T0;
  const clock = () => now;
  const [me, be] = await Promise.all([make.create(SMALL_CONFIG), make.create(SMALL_CONFIG)]);
  setupLab(me);
  setupLab(be);
  const master = new SyncManager({ engine: me, transport: net, clock, auth: auth[0] });
  const backup = new SyncManager({ engine: be, transport: net, clock, auth: auth[1] });
  master.start(conf("master"));
  backup.start(conf("backup"));
  const io = new FrameIo(me);
  /** 10 connections of 3 in packets each (synced on the 3rd), one batch per step. */
  const run = () => {
    for (const flags of ["S", "A", "PA"]) {
      io.run(Array.from({ length: 10 }, (_, i) => tcp(flags, 42000 + i)), now);
      master.afterBatch(now);
      now += 1000;
    }
    now += 25_000;
    master.tick(now);
    backup.tick(now);
  };
  return { net, me, be, master, backup, run, advance: (us: number) => (now += us) };
}

const ports = (e: Engine) => e.dumpConns().map((c) => c.cport).sort();

for (const make of ENGINES) {
  Deno.test(`[${make.name}] SyncManager: a backup learns the master's connections`, async () => {
    const p = await pair(make, [null, null]);
    p.run();
    assert.equal(p.net.sent.length, 1, "one message with all ten entries (flushed after 20 ms)");
    const m = decodeMessage(p.net.sent[0]);
    assert.ok(m.ok && m.message.syncid === 5 && m.message.conns.length === 10);
    assert.deepEqual(ports(p.be), ports(p.me));
    const b = p.be.dumpConns()[0], a = p.me.dumpConns().find((c) => c.cport === b.cport)!;
    assert.equal(b.daddr, a.daddr);
    assert.equal(b.dport, a.dport);
    assert.equal(p.backup.backup!.stats.applied, 10);
    assert.equal(
      p.master.list(),
      "master sync daemon (mcast=sync0, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n",
    );
    await p.master.close();
    await p.backup.close();
  });

  Deno.test(`[${make.name}] SyncManager: the backup filters syncid and rejects garbage`, async () => {
    const p = await pair(make, [null, null]);
    p.net.inject(Uint8Array.of(0, 9, 0, 8, 0, 1, 0, 0)); // syncid 9
    p.net.inject(Uint8Array.of(0, 5, 0, 9, 0, 1, 0, 0)); // bad size
    p.net.inject(new Uint8Array(2000)); // over sync_maxlen
    const s = p.backup.backup!.stats;
    assert.deepEqual([s.datagrams, s.filtered, s.rejected], [3, 1, 2]);
    assert.equal(p.be.dumpConns().length, 0);
  });

  Deno.test(`[${make.name}] SyncManager: signed sync refuses forged and replayed datagrams`, async () => {
    const key = new TextEncoder().encode("0123456789abcdef0123456789abcdef");
    const other = new TextEncoder().encode("fedcba9876543210fedcba9876543210");
    const p = await pair(make, [await SyncAuth.create(key), await SyncAuth.create(key)]);
    p.run();
    await p.master.master!.settled();
    await p.backup.backup!.settled();
    assert.equal(p.be.dumpConns().length, 10);
    const signed = p.net.sent[0];
    // Replayed, unsigned, and signed with another key: all refused, nothing changes.
    const forger = await SyncAuth.create(other);
    const plain = signed.subarray(0, signed.length - 44);
    const forged = await forger.sign(plain);
    for (const d of [signed, plain, forged]) p.net.inject(d);
    await p.backup.backup!.settled();
    assert.equal(p.backup.backup!.stats.rejected, 3);
    assert.equal(p.backup.backup!.stats.applied, 10);
  });

  Deno.test(`[${make.name}] SyncManager: start and stop errors are ipvsadm's`, async () => {
    const p = await pair(make, [null, null]);
    assert.throws(
      () => p.master.start(conf("master")),
      (e: IpvsError) => e.errno === 17 && e.text === "Daemon has already run",
    );
    assert.throws(
      () => p.master.start(conf("backup", { mcastIfn: "nope0" })),
      (e: IpvsError) => e.errno === 19 && e.text === "No such device",
    );
    await p.master.stop("master");
    await assert.rejects(
      () => p.master.stop("master"),
      (e: IpvsError) => e.errno === 3 && e.text === "No daemon is running",
    );
    assert.equal(p.master.list(), "");
    // Both roles at once, master listed first.
    p.master.start(conf("backup", { syncid: 0 }));
    p.master.start(conf("master", { mcastGroup: "239.1.2.3", mcastPort: 9000, mcastTtl: 3 }));
    assert.equal(
      p.master.list(),
      "master sync daemon (mcast=sync0, syncid=5, maxlen=1472, group=239.1.2.3, port=9000, ttl=3)\n" +
        "backup sync daemon (mcast=sync0, syncid=0, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n",
    );
    await p.master.close();
  });
}

Deno.test("ipvsadm --start-daemon, --stop-daemon and -L --daemon drive the sync daemons", async () => {
  const { Controller } = await import("../ctl/commands.ts");
  const { runIpvsadm } = await import("../ctl/ipvsadm.ts");
  const engine = await ENGINES[0].create(SMALL_CONFIG);
  const sync = new SyncManager({ engine, transport: new MemNet(), clock: () => T0 });
  const ctl = new Controller({ engine, sync });
  const run = (...argv: string[]) => runIpvsadm(argv, "", ctl);
  assert.deepEqual(
    run("--start-daemon", "master", "--mcast-interface", "sync0", "--syncid", "10"),
    {
      stdout: "",
      stderr: "",
      status: 0,
    },
  );
  assert.equal(run("--start-daemon=backup", "--mcast-interface", "sync0").status, 0);
  assert.equal(
    run("-L", "--daemon").stdout,
    "master sync daemon (mcast=sync0, syncid=10, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n" +
      "backup sync daemon (mcast=sync0, syncid=0, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n",
  );
  const again = run("--start-daemon", "master", "--mcast-interface", "sync0");
  assert.deepEqual([again.stderr, again.status], ["Daemon has already run\n", 255]);
  const nodev = run("--start-daemon", "master", "--mcast-interface", "nope0");
  assert.equal(nodev.status, 255);
  assert.equal(run("--stop-daemon", "master").status, 0);
  await sync.backup?.settled();
  const gone = run("--stop-daemon", "master");
  assert.deepEqual([gone.stderr, gone.status], ["No daemon is running\n", 255]);
  assert.equal(
    run("-L", "--daemon").stdout,
    "backup sync daemon (mcast=sync0, syncid=0, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n",
  );
  await sync.close();
});
