// Connection sync in both engines, rule by rule (spec ipvs-data-plane.md §7.5 master, §7.6
// backup, §8 item 13): which packets make an entry go out, what a record holds, and what a
// backup makes of an entry. The same cases run against the WASM and the TS engine.
import assert from "node:assert/strict";
import type { Engine, SyncParams } from "../host/engine/engine.ts";
import { FrameIo } from "../host/engine/frames.ts";
import {
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NOOUTPUT,
  IP_VS_CONN_F_SYNC,
  TCP_S_CLOSE_WAIT,
  TCP_S_ESTABLISHED,
  TCP_S_FIN_WAIT,
  TCP_S_SYN_RECV,
  TCP_S_TIME_WAIT,
} from "../host/engine/abi.gen.ts";
import { drainSyncRecords } from "../host/sync/records.ts";
import type { SyncConn } from "../host/sync/wire.ts";
import { ipBytes } from "./fixtures/packet_builder.ts";
import { Frame } from "./fixtures/packet_builder.ts";
import {
  DIRECTOR_MAC,
  ENGINES,
  GW_MAC,
  type Lab,
  RS4,
  setupLab,
  SMALL_CONFIG,
  VIP,
} from "./fixtures/lab.ts";

const T0 = 1_700_000_000_000_000;
const SEC = 1_000_000;
const CLIENT = "198.18.0.10";
const CLIENT6 = "2001:2::10";
const DEFAULTS: SyncParams = {
  master: true,
  version: 1,
  threshold: 3,
  period: 50,
  refreshPeriod: 0,
  retries: 0,
  persistMode: 0,
};

interface Ctx {
  e: Engine;
  io: FrameIo;
  lab: Lab;
}

async function master(make: (typeof ENGINES)[number], p: Partial<SyncParams> = {}): Promise<Ctx> {
  const e = await make.create(SMALL_CONFIG);
  const lab = setupLab(e);
  e.setSync({ ...DEFAULTS, ...p });
  return { e, io: new FrameIo(e), lab };
}

const tcp4 = (flags: string, sport = 40000, dst = VIP.dr4) =>
  Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC }).ipv4({ src: CLIENT, dst }).tcp({
    sport,
    dport: 80,
    flags,
  })
    .build();

/** Sends frames one batch each; returns the records written after each. */
function send(c: Ctx, frames: Uint8Array[], now = T0): SyncConn[][] {
  return frames.map((f, i) => {
    c.io.run([f], now + i * 1000);
    return drainSyncRecords(c.e);
  });
}

for (const make of ENGINES) {
  Deno.test(`[${make.name}] master: an established entry is sent on in packets 3, 53, 103`, async () => {
    const c = await master(make);
    const frames = [tcp4("S"), ...Array.from({ length: 110 }, () => tcp4("A"))];
    const got = send(c, frames);
    const at = got.flatMap((r, i) => (r.length ? [i + 1] : []));
    assert.deepEqual(at, [3, 53, 103]);
    const r = got[2][0];
    assert.equal(r.af, 2);
    assert.equal(r.protocol, 6);
    assert.equal(r.state, TCP_S_ESTABLISHED);
    assert.equal(r.flags, IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT);
    assert.equal(r.timeout, 900);
    assert.deepEqual([r.cport, r.vport, r.dport, r.fwmark], [40000, 80, 80, 0]);
    assert.deepEqual([r.caddr, r.vaddr, r.daddr], [
      ipBytes(CLIENT),
      ipBytes(VIP.dr4),
      ipBytes(RS4[0]),
    ]);
  });

  Deno.test(`[${make.name}] master: a change to a closing state is sent at once`, async () => {
    const c = await master(make);
    // DR: SYN (SYN_RECV), ACK (ES), FIN (FIN_WAIT, forced), ACK (FW, not again).
    const got = send(c, [tcp4("S"), tcp4("A"), tcp4("FA"), tcp4("A"), tcp4("A")]);
    assert.deepEqual(got.map((r) => r.map((x) => x.state)), [[], [], [TCP_S_FIN_WAIT], [], []]);
    assert.equal(got[2][0].timeout, 120);
    // SYN_RECV is never sent, whatever the count.
    const d = await master(make, { period: 0, threshold: 1 });
    assert.deepEqual(send(d, [tcp4("S")]), [[]]);
    assert.equal(TCP_S_SYN_RECV, d.e.dumpConns()[0].state);
  });

  Deno.test(`[${make.name}] master: NAT entries, replies do not count, CLOSE_WAIT is forced`, async () => {
    const c = await master(make);
    const cl = (flags: string) => tcp4(flags, 40001, VIP.nat4);
    const rs = (flags: string) =>
      Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC }).ipv4({ src: RS4[0], dst: CLIENT })
        .tcp({ sport: 8080, dport: 40001, flags }).build();
    const got = send(c, [cl("S"), rs("SA"), cl("A"), rs("A"), rs("A"), cl("A"), cl("FA")]);
    assert.deepEqual(got.map((r) => r.map((x) => x.state)), [
      [],
      [],
      [],
      [],
      [],
      [TCP_S_ESTABLISHED],
      [TCP_S_CLOSE_WAIT],
    ]);
    assert.equal(got[5][0].flags, IP_VS_CONN_F_MASQ);
    assert.equal(got[5][0].dport, 8080);
  });

  Deno.test(`[${make.name}] master: version 0 never sends IPv6, version 1 does`, async () => {
    const six = (flags: string) =>
      Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC }).ipv6({ src: CLIENT6, dst: VIP.dr6 })
        .tcp({ sport: 40000, dport: 80, flags }).build();
    const v1 = await master(make);
    assert.equal(send(v1, [six("S"), six("A"), six("A")])[2][0].af, 10);
    const v0 = await master(make, { version: 0 });
    assert.deepEqual(send(v0, [six("S"), six("A"), six("A"), six("FA")]).flat(), []);
  });

  Deno.test(`[${make.name}] master: UDP goes out on the threshold, period 0 only once`, async () => {
    const udp = () =>
      Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC }).ipv4({ src: CLIENT, dst: VIP.nat4 })
        .udp({ sport: 5000, dport: 53 }).payload("q").build();
    const c = await master(make, { period: 0 });
    const got = send(c, Array.from({ length: 60 }, udp));
    assert.deepEqual(got.flatMap((r, i) => (r.length ? [i + 1] : [])), [3]);
    assert.equal(got[2][0].timeout, 300);
    assert.equal(got[2][0].flags & IP_VS_CONN_F_INACTIVE, IP_VS_CONN_F_INACTIVE);
  });

  Deno.test(`[${make.name}] master: sync_refresh_period holds back unchanged entries`, async () => {
    // period 0 with a refresh period: every packet is a candidate, the refresh rule decides.
    const c = await master(make, { period: 0, refreshPeriod: 10 });
    const f = [tcp4("S"), tcp4("A"), tcp4("A"), tcp4("A")];
    const got = f.map((x, i) => {
      c.io.run([x], T0 + i * SEC);
      return drainSyncRecords(c.e).length;
    });
    // ES at packet 2 differs from the creation end time by 900 s: sent; then within 10 s: not.
    assert.deepEqual(got, [0, 1, 0, 0]);
    c.io.run([tcp4("A")], T0 + 20 * SEC);
    assert.equal(drainSyncRecords(c.e).length, 1, "after the refresh period it goes again");
  });

  Deno.test(`[${make.name}] master role off: nothing is recorded`, async () => {
    const c = await master(make, { master: false });
    assert.deepEqual(send(c, [tcp4("S"), tcp4("A"), tcp4("A")]).flat(), []);
  });

  Deno.test(`[${make.name}] backup: an entry is created bound to the same real server`, async () => {
    const m = await master(make);
    const rec = send(m, [tcp4("S"), tcp4("A"), tcp4("A")])[2][0];
    const b = await make.create(SMALL_CONFIG);
    const lab = setupLab(b);
    const slot = b.syncConn(rec, T0);
    assert.ok(slot >= 0, `syncConn returned ${slot}`);
    const [e] = b.dumpConns();
    assert.equal(e.state, TCP_S_ESTABLISHED);
    assert.equal(e.flags, IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT | IP_VS_CONN_F_SYNC);
    assert.equal(e.daddr, RS4[0]);
    assert.equal(e.timeout, 900_000);
    assert.equal(e.inPkts, 3);
    assert.equal(e.svc, lab.svc.dr4tcp);
    assert.deepEqual(b.destCounts(e.dest), {
      activeConns: 1,
      inactConns: 0,
      persistConns: 0,
      flags: 1,
    });
    assert.equal(b.svcStats(lab.svc.dr4tcp).conns, 0, "IPVS counts conns only when scheduling");
    // The backup forwards the connection's packets to that real server.
    const io = new FrameIo(b);
    const r = io.run([tcp4("A")], T0 + SEC);
    assert.equal(r.tx.length, 1);
    assert.equal(
      [...r.tx[0].bytes.subarray(0, 6)].map((x) => x.toString(16)).join(":"),
      "2:0:0:0:1:1",
    );
  });

  Deno.test(`[${make.name}] backup: updates, v0 timeouts, stale messages, unknown dests`, async () => {
    const b = await make.create(SMALL_CONFIG);
    setupLab(b);
    const base: SyncConn = {
      af: 2,
      protocol: 6,
      flags: IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT,
      state: TCP_S_ESTABLISHED,
      cport: 41000,
      vport: 80,
      dport: 80,
      fwmark: 0,
      timeout: 0, // v0: the backup's own timeout for the state
      caddr: ipBytes(CLIENT),
      vaddr: ipBytes(VIP.dr4),
      daddr: ipBytes(RS4[1]),
    };
    const slot = b.syncConn(base, T0);
    assert.ok(slot >= 0);
    assert.equal(b.dumpConns()[0].timeout, 900_000);
    // An update moves the state; the entry's counts follow its class.
    assert.equal(
      b.syncConn({ ...base, state: TCP_S_TIME_WAIT, flags: base.flags | 0x100 }, T0 + SEC),
      slot,
    );
    const e = b.dumpConns()[0];
    assert.equal(e.state, TCP_S_TIME_WAIT);
    assert.equal(e.timeout, 120_000);
    assert.equal(e.expires, ((T0 + SEC) / 1000 + 120_000) >>> 0);
    assert.deepEqual(b.destCounts(e.dest), {
      activeConns: 0,
      inactConns: 1,
      persistConns: 0,
      flags: 1,
    });
    // An inactive message naming another real server is stale: ignored.
    assert.equal(
      b.syncConn({ ...base, daddr: ipBytes(RS4[2]), flags: base.flags | 0x100 }, T0),
      -17,
    );
    assert.equal(b.dumpConns()[0].daddr, RS4[1]);
    // An active one replaces the entry.
    assert.ok(b.syncConn({ ...base, daddr: ipBytes(RS4[2]) }, T0) >= 0);
    assert.deepEqual(b.dumpConns().map((x) => x.daddr), [RS4[2]]);
    // No such service or real server here: nothing is made.
    assert.equal(b.syncConn({ ...base, vaddr: ipBytes("198.18.9.9") }, T0), -2);
    assert.equal(b.syncConn({ ...base, cport: 1, daddr: ipBytes("198.18.1.77") }, T0), -2);
    // Not entries this engine keeps: bad state, unknown protocol, templates.
    assert.equal(b.syncConn({ ...base, state: 11 }, T0), -22);
    assert.equal(b.syncConn({ ...base, protocol: 132 }, T0), -22);
    assert.equal(b.syncConn({ ...base, flags: 0x1000 }, T0), -22);
    assert.equal(b.dumpConns().length, 1);
  });

  Deno.test(`[${make.name}] backup: entries take the backup's forwarding method and age out`, async () => {
    const b = await make.create(SMALL_CONFIG);
    const lab = setupLab(b);
    // The master says NAT; the backup's dest for this service is DR: the entry is DR.
    const c: SyncConn = {
      af: 2,
      protocol: 17,
      flags: IP_VS_CONN_F_MASQ | IP_VS_CONN_F_INACTIVE,
      state: 0,
      cport: 5000,
      vport: 80,
      dport: 80,
      fwmark: 0,
      timeout: 30,
      caddr: ipBytes(CLIENT),
      vaddr: ipBytes(VIP.dr4),
      daddr: ipBytes(RS4[0]),
    };
    assert.equal(b.syncConn(c, T0), -2, "no UDP service on the DR VIP");
    const t = await make.create(SMALL_CONFIG);
    setupLab(t);
    const tcp = { ...c, protocol: 6, state: TCP_S_ESTABLISHED, flags: IP_VS_CONN_F_MASQ };
    assert.ok(t.syncConn(tcp, T0) >= 0);
    const [e] = t.dumpConns();
    assert.equal(e.flags, IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT | IP_VS_CONN_F_SYNC);
    assert.equal(e.timeout, 30_000);
    assert.equal(t.expire(T0 + 29 * SEC), 0);
    assert.equal(t.expire(T0 + 31 * SEC), 1);
    assert.equal(lab.svc.dr4tcp >= 0, true);
  });
}
