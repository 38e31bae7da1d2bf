// Issue 7, more protocols, through both engines: SCTP services (NAT with the CRC32c
// recomputed, DR, IPv6; the ip_vs_proto_sctp.c state machine; INIT-only scheduling and
// sloppy_sctp) and AH/ESP following the ISAKMP (UDP 500) entry between the same hosts.
import assert from "node:assert/strict";
import type { Engine } from "../host/engine/engine.ts";
import { FrameIo } from "../host/engine/frames.ts";
import {
  AF_INET,
  AF_INET6,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_MASQ,
  REASON_NAMES,
  SCHED_RR,
  SYS_SLOPPY_SCTP,
  V_TX,
} from "../host/engine/abi.gen.ts";
import { decode } from "./fixtures/decode.ts";
import { ipOf } from "./fixtures/icmp_builder.ts";
import { Frame } from "./fixtures/packet_builder.ts";
import { chunk, sctpCrcOk, sctpPacket } from "./fixtures/proto_traffic.ts";
import {
  dest,
  ENGINES,
  RS4,
  RS6,
  RS_MAC,
  setupLab,
  SMALL_CONFIG,
  svc,
  VIP,
} from "./fixtures/lab.ts";

const T0 = 1_700_000_000_000_000;
const CL4 = "198.18.0.10";
const CL6 = "2001:2::10";
const PORT = 3868;
const STATE = [
  "NONE",
  "INIT1",
  "INIT",
  "C-SENT",
  "C-REPLIED",
  "C-WAIT",
  "COOKIE",
  "C-ECHOED",
  "ESTABLISHED",
  "S-SENT",
  "S-RECEIVED",
  "S-ACK-SENT",
  "REJECTED",
  "CLOSED",
];
const TIMEOUT = [2, 4, 61, 61, 61, 61, 61, 61, 900, 61, 61, 61, 4, 61];

async function lab(make: (typeof ENGINES)[number]) {
  const e = await make.create(SMALL_CONFIG);
  setupLab(e);
  const add = (af: 2 | 10, proto: number, vip: string, port: number, rs: string, fwd: number) => {
    const s = e.addService(svc(af, proto, vip, port, SCHED_RR));
    return e.addDest(s, dest(af, rs, port, fwd));
  };
  const d4 = add(AF_INET, 132, VIP.nat4, PORT, RS4[0], IP_VS_CONN_F_MASQ);
  add(AF_INET, 132, VIP.dr4, PORT, RS4[0], IP_VS_CONN_F_DROUTE);
  add(AF_INET6, 132, VIP.nat6, PORT, RS6[0], IP_VS_CONN_F_MASQ);
  const isakmp = add(AF_INET, 17, VIP.nat4, 500, RS4[0], IP_VS_CONN_F_MASQ);
  const io = new FrameIo(e);
  let now = T0;
  const run = (f: Uint8Array) => {
    now += 1000;
    const r = io.run([f], now);
    return { why: r.verdicts[0] === V_TX ? "tx" : REASON_NAMES[r.reasons[0]], out: r.tx[0]?.bytes };
  };
  return { e, run, d4, isakmp };
}

/** An SCTP frame between a client port and `PORT` with one chunk (or several). */
function sctp(
  src: string,
  dst: string,
  sport: number,
  dport: number,
  chunks: Uint8Array[],
  fromRs = false,
) {
  const eth = Frame.eth(fromRs ? { src: RS_MAC[0] } : {});
  const ip = src.includes(":") ? eth.ipv6({ src, dst }) : eth.ipv4({ src, dst });
  return ip.raw(132, sctpPacket(sport, dport, 0x1234, chunks)).build();
}

function sctpOut(f: Uint8Array) {
  const ip = ipOf(f);
  const d = decode(f).ip!;
  const body = ip.subarray(d.version === 6 ? 40 : (ip[0] & 15) * 4, d.totalLen);
  const dv = new DataView(body.buffer, body.byteOffset);
  return {
    src: d.src,
    dst: d.dst,
    sport: dv.getUint16(0),
    dport: dv.getUint16(2),
    crcOk: sctpCrcOk(body),
    headerOk: d.headerOk,
  };
}

const state = (e: Engine, caddr: string, cport: number) => {
  const c = e.dumpConns().find((x) =>
    x.caddr === caddr && x.cport === cport && x.protocol === 132
  )!;
  return [STATE[c.state], c.timeout / 1000];
};

for (const make of ENGINES) {
  Deno.test(`[${make.name}] SCTP NAT: an association goes through IPVS's states, CRC32c recomputed`, async () => {
    const { e, run, d4 } = await lab(make);
    const c = (type: number, ...more: Uint8Array[]) =>
      sctp(CL4, VIP.nat4, 5000, PORT, [chunk(type, new Uint8Array(8)), ...more]);
    const s = (type: number) =>
      sctp(RS4[0], CL4, PORT, 5000, [chunk(type, new Uint8Array(8))], true);
    const steps: [string, Uint8Array, string][] = [
      ["INIT", c(1), "INIT1"],
      ["INIT ACK", s(2), "C-SENT"],
      ["COOKIE ECHO", c(10), "C-REPLIED"],
      ["COOKIE ACK", s(11), "ESTABLISHED"],
      ["DATA", c(0), "ESTABLISHED"],
      ["SACK", s(3), "ESTABLISHED"],
      ["SHUTDOWN", c(7), "S-RECEIVED"],
      ["SHUTDOWN ACK", s(8), "S-ACK-SENT"],
      ["SHUTDOWN COMPLETE", c(14), "CLOSED"],
    ];
    for (const [what, f, want] of steps) {
      const r = run(f);
      assert.equal(r.why, "tx", what);
      const o = sctpOut(r.out!);
      assert.ok(o.crcOk && o.headerOk, `${what}: checksums`);
      const fromClient = decode(f).ip!.src === CL4;
      assert.deepEqual(
        fromClient ? [o.dst, o.dport] : [o.src, o.sport],
        fromClient ? [RS4[0], PORT] : [VIP.nat4, PORT],
        `${what}: NAT`,
      );
      const [st, timeout] = state(e, CL4, 5000);
      assert.deepEqual([st, timeout], [want, TIMEOUT[STATE.indexOf(want)]], what);
      if (what === "DATA") assert.equal(e.destCounts(d4).activeConns, 1, "ESTABLISHED is active");
    }
    assert.equal(e.destCounts(d4).activeConns, 0);
  });

  Deno.test(`[${make.name}] SCTP: only INIT schedules (sloppy_sctp: all but ABORT); COOKIE ECHO + ABORT aborts`, async () => {
    const { e, run } = await lab(make);
    assert.equal(run(sctp(CL4, VIP.nat4, 5001, PORT, [chunk(0)])).why, "sctp_no_init");
    e.setSysctl(SYS_SLOPPY_SCTP, 1);
    assert.equal(run(sctp(CL4, VIP.nat4, 5001, PORT, [chunk(0)])).why, "tx");
    assert.equal(
      run(sctp(CL4, VIP.nat4, 5002, PORT, [chunk(6)])).why,
      "sctp_no_init",
      "ABORT never creates",
    );
    run(sctp(CL4, VIP.nat4, 5003, PORT, [chunk(1)]));
    run(sctp(RS4[0], CL4, PORT, 5003, [chunk(2)], true));
    run(sctp(CL4, VIP.nat4, 5003, PORT, [chunk(10, new Uint8Array(8)), chunk(6)]));
    assert.deepEqual(state(e, CL4, 5003), ["CLOSED", 61], "IN abort from C-SENT");
    assert.equal(run(sctp(CL4, VIP.nat4, 5004, PORT, [chunk(6)])).why, "sctp_no_init");
    assert.equal(
      run(Frame.eth().ipv4({ src: CL4, dst: VIP.nat4 }).raw(132, new Uint8Array(14)).build()).why,
      "trunc_l4",
    );
  });

  Deno.test(`[${make.name}] SCTP DR (input only) and IPv6 NAT`, async () => {
    const { e, run } = await lab(make);
    const dr = run(sctp(CL4, VIP.dr4, 5100, PORT, [chunk(1)]));
    assert.equal(decode(dr.out!).dstMac, RS_MAC[0]);
    assert.equal(sctpOut(dr.out!).dst, VIP.dr4, "DR: unchanged");
    assert.deepEqual(state(e, CL4, 5100), ["INIT1", 4]);
    run(sctp(CL4, VIP.dr4, 5100, PORT, [chunk(10)]));
    assert.deepEqual(state(e, CL4, 5100), ["ESTABLISHED", 900], "IN-ONLY COOKIE ECHO from INIT1");
    const v6 = run(sctp(CL6, VIP.nat6, 5200, PORT, [chunk(1, new Uint8Array(20))]));
    const o = sctpOut(v6.out!);
    assert.deepEqual([o.dst, o.dport, o.crcOk], [RS6[0], PORT, true]);
  });

  Deno.test(`[${make.name}] AH and ESP follow the ISAKMP entry between the same hosts`, async () => {
    const { e, run, isakmp } = await lab(make);
    const esp = (src: string, dst: string, proto = 50, fromRs = false) =>
      Frame.eth(fromRs ? { src: RS_MAC[0] } : {}).ipv4({ src, dst }).raw(
        proto,
        new Uint8Array(32).fill(0xee),
      ).build();
    assert.equal(run(esp(CL4, VIP.nat4)).why, "not_l4", "no ISAKMP entry yet");
    assert.equal(
      run(
        Frame.eth().ipv4({ src: CL4, dst: VIP.nat4 }).udp({ sport: 500, dport: 500 }).payload("ike")
          .build(),
      ).why,
      "tx",
    );
    for (const proto of [50, 51]) {
      const r = run(esp(CL4, VIP.nat4, proto));
      assert.equal(r.why, "tx");
      const d = decode(r.out!).ip!;
      assert.deepEqual([d.src, d.dst, d.proto, d.headerOk], [CL4, RS4[0], proto, true]);
      assert.deepEqual(
        ipOf(r.out!).subarray(20),
        new Uint8Array(32).fill(0xee),
        "payload untouched",
      );
      const back = run(esp(RS4[0], CL4, proto, true));
      assert.deepEqual([decode(back.out!).ip!.src, decode(back.out!).ip!.dst], [VIP.nat4, CL4]);
    }
    const st = e.destStats(isakmp);
    assert.deepEqual([st.inPkts, st.outPkts], [3, 2], "counted on the ISAKMP entry's dest");
    assert.equal(e.dumpConns().find((c) => c.protocol === 17 && c.cport === 500)!.inPkts, 3);
  });
}
