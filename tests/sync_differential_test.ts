// Differential test of connection sync (STYLE G15) on top of the engine differential: two
// masters (WASM and TS) get the same seeded frames with the master role on (random sync
// parameters, v0 and v1), and must write byte-identical sync records; every record is then
// applied to two backups (WASM and TS), which must return the same results and end with the
// same connection tables. Persistent services (by address and /24, and by fwmark) send
// templates, FTP sessions send sequence data; after the stream both backups take over the
// traffic and must forward it byte for byte alike. WVS_SYNC_DIFF_FRAMES (default 200000)
// and WVS_DIFF_SEED.
import assert from "node:assert/strict";
import type { Engine, SyncParams } from "../host/engine/engine.ts";
import { FrameIo } from "../host/engine/frames.ts";
import {
  AF_INET,
  AF_INET6,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TEMPLATE,
  IP_VS_SVC_F_PERSISTENT,
  L_SYNC_RING,
  SCHED_RR,
  SYNC_REC_SIZE,
} from "../host/engine/abi.gen.ts";
import { readSyncRecord } from "../host/sync/records.ts";
import {
  dest,
  ENGINES,
  persistentDr4,
  RS4,
  RS6,
  setupLab,
  SMALL_CONFIG,
  svc,
  VIP,
} from "./fixtures/lab.ts";
import { type GenFrame, Traffic } from "./fixtures/traffic.ts";

const FRAMES = Number(Deno.env.get("WVS_SYNC_DIFF_FRAMES") ?? 200_000);
const SEED = Number(Deno.env.get("WVS_DIFF_SEED") ?? (Date.now() % 0x7fffffff));

function ring(e: Engine, n: number): Uint8Array {
  const at = e.layout[L_SYNC_RING];
  return new Uint8Array(e.memory).slice(at, at + n * SYNC_REC_SIZE);
}

function params(t: Traffic): SyncParams {
  const period = t.chance(0.2) ? 0 : [50, 5, 2][t.int(3)];
  return {
    master: true,
    version: t.chance(0.3) ? 0 : 1,
    threshold: period === 0 ? 1 + t.int(3) : Math.min(3, period - 1),
    period,
    refreshPeriod: t.chance(0.3) ? 1 + t.int(20) : 0,
    retries: t.int(4),
    persistMode: 0,
  };
}

Deno.test({
  name: `masters and backups of both engines agree on sync (seed ${SEED})`,
  fn: async () => {
    console.log(`sync differential: seed=${SEED} frames=${FRAMES} (rerun: WVS_DIFF_SEED=${SEED})`);
    const config = { ...SMALL_CONFIG, maxConns: 16384, maxConns6: 4096 };
    const [ma, mb, ba, bb] = await Promise.all(
      [...ENGINES, ...ENGINES].map((m) => m.create(config)),
    );
    for (const e of [ma, mb, ba, bb]) {
      const lab = setupLab(e);
      // Persistent services, so that templates (controllers) go through the sync path too:
      // one per /24 client network, one by fwmark (templates of protocol 0).
      persistentDr4(e, lab, 120);
      const fwm = svc(2, 0, "0.0.0.0", 0, SCHED_RR, {
        fwmark: 7,
        flags: IP_VS_SVC_F_PERSISTENT,
        timeout: 60,
      });
      assert.ok(e.editService(lab.svc.fwm4, fwm) >= 0, "persistent fwm4");
      // FTP NAT services for the FTP sessions (their control connections carry seq data).
      for (
        const [af, vip, rs] of [[AF_INET, VIP.nat4, RS4[0]], [AF_INET6, VIP.nat6, RS6[0]]] as const
      ) {
        const s = e.addService(svc(af, 6, vip, 21, SCHED_RR));
        assert.ok(s >= 0 && e.addDest(s, dest(af, rs, 21, IP_VS_CONN_F_MASQ)) >= 0, "FTP");
      }
    }
    const ioA = new FrameIo(ma), ioB = new FrameIo(mb);
    const t = new Traffic(SEED, 4000, { ftp: true });
    let p = params(t);
    ma.setSync(p);
    mb.setSync(p);
    let now = 1_700_000_000_000_000 + t.int(1e9);
    const batch: GenFrame[] = [];
    let sent = 0, batches = 0, records = 0, templates = 0, seqs = 0;
    const results = new Map<number, number>();
    while (sent < FRAMES) {
      batch.length = 0;
      const n = Math.min(1 + t.int(config.batch), FRAMES - sent);
      for (let i = 0; i < n; i++) batch.push(t.next());
      batch.forEach((g, i) => {
        ioA.put(i, g.bytes, 0, g.mark);
        ioB.put(i, g.bytes, 0, g.mark);
      });
      const nA = ma.processBatch(n, now), nB = mb.processBatch(n, now);
      assert.equal(nA, nB, `seed ${SEED} batch ${batches}: TX counts differ`);
      for (let j = 0; j < nA; j++) {
        const rx = ioA.txRx(j);
        if (batch[rx]?.learn) t.learn(batch[rx], ioA.txView(j));
      }
      const ka = ma.syncDrain(), kb = mb.syncDrain();
      assert.equal(ka, kb, `seed ${SEED} batch ${batches}: sync record counts differ`);
      assert.deepEqual(ring(ma, ka), ring(mb, kb), `seed ${SEED} batch ${batches}: records differ`);
      const mem = new Uint8Array(ma.memory);
      for (let i = 0; i < ka; i++) {
        const c = readSyncRecord(mem, ma.layout[L_SYNC_RING], i);
        if (p.version === 0) assert.equal(c.af, 2, "v0 never records IPv6 entries");
        if (c.flags & IP_VS_CONN_F_TEMPLATE) templates++;
        if (c.outSeq && (c.outSeq.delta || c.outSeq.previousDelta)) seqs++;
        const ra = ba.syncConn(c, now), rb = bb.syncConn(c, now);
        assert.equal(ra, rb, `seed ${SEED} batch ${batches} record ${i}: syncConn results differ`);
        results.set(ra < 0 ? ra : 0, (results.get(ra < 0 ? ra : 0) ?? 0) + 1);
      }
      records += ka;
      sent += n;
      batches++;
      now += t.int(20_000);
      if (t.chance(0.002)) now += 1e6 * (60 + t.int(1000));
      if (batches % 97 === 0) {
        // The backups sweep in windows (issue 5): a budget in [1, maxConns] from the cursor.
        const budget = 1 + (batches * 31) % config.maxConns;
        assert.equal(ma.expire(now), mb.expire(now), "master expire counts differ");
        assert.equal(ba.expire(now, budget), bb.expire(now, budget), "backup expire counts differ");
      }
      if (batches % 1500 === 0) {
        p = params(t);
        ma.setSync(p);
        mb.setSync(p);
      }
    }
    assert.deepEqual(ma.dumpConns(), mb.dumpConns(), "master dumps differ");
    assert.deepEqual(ba.dumpConns(), bb.dumpConns(), "backup dumps differ");
    assert.deepEqual(ba.counters(), bb.counters(), "backup counters differ");
    const created = ba.dumpConns();
    const tpls = created.filter((c) => c.flags & IP_VS_CONN_F_TEMPLATE).length;
    console.log(
      `sync differential: ${records} records (${templates} templates, ${seqs} with seq ` +
        `offsets) in ${batches} batches; backup results ${
          JSON.stringify(Object.fromEntries(results))
        }; backup holds ${created.length} entries (${tpls} templates)`,
    );
    // Takeover: the backups get the rest of the stream and must forward it alike, through
    // the synced templates and with the synced sequence adjustment.
    const ioBa = new FrameIo(ba), ioBb = new FrameIo(bb);
    const tail = Math.ceil(FRAMES / 10);
    for (let done = 0; done < tail; batches++) {
      const n = Math.min(1 + t.int(config.batch), tail - done);
      const gen = Array.from({ length: n }, () => t.next());
      gen.forEach((g, i) => {
        ioBa.put(i, g.bytes, 0, g.mark);
        ioBb.put(i, g.bytes, 0, g.mark);
      });
      const nA = ba.processBatch(n, now), nB = bb.processBatch(n, now);
      assert.equal(nA, nB, `seed ${SEED} takeover batch ${batches}: TX counts differ`);
      for (let j = 0; j < nA; j++) {
        assert.deepEqual(
          ioBa.txView(j),
          ioBb.txView(j),
          `seed ${SEED} takeover batch ${batches}: TX ${j} differs`,
        );
        const rx = ioBa.txRx(j);
        if (gen[rx]?.learn) t.learn(gen[rx], ioBa.txView(j));
      }
      done += n;
      now += t.int(20_000);
    }
    assert.deepEqual(ba.dumpConns(), bb.dumpConns(), "backup dumps differ after the takeover");
    if (FRAMES >= 100_000) {
      assert.ok(records > 1000, "the stream must produce sync records");
      assert.ok((results.get(0) ?? 0) > 1000, "the backups must accept most records");
      assert.ok(tpls > 10, "the backups must hold templates");
      assert.ok(seqs > 0, "FTP sessions must send sequence data");
    }
  },
});
