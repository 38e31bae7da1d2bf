// Issue 7, the FTP helper for NAT services (spec §5), through both engines: PASV/227 and
// EPSV/229 rewriting with sequence and acknowledgement adjustment, PORT/EPRT creating the
// active data entry, NO_CPORT passive data entries completed by the client's connection,
// controlled entries that keep their control connection alive, bad checksums refused.
import assert from "node:assert/strict";
import type { ConnDump, Engine } from "../host/engine/engine.ts";
import { FrameIo } from "../host/engine/frames.ts";
import {
  AF_INET,
  AF_INET6,
  IP_VS_CONN_F_IN_SEQ,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NO_CPORT,
  IP_VS_CONN_F_OUT_SEQ,
  REASON_NAMES,
  SCHED_RR,
  SYS_FTP_PORT,
  TCP_STATE_NAMES,
  V_TX,
} from "../host/engine/abi.gen.ts";
import { checksumsOk, decode } from "./fixtures/decode.ts";
import { Frame } from "./fixtures/packet_builder.ts";
import {
  dest,
  DIRECTOR_MAC,
  ENGINES,
  GW_MAC,
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
const CL4 = "198.18.0.10";
const CL6 = "2001:2::10";

/** A lab with an FTP NAT service per family (VIP:21 -> RS 1:21). */
async function ftpLab(make: (typeof ENGINES)[number]) {
  const e = await make.create(SMALL_CONFIG);
  setupLab(e);
  const s4 = e.addService(svc(AF_INET, 6, VIP.nat4, 21, SCHED_RR));
  e.addDest(s4, dest(AF_INET, RS4[0], 21, IP_VS_CONN_F_MASQ));
  const s6 = e.addService(svc(AF_INET6, 6, VIP.nat6, 21, SCHED_RR));
  e.addDest(s6, dest(AF_INET6, RS6[0], 21, IP_VS_CONN_F_MASQ));
  const io = new FrameIo(e);
  let now = T0;
  const run = (f: Uint8Array, dt = 1000) => {
    now += dt;
    const r = io.run([f], now);
    return { why: r.verdicts[0] === V_TX ? "tx" : REASON_NAMES[r.reasons[0]], out: r.tx[0]?.bytes };
  };
  return { e, run };
}

/** One TCP session's two ends: sequence numbers kept as each side sees them. */
class Session {
  cseq = 1000;
  sseq = 5000;
  constructor(
    readonly cl: string,
    readonly vip: string,
    readonly rs: string,
    readonly cport = 40000,
    readonly vport = 21,
    readonly dport = 21,
  ) {}
  #ip(src: string, dst: string, eth: Frame) {
    return src.includes(":") ? eth.ipv6({ src, dst }) : eth.ipv4({ src, dst });
  }
  /** Client segment; `ack` is what the client acknowledges (as it sees the server). */
  client(flags: string, text = "", ack = 0): Uint8Array {
    const f = this.#ip(this.cl, this.vip, Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC }))
      .tcp({ sport: this.cport, dport: this.vport, flags, seq: this.cseq, ack }).payload(text)
      .build();
    this.cseq += text.length + (flags.includes("S") || flags.includes("F") ? 1 : 0);
    return f;
  }
  server(flags: string, text = "", ack = 0): Uint8Array {
    const f = this.#ip(this.rs, this.cl, Frame.eth({ src: RS_MAC[0], dst: DIRECTOR_MAC }))
      .tcp({ sport: this.dport, dport: this.cport, flags, seq: this.sseq, ack }).payload(text)
      .build();
    this.sseq += text.length + (flags.includes("S") || flags.includes("F") ? 1 : 0);
    return f;
  }
}

function tcp(frame: Uint8Array) {
  const d = decode(frame).ip!;
  const l3 = 14;
  const ip = frame.subarray(l3);
  const hl = d.version === 6 ? 40 : (ip[0] & 15) * 4;
  const th = ip.subarray(hl);
  const dv = new DataView(th.buffer, th.byteOffset);
  return {
    src: d.src,
    dst: d.dst,
    sport: dv.getUint16(0),
    dport: dv.getUint16(2),
    seq: dv.getUint32(4),
    ack: dv.getUint32(8),
    text: new TextDecoder().decode(th.subarray((th[12] >> 4) * 4, d.totalLen - hl)),
    ok: checksumsOk(frame),
  };
}

function handshake(run: (f: Uint8Array) => { why: string; out?: Uint8Array }, s: Session): void {
  assert.equal(run(s.client("S")).why, "tx");
  assert.equal(run(s.server("SA", "", s.cseq)).why, "tx");
  assert.equal(run(s.client("A", "", s.sseq)).why, "tx");
  assert.equal(run(s.server("PA", "220 wvs ftp\r\n", s.cseq)).why, "tx");
}

const find = (e: Engine, pred: (c: ConnDump) => boolean) => e.dumpConns().filter(pred);

for (const make of ENGINES) {
  Deno.test(`[${make.name}] FTP PASV: 227 carries the VIP, the sequence shifts, the data connection completes`, async () => {
    const { e, run } = await ftpLab(make);
    const s = new Session(CL4, VIP.nat4, RS4[0]);
    handshake(run, s);
    assert.equal(run(s.client("PA", "pasv\r\n", s.sseq)).why, "tx"); // case-insensitive
    const reply = "227 Entering Passive Mode (198,18,1,1,195,80).\r\n";
    const seq227 = s.sseq;
    const r = run(s.server("PA", reply, s.cseq));
    assert.equal(r.why, "tx");
    const t = tcp(r.out!);
    assert.equal(t.text, "227 Entering Passive Mode (198,18,100,1,195,80).\r\n");
    assert.ok(t.ok, "IP and TCP checksums after the rewrite");
    assert.deepEqual(
      [t.src, t.sport, t.seq],
      [VIP.nat4, 21, seq227],
      "the rewritten segment keeps its seq",
    );
    const data = find(e, (c) => c.vport === 50000);
    assert.equal(data.length, 1);
    assert.equal(data[0].cport, 0);
    assert.ok(data[0].flags & IP_VS_CONN_F_NO_CPORT);
    assert.equal(TCP_STATE_NAMES[data[0].state], "LISTEN");
    assert.deepEqual([data[0].daddr, data[0].dport], [RS4[0], 50000]);
    // The server's next segment moves 2 bytes on; the client's ack of it moves back.
    const next = run(s.server("PA", "150 here\r\n", s.cseq));
    assert.equal(tcp(next.out!).seq, s.sseq - 10 + 2);
    assert.ok(tcp(next.out!).ok);
    const ack = run(s.client("A", "", s.sseq + 2));
    assert.equal(tcp(ack.out!).ack, s.sseq);
    assert.ok(tcp(ack.out!).ok);
    const ctl = find(e, (c) => c.vport === 21 && c.caddr === CL4)[0];
    assert.ok(ctl.flags & IP_VS_CONN_F_OUT_SEQ);
    assert.equal(ctl.flags & IP_VS_CONN_F_IN_SEQ, 0);
    // The client's data connection to VIP:50000 fills in its port and goes to RS:50000.
    const d = new Session(CL4, VIP.nat4, RS4[0], 41234, 50000, 50000);
    const syn = run(d.client("S"));
    assert.equal(syn.why, "tx");
    assert.deepEqual([tcp(syn.out!).dst, tcp(syn.out!).dport], [RS4[0], 50000]);
    const now = find(e, (c) => c.vport === 50000)[0];
    assert.equal(now.cport, 41234);
    assert.equal(now.flags & IP_VS_CONN_F_NO_CPORT, 0);
    const sa = run(d.server("SA", "", d.cseq));
    assert.deepEqual([tcp(sa.out!).src, tcp(sa.out!).sport], [VIP.nat4, 50000]);
  });

  Deno.test(`[${make.name}] FTP PORT and EPRT: the server's active data connection leaves from VIP:20`, async () => {
    const { e, run } = await ftpLab(make);
    const s = new Session(CL4, VIP.nat4, RS4[0]);
    handshake(run, s);
    const cmd = run(s.client("PA", "PORT 198,18,0,10,156,64\r\n", s.sseq));
    assert.equal(tcp(cmd.out!).text, "PORT 198,18,0,10,156,64\r\n", "commands are not rewritten");
    let data = find(e, (c) => c.cport === 40000 && c.vport === 20);
    assert.equal(data.length, 1);
    assert.deepEqual(
      [data[0].caddr, data[0].daddr, data[0].dport, TCP_STATE_NAMES[data[0].state]],
      [CL4, RS4[0], 20, "LISTEN"],
    );
    // The real server connects from port 20 to the client's port.
    const d = new Session(CL4, VIP.nat4, RS4[0], 40000, 20, 20);
    const syn = run(d.server("S"));
    assert.equal(syn.why, "tx");
    assert.deepEqual([tcp(syn.out!).src, tcp(syn.out!).sport, tcp(syn.out!).dst], [
      VIP.nat4,
      20,
      CL4,
    ]);
    const sa = run(d.client("SA", "", d.sseq));
    assert.deepEqual([tcp(sa.out!).dst, tcp(sa.out!).dport], [RS4[0], 20]);
    assert.equal(run(s.client("PA", "EPRT |1|198.18.0.10|40001|\r\n", s.sseq)).why, "tx");
    data = find(e, (c) => c.cport === 40001 && c.vport === 20);
    assert.equal(data.length, 1);
    // Another family's address, or a malformed one, makes nothing.
    run(s.client("PA", "EPRT |2|2001:2::10|40002|\r\n", s.sseq));
    run(s.client("PA", "PORT 198,18,0,10,256,1\r\n", s.sseq));
    assert.equal(find(e, (c) => c.vport === 20).length, 2);
  });

  Deno.test(`[${make.name}] FTP over IPv6: EPSV/229 and EPRT |2|`, async () => {
    const { e, run } = await ftpLab(make);
    const s = new Session(CL6, VIP.nat6, RS6[0]);
    handshake(run, s);
    run(s.client("PA", "EPSV\r\n", s.sseq));
    const r = run(s.server("PA", "229 Entering Extended Passive Mode (|||50001|)\r\n", s.cseq));
    assert.equal(tcp(r.out!).text, "229 Entering Extended Passive Mode (|||50001|)\r\n");
    assert.ok(tcp(r.out!).ok);
    const data = find(e, (c) => c.vport === 50001);
    assert.equal(data.length, 1);
    assert.equal(data[0].caddr, CL6);
    const d = new Session(CL6, VIP.nat6, RS6[0], 42000, 50001, 50001);
    assert.equal(tcp(run(d.client("S")).out!).dst, RS6[0]);
    run(s.client("PA", "EPRT |2|2001:2::10|40002|\r\n", s.sseq));
    assert.equal(find(e, (c) => c.vport === 20 && c.cport === 40002 && c.caddr === CL6).length, 1);
    // A 229 that carries an address is cut down to (|||port|): the sequence shifts back.
    run(s.client("PA", "EPSV 2\r\n", s.sseq));
    const seq = s.sseq;
    const r2 = run(s.server("PA", "229 ok (|2|2001:2:0:1::1|50002|)\r\n", s.cseq));
    assert.equal(tcp(r2.out!).text, "229 ok (|||50002|)\r\n");
    const after = run(s.server("PA", "150 x\r\n", s.cseq));
    assert.equal(tcp(after.out!).seq, seq + "229 ok (|||50002|)\r\n".length);
  });

  Deno.test(`[${make.name}] FTP: replies without a passive request, bad checksums, ftp_port 0`, async () => {
    const { e, run } = await ftpLab(make);
    const s = new Session(CL4, VIP.nat4, RS4[0]);
    handshake(run, s);
    const unasked = run(
      s.server("PA", "227 Entering Passive Mode (198,18,1,1,195,81).\r\n", s.cseq),
    );
    assert.match(tcp(unasked.out!).text, /198,18,1,1,195,81/, "no PASV before: not rewritten");
    const bad = s.client("PA", "PASV\r\n", s.sseq);
    bad[bad.length - 1] ^= 0x40; // payload changed, checksum not
    assert.equal(run(bad).why, "bad_l4_csum");
    e.setSysctl(SYS_FTP_PORT, 0);
    run(s.client("PA", "PASV\r\n", s.sseq));
    const off = run(s.server("PA", "227 Entering Passive Mode (198,18,1,1,195,82).\r\n", s.cseq));
    assert.match(tcp(off.out!).text, /198,18,1,1,195,82/, "helper off");
    assert.equal(find(e, (c) => c.vport === 50002).length, 0);
  });

  Deno.test(`[${make.name}] FTP: a control connection with data connections outlives its timer`, async () => {
    const { e, run } = await ftpLab(make);
    const s = new Session(CL4, VIP.nat4, RS4[0]);
    handshake(run, s);
    run(s.client("PA", "PASV\r\n", s.sseq));
    run(s.server("PA", "227 Entering Passive Mode (198,18,1,1,195,80).\r\n", s.cseq));
    const d = new Session(CL4, VIP.nat4, RS4[0], 41000, 50000, 50000);
    run(d.client("S"));
    run(d.server("SA", "", d.cseq));
    run(d.client("A", "", d.sseq)); // established: 900 s
    run(d.client("PA", "data", d.sseq), 600 * SEC); // the data entry lives on to 1500 s
    // The control entry (900 s, idle) times out while it controls a live entry: it is kept.
    const later = T0 + 950 * SEC;
    e.expire(later);
    const ctl = find(e, (c) => c.vport === 21 && c.caddr === CL4);
    assert.equal(ctl.length, 1, "the controlling entry is kept");
    assert.equal(find(e, (c) => c.vport === 50000).length, 1);
    e.expire(T0 + 2000 * SEC); // both gone in the end
    assert.equal(
      find(e, (c) => c.caddr === CL4 && (c.vport === 21 || c.vport === 50000)).length,
      0,
    );
  });
}
