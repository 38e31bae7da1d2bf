// Persistence across a takeover, in process (issue 6): a master engine schedules clients of
// a persistent service, its sync decisions travel as real datagrams (SyncManager, wire.ts,
// versions 0 and 1) to a backup engine, and after the "takeover" each client's new
// connection leaves the backup for the real server the master chose, whatever the backup's
// own scheduler would pick. Also: entries with persistence-engine data are skipped.
import { macText } from "./fixtures/decode.ts";
import assert from "node:assert/strict";
import type { DaemonConf } from "../host/ctl/command.ts";
import type { Engine } from "../host/engine/engine.ts";
import { FrameIo } from "../host/engine/frames.ts";
import { IP_VS_CONN_F_TEMPLATE } from "../host/engine/abi.gen.ts";
import type { ResolvedDaemon } from "../host/sync/config.ts";
import { SyncManager } from "../host/sync/sync.ts";
import { decodeMessage, encodeMessages, type SyncConn } from "../host/sync/wire.ts";
import { Frame, ipBytes } from "./fixtures/packet_builder.ts";
import {
  DIRECTOR_MAC,
  ENGINES,
  GW_MAC,
  persistentDr4,
  RS4,
  RS_MAC,
  setupLab,
  SMALL_CONFIG,
  VIP,
} from "./fixtures/lab.ts";
import { MemNet } from "./fixtures/sync_memnet.ts";

const T0 = 1_700_000_000_000_000;
/** One client per /24 network: with wlc and weights 3/2/1 the master spreads them. */
const CLIENTS = ["198.18.2.10", "198.18.3.10", "198.18.4.10", "198.18.5.10"];

const conf = (state: "master" | "backup"): DaemonConf => ({
  state,
  mcastIfn: "sync0",
  syncid: 9,
  syncMaxlen: 0,
  mcastGroup: "",
  mcastPort: 0,
  mcastTtl: 0,
});

/** The standard lab with dr4tcp persistent per /24 (300 s). */
function director(e: Engine): void {
  persistentDr4(e, setupLab(e));
}

const seg = (src: string, sport: number, flags: string) =>
  Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC }).ipv4({ src, dst: VIP.dr4 })
    .tcp({ sport, dport: 80, flags }).build();

const mac = (b: Uint8Array) => macText(b.subarray(0, 6));

for (const make of ENGINES) {
  for (const version of [1, 0] as const) {
    Deno.test(`[${make.name}] after a takeover (sync v${version}) persistent clients keep their real server`, async () => {
      const [me, be] = await Promise.all([make.create(SMALL_CONFIG), make.create(SMALL_CONFIG)]);
      director(me);
      director(be);
      const net = new MemNet();
      let now = T0;
      const clock = () => now;
      const sysctls = { syncVersion: version };
      const master = new SyncManager({ engine: me, transport: net, clock, sysctls });
      const backup = new SyncManager({ engine: be, transport: net, clock, sysctls });
      master.start(conf("master"));
      backup.start(conf("backup"));
      // Each client opens one connection: SYN, ACK, data (synced on the 3rd in packet).
      const io = new FrameIo(me);
      const chosen = new Map<string, string>();
      for (const flags of ["S", "A", "PA"]) {
        const r = io.run(CLIENTS.map((c) => seg(c, 41000, flags)), now);
        if (flags === "S") CLIENTS.forEach((c, i) => chosen.set(c, mac(r.tx[i].bytes)));
        master.afterBatch(now);
        now += 1000;
      }
      now += 25_000;
      master.tick(now);
      backup.tick(now);
      assert.ok(net.sent.length >= 1, "the master sent its entries");
      const sent = net.sent.flatMap((d) => {
        const m = decodeMessage(d);
        return m.ok ? m.message.conns : [];
      });
      const templates = sent.filter((c) => c.flags & IP_VS_CONN_F_TEMPLATE);
      assert.equal(new Set(templates.map((t) => t.caddr.join("."))).size, CLIENTS.length);
      assert.ok(
        new Set(chosen.values()).size > 1,
        `the master spread its clients: ${[...chosen.values()]}`,
      );
      const st = backup.backup!.stats;
      assert.equal(st.skipped, 0);
      assert.equal(st.pending, 0);
      const tpl = be.dumpConns().filter((c) => c.flags & IP_VS_CONN_F_TEMPLATE);
      assert.equal(tpl.length, CLIENTS.length);
      // v1 carries the persistence timeout; v0 none, so the backup takes 180 s.
      assert.ok(tpl.every((t) => t.timeout === (version === 1 ? 300_000 : 180_000)));
      // Takeover: new connections, from the same clients and from their networks' neighbours.
      now += 5_000_000;
      const bio = new FrameIo(be);
      for (const c of CLIENTS) {
        const near = c.replace(/\.10$/, ".99");
        const r = bio.run([seg(c, 42000, "S"), seg(near, 42000, "S")], now);
        assert.equal(r.tx.length, 2);
        assert.equal(mac(r.tx[0].bytes), chosen.get(c), `${c} keeps its real server`);
        assert.equal(mac(r.tx[1].bytes), chosen.get(c), `${near} shares ${c}'s template`);
      }
      // A network the master never saw is scheduled by the backup itself (wlc's pick).
      const fresh = bio.run([seg("198.18.60.1", 42000, "S")], now);
      assert.ok(RS_MAC.includes(mac(fresh.tx[0].bytes)));
      // Control: a backup given the same connections but not the templates sends some of
      // these clients elsewhere.
      const plain = await make.create(SMALL_CONFIG);
      director(plain);
      for (const c of sent) if (!(c.flags & IP_VS_CONN_F_TEMPLATE)) plain.syncConn(c, T0);
      const pio = new FrameIo(plain);
      const moved = CLIENTS.filter((c) =>
        mac(pio.run([seg(c, 42000, "S")], now).tx[0].bytes) !== chosen.get(c)
      );
      assert.ok(moved.length > 0, "without templates persistence would be lost");
      await master.close();
      await backup.close();
    });
  }

  Deno.test(`[${make.name}] a backup skips entries with persistence-engine data`, async () => {
    const be = await make.create(SMALL_CONFIG);
    director(be);
    const net = new MemNet();
    const backup = new SyncManager({ engine: be, transport: net, clock: () => T0 });
    backup.start(conf("backup"));
    const tpl: SyncConn = {
      af: 2,
      protocol: 17,
      flags: IP_VS_CONN_F_TEMPLATE | 0x100,
      state: 0,
      cport: 0,
      vport: 80,
      dport: 80,
      fwmark: 0,
      timeout: 300,
      caddr: ipBytes("198.18.0.10"),
      vaddr: ipBytes(VIP.dr4),
      daddr: ipBytes(RS4[0]),
    };
    const sip = { ...tpl, peData: new TextEncoder().encode("call-1@wvs"), peName: "sip" };
    const [m] = encodeMessages([sip, { ...tpl, protocol: 6 }], {
      version: 1,
      syncid: 9,
      maxlen: 1472,
    });
    const sender = net.openSender({} as ResolvedDaemon);
    sender.send(m);
    const s = backup.backup!.stats;
    assert.deepEqual([s.entries, s.applied, s.skipped, s.noEngine], [2, 1, 1, 1]);
    assert.equal(be.dumpConns().length, 1, "only the template without an engine's data");
    await backup.close();
  });
}
