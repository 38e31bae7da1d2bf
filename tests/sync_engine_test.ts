// Connection sync in both engines, rule by rule (spec ipvs-data-plane.md §7.5 master, §7.6
// backup, §8 item 13): which packets make an entry go out, what a record holds, and what a
// backup makes of an entry: connections, persistence templates (and the link between them),
// and an FTP control connection's sequence data. The same cases run against both engines.
import { macText } from "./fixtures/decode.ts";
import assert from "node:assert/strict";
import type { Engine, SyncParams } from "../host/engine/engine.ts";
import { FrameIo } from "../host/engine/frames.ts";
import {
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_IN_SEQ,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NOOUTPUT,
  IP_VS_CONN_F_OUT_SEQ,
  IP_VS_CONN_F_SYNC,
  IP_VS_CONN_F_TEMPLATE,
  IP_VS_CTPL_S_ASSURED,
  IP_VS_CTPL_S_NONE,
  IP_VS_SVC_F_PERSISTENT,
  SCHED_RR,
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
  dest,
  DIRECTOR_MAC,
  ENGINES,
  GW_MAC,
  type Lab,
  persistentDr4,
  RS4,
  RS6,
  RS_MAC,
  setupLab,
  SMALL_CONFIG,
  svc,
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
    // Not entries this engine keeps: bad state, unknown protocol, a template with a client
    // port (no packet lookup would ever match it).
    assert.equal(b.syncConn({ ...base, state: 11 }, T0), -22);
    assert.equal(b.syncConn({ ...base, protocol: 132 }, T0), -22);
    assert.equal(b.syncConn({ ...base, flags: 0x1000, state: 0 }, T0), -22);
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

// ---- Templates and sequence data on the backup (issue 6) -------------------------------------

/** The template of 198.18.0.0/24 for VIP.dr4:80 as a v1 master sends it (DR to RS 3). */
const TPL: SyncConn = {
  af: 2,
  protocol: 6,
  flags: IP_VS_CONN_F_TEMPLATE | IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT |
    IP_VS_CONN_F_INACTIVE,
  state: IP_VS_CTPL_S_NONE,
  cport: 0,
  vport: 80,
  dport: 80,
  fwmark: 0,
  timeout: 300,
  caddr: ipBytes("198.18.0.0"),
  vaddr: ipBytes(VIP.dr4),
  daddr: ipBytes(RS4[2]),
};

/** An established connection of that client network to RS 3. */
const CONN: SyncConn = {
  ...TPL,
  flags: IP_VS_CONN_F_DROUTE | IP_VS_CONN_F_NOOUTPUT,
  state: TCP_S_ESTABLISHED,
  cport: 41000,
  timeout: 900,
  caddr: ipBytes(CLIENT),
};

/** The destination MAC of the frame a new connection from `src`:`sport` leaves with. */
function firstHop(e: Engine, src: string, sport: number, now: number): string {
  const f = Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC }).ipv4({ src, dst: VIP.dr4 })
    .tcp({ sport, dport: 80, flags: "S" }).build();
  const r = new FrameIo(e).run([f], now);
  assert.equal(r.tx.length, 1, `a SYN from ${src} is forwarded`);
  return macText(r.tx[0].bytes.subarray(0, 6));
}

const tplOf = (e: Engine) => e.dumpConns().filter((c) => c.flags & IP_VS_CONN_F_TEMPLATE);

for (const make of ENGINES) {
  Deno.test(`[${make.name}] backup: a template is made bound to the backup's dest, then kept up to date`, async () => {
    const b = await make.create(SMALL_CONFIG);
    const lab = setupLab(b);
    persistentDr4(b, lab);
    const slot = b.syncConn(TPL, T0);
    assert.ok(slot >= 0, `syncConn returned ${slot}`);
    const [t] = tplOf(b);
    assert.equal(t.index, slot);
    assert.deepEqual([t.caddr, t.cport, t.vaddr, t.vport, t.daddr, t.dport], [
      "198.18.0.0",
      0,
      VIP.dr4,
      80,
      RS4[2],
      80,
    ]);
    assert.equal(t.flags, TPL.flags | IP_VS_CONN_F_SYNC);
    assert.equal(t.timeout, 300_000, "the persistence timeout from the message");
    assert.equal(t.expires, (T0 / 1000 + 300_000) >>> 0);
    assert.deepEqual([t.state, t.inPkts, t.svc], [IP_VS_CTPL_S_NONE, 3, lab.svc.dr4tcp]);
    assert.deepEqual(b.destCounts(t.dest), {
      activeConns: 0,
      inactConns: 0,
      persistConns: 1,
      flags: 1,
    });
    assert.equal(b.svcStats(lab.svc.dr4tcp).conns, 0);
    // A later message updates state and timer, never the real server: IPVS's backup keeps
    // a template's dest until it expires.
    const upd = { ...TPL, state: IP_VS_CTPL_S_ASSURED, timeout: 0, daddr: ipBytes(RS4[0]) };
    assert.equal(b.syncConn(upd, T0 + SEC), slot);
    const [u] = tplOf(b);
    assert.deepEqual([u.daddr, u.state, u.timeout], [RS4[2], IP_VS_CTPL_S_ASSURED, 180_000]);
    assert.equal(b.dumpConns().length, 1);
    // After a takeover, any new connection from that client network goes to RS 3, which
    // the backup's own wlc would not pick first (RS 1 has the highest weight).
    assert.equal(firstHop(b, "198.18.0.77", 40000, T0 + 2 * SEC), RS_MAC[2]);
    assert.equal(firstHop(b, "198.18.5.77", 40000, T0 + 2 * SEC), RS_MAC[0]);
    // Refused: a state past ASSURED, an unknown protocol; no such service here.
    assert.equal(b.syncConn({ ...TPL, state: 2 }, T0), -22);
    assert.equal(b.syncConn({ ...TPL, protocol: 132 }, T0), -22);
    assert.equal(b.syncConn({ ...TPL, vaddr: ipBytes("198.18.9.9") }, T0), -2);
  });

  Deno.test(`[${make.name}] backup: templates of FTP, port-zero style and IPv6 services bind too`, async () => {
    const b = await make.create(SMALL_CONFIG);
    setupLab(b);
    // FTP persistence: the template has vport 0 and dport 0; the service is VIP:21.
    const ftp = b.addService(svc(2, 6, VIP.tun4, 21, SCHED_RR, {
      flags: IP_VS_SVC_F_PERSISTENT,
      timeout: 600,
      netmask: 0xffffffff,
    }));
    b.addDest(ftp, dest(2, RS4[0], 21, IP_VS_CONN_F_DROUTE));
    b.addDest(ftp, dest(2, RS4[1], 21, IP_VS_CONN_F_DROUTE));
    const t = b.syncConn({
      ...TPL,
      vport: 0,
      dport: 0,
      timeout: 600,
      caddr: ipBytes(CLIENT),
      vaddr: ipBytes(VIP.tun4),
      daddr: ipBytes(RS4[0]),
    }, T0);
    assert.ok(t >= 0, `FTP template: ${t}`);
    assert.equal(tplOf(b)[0].svc, ftp);
    // The client's next control connection goes through it (rr alone would pick RS 2 first).
    const f = Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC }).ipv4({ src: CLIENT, dst: VIP.tun4 })
      .tcp({ sport: 40001, dport: 21, flags: "S" }).build();
    const r = new FrameIo(b).run([f], T0 + SEC);
    assert.equal(
      macText(r.tx[0].bytes.subarray(0, 6)),
      RS_MAC[0],
    );
    // IPv6: the template key is the /64 prefix, 16-byte addresses.
    const s6 = b.addService(svc(10, 6, "2001:2:0:100::9", 443, SCHED_RR, {
      flags: IP_VS_SVC_F_PERSISTENT,
      timeout: 60,
      netmask: 64,
    }));
    b.addDest(s6, dest(10, RS6[1], 443, IP_VS_CONN_F_DROUTE));
    const t6 = b.syncConn({
      ...TPL,
      af: 10,
      vport: 443,
      dport: 443,
      timeout: 60,
      caddr: ipBytes("2001:2::"),
      vaddr: ipBytes("2001:2:0:100::9"),
      daddr: ipBytes(RS6[1]),
    }, T0);
    assert.ok(t6 >= 0, `IPv6 template: ${t6}`);
    assert.equal(b.dumpConns().find((c) => c.index === t6)!.daddr, RS6[1]);
  });

  Deno.test(`[${make.name}] backup: a connection is controlled by its template, which then outlives its timeout`, async () => {
    const b = await make.create(SMALL_CONFIG);
    const lab = setupLab(b);
    persistentDr4(b, lab, 10);
    // Template first (a v1 master has sent it with the connection's earlier packets).
    assert.ok(b.syncConn({ ...TPL, timeout: 10 }, T0) >= 0);
    assert.ok(b.syncConn(CONN, T0) >= 0);
    // A template of another network, controlling nothing, expires on time.
    assert.ok(b.syncConn({ ...TPL, timeout: 10, caddr: ipBytes("198.18.7.0") }, T0) >= 0);
    assert.equal(b.expire(T0 + 11 * SEC), 1);
    const left = tplOf(b);
    assert.deepEqual(left.map((t) => t.caddr), ["198.18.0.0"], "the controlling one is kept");
    assert.equal(left[0].timeout, 60_000, "and retried every 60 s, as IPVS does");
    // Connection first, template after (v0 order): linked on the connection's next update.
    const c = await make.create(SMALL_CONFIG);
    persistentDr4(c, setupLab(c), 10);
    assert.ok(c.syncConn(CONN, T0) >= 0);
    assert.ok(c.syncConn({ ...TPL, timeout: 10 }, T0) >= 0);
    assert.ok(c.syncConn(CONN, T0 + SEC) >= 0);
    assert.equal(c.expire(T0 + 11 * SEC), 0);
    // A connection to another real server than its template's is not linked to it.
    const d = await make.create(SMALL_CONFIG);
    persistentDr4(d, setupLab(d), 10);
    assert.ok(d.syncConn({ ...TPL, timeout: 10 }, T0) >= 0);
    assert.ok(d.syncConn({ ...CONN, daddr: ipBytes(RS4[1]) }, T0) >= 0);
    assert.equal(d.expire(T0 + 11 * SEC), 1);
    assert.deepEqual(tplOf(d), []);
  });

  Deno.test(`[${make.name}] sync carries a NAT FTP control connection's sequence adjustment`, async () => {
    const ftpEngine = async (p: Partial<SyncParams>) => {
      const e = await make.create(SMALL_CONFIG);
      setupLab(e);
      const s = e.addService(svc(2, 6, VIP.nat4, 21, SCHED_RR));
      e.addDest(s, dest(2, RS4[0], 21, IP_VS_CONN_F_MASQ));
      e.setSync({ ...DEFAULTS, ...p });
      return e;
    };
    // The master sends the entry on its 4th in packet: after the 227 rewrite.
    const m = await ftpEngine({ period: 0, threshold: 4 });
    const b = await ftpEngine({ master: false });
    const bare = await ftpEngine({ master: false });
    const io = new FrameIo(m);
    let cseq = 1000, sseq = 5000, now = T0;
    const cl = (flags: string, text = "") => {
      const f = Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC }).ipv4({ src: CLIENT, dst: VIP.nat4 })
        .tcp({ sport: 40000, dport: 21, flags, seq: cseq, ack: sseq }).payload(text).build();
      cseq += text.length + (flags.includes("S") ? 1 : 0);
      return f;
    };
    const rs = (flags: string, text = "") => {
      const f = Frame.eth({ src: RS_MAC[0], dst: DIRECTOR_MAC }).ipv4({ src: RS4[0], dst: CLIENT })
        .tcp({ sport: 21, dport: 40000, flags, seq: sseq, ack: cseq }).payload(text).build();
      sseq += text.length + (flags.includes("S") ? 1 : 0);
      return f;
    };
    const recs: SyncConn[] = [];
    for (const f of [cl("S"), rs("SA"), cl("A"), rs("PA", "220 ftp\r\n"), cl("PA", "PASV\r\n")]) {
      io.run([f], now += 1000);
      recs.push(...drainSyncRecords(m));
    }
    const seq227 = sseq;
    // RS 1 is 198.18.1.1; the VIP 198.18.100.1 is two bytes longer in the reply.
    io.run([rs("PA", "227 Entering Passive Mode (198,18,1,1,195,80).\r\n")], now += 1000);
    io.run([cl("A")], now += 1000);
    recs.push(...drainSyncRecords(m));
    assert.equal(recs.length, 1);
    const rec = recs[0];
    assert.equal(rec.flags & (IP_VS_CONN_F_OUT_SEQ | IP_VS_CONN_F_IN_SEQ), IP_VS_CONN_F_OUT_SEQ);
    assert.deepEqual(rec.outSeq, { initSeq: seq227, delta: 2, previousDelta: 0 });
    assert.deepEqual(rec.inSeq, { initSeq: 0, delta: 0, previousDelta: 0 });
    assert.ok(b.syncConn(rec, now) >= 0);
    const { inSeq: _i, outSeq: _o, ...noSeq } = rec;
    assert.ok(bare.syncConn(noSeq, now) >= 0);
    // Takeover: the next segments leave the backup exactly as they leave the master.
    const next = [rs("PA", "150 Here it comes.\r\n"), cl("A")];
    for (const f of next) {
      const want = io.run([f], now += 1000).tx[0].bytes;
      const got = new FrameIo(b).run([f], now).tx[0].bytes;
      assert.deepEqual(got, want, "the backup shifts seq and ack as the master does");
      const plain = new FrameIo(bare).run([f], now).tx[0].bytes;
      assert.notDeepEqual(plain, want, "without the sequence data the stream would break");
    }
    // The backup, master in turn, sends the adjustment on (in_pkts: the backup's threshold
    // 3 when synced, then one client segment above; this is the 5th).
    b.setSync({ ...DEFAULTS, period: 0, threshold: 5 });
    new FrameIo(b).run([cl("A")], now += 1000);
    const again = drainSyncRecords(b);
    assert.equal(again.length, 1);
    assert.deepEqual(again[0].outSeq, rec.outSeq);
  });
}
