// Tests of the replay core (replay_core.ts) against a small stand-in engine that forwards
// every IP frame to the neighbour of its destination address, so that batching, clocks,
// neighbour learning, output timestamps and the summary can be checked without a real engine.
import assert from "node:assert/strict";
import {
  AF_INET,
  AF_INET6,
  C_COUNT,
  C_DROP,
  C_PASS,
  C_REASON_BASE,
  C_RX,
  C_TX,
  HEADROOM,
  L_BATCH,
  L_MAX_DESTS,
  L_MAX_SVCS,
  L_RX_DESC,
  L_SLOT_COUNT,
  L_SLOTS,
  L_TX_CAP,
  L_TX_DESC,
  L_WORDS,
  R_NO_NEIGH,
  R_NOT_IP,
  R_NOT_L4,
  RXD_LEN,
  RXD_REASON,
  RXD_SIZE,
  RXD_SLOT,
  RXD_VERDICT,
  SLOT_SIZE,
  TXD_LEN,
  TXD_OFF,
  TXD_PORT,
  TXD_RX,
  TXD_SIZE,
  TXD_SLOT,
  V_DROP,
  V_PASS,
  V_TX,
} from "./engine/abi.gen.ts";
import type { Af, DestSpec, Engine, PortSpec, ServiceSpec } from "./engine/engine.ts";
import { formatIp, formatMac } from "./ctl/addr.ts";
import { IpvsError } from "./ctl/errors.ts";
import { PcapWriter, readPcap } from "./io/pcap.ts";
import { formatSummary, neighFromFrame, prepareReplay, replay } from "./replay_core.ts";
import { arpReply, Frame, ipBytes, macBytes } from "../tests/fixtures/packet_builder.ts";

/**
 * A stand-in engine: ARP → PASS not_ip, ICMPv6 → PASS not_l4, other IP → TX to the
 * neighbour of the destination address (or the default route), else DROP no_neigh.
 */
class StandInEngine {
  readonly kind = "ts" as const;
  readonly memory: ArrayBuffer;
  readonly layout = new Uint32Array(L_WORDS);
  readonly log: string[] = [];
  readonly batches: [n: number, now: number][] = [];
  #neigh = new Map<string, Uint8Array>();
  #default = new Map<number, Uint8Array>();
  #port?: PortSpec;
  #c = new Array<number>(C_COUNT).fill(0);
  #dests = new Map<number, number[]>();
  #nDests = 0;
  #nSvcs = 0;

  constructor(batch: number) {
    const rx = 0, tx = batch * RXD_SIZE, slots = 2 * batch * RXD_SIZE;
    this.memory = new ArrayBuffer(slots + batch * SLOT_SIZE);
    const l = this.layout;
    l[L_RX_DESC] = rx, l[L_TX_DESC] = tx, l[L_SLOTS] = slots;
    l[L_BATCH] = batch, l[L_TX_CAP] = batch, l[L_SLOT_COUNT] = batch;
    l[L_MAX_SVCS] = 8, l[L_MAX_DESTS] = 16;
  }

  setPort(port: number, spec: PortSpec): number {
    this.#port = spec;
    this.log.push(
      `setPort ${port} ${formatMac(spec.mac)} mtu=${spec.mtu} ${
        spec.addr4 ? formatIp(spec.addr4) : "-"
      } ${spec.addr6 ? formatIp(spec.addr6) : "-"}`,
    );
    return 0;
  }
  setNeigh(af: Af, addr: Uint8Array | null, mac: Uint8Array, port: number): number {
    this.log.push(`setNeigh ${af} ${addr ? formatIp(addr) : "default"} ${formatMac(mac)} ${port}`);
    if (addr) this.#neigh.set(formatIp(addr), mac.slice());
    else this.#default.set(af, mac.slice());
    return 0;
  }
  addService(s: ServiceSpec): number {
    this.log.push(`addService ${formatIp(s.addr)}:${s.port}`);
    this.#dests.set(this.#nSvcs, []);
    return this.#nSvcs++;
  }
  addDest(svc: number, d: DestSpec): number {
    this.log.push(`addDest ${svc} ${formatIp(d.addr)}:${d.port}`);
    this.#dests.get(svc)!.unshift(this.#nDests);
    return this.#nDests++;
  }
  destList(svc: number): number[] {
    return this.#dests.get(svc) ?? [];
  }
  processBatch(n: number, now: number): number {
    this.batches.push([n, now]);
    const u8 = new Uint8Array(this.memory), dv = new DataView(this.memory);
    let nTx = 0;
    for (let i = 0; i < n; i++) {
      const d = this.layout[L_RX_DESC] + i * RXD_SIZE;
      const slot = dv.getUint32(d + RXD_SLOT, true), len = dv.getUint16(d + RXD_LEN, true);
      const off = this.layout[L_SLOTS] + slot * SLOT_SIZE + HEADROOM;
      const f = u8.subarray(off, off + len);
      const type = (f[12] << 8) | f[13];
      const verdict = (v: number, r: number) => {
        u8[d + RXD_VERDICT] = v, u8[d + RXD_REASON] = r;
        this.#c[v === V_TX ? C_TX : v === V_DROP ? C_DROP : C_PASS]++;
        if (r) this.#c[C_REASON_BASE + r]++;
      };
      this.#c[C_RX]++;
      if (type !== 0x0800 && type !== 0x86dd) {
        verdict(V_PASS, R_NOT_IP);
        continue;
      }
      const v6 = type === 0x86dd;
      if (v6 && f[14 + 6] === 58) {
        verdict(V_PASS, R_NOT_L4);
        continue;
      }
      const dst = v6 ? f.subarray(38, 54) : f.subarray(30, 34);
      const mac = this.#neigh.get(formatIp(dst)) ?? this.#default.get(v6 ? AF_INET6 : AF_INET);
      if (!mac) {
        verdict(V_DROP, R_NO_NEIGH);
        continue;
      }
      f.set(mac, 0);
      f.set(this.#port!.mac, 6);
      const t = this.layout[L_TX_DESC] + nTx++ * TXD_SIZE;
      dv.setUint32(t + TXD_SLOT, slot, true);
      dv.setUint16(t + TXD_OFF, HEADROOM, true);
      dv.setUint16(t + TXD_LEN, len, true);
      dv.setUint16(t + TXD_PORT, 0, true);
      dv.setUint32(t + TXD_RX, i, true);
      verdict(V_TX, 0);
    }
    return nTx;
  }
  counters(): number[] {
    return this.#c.slice();
  }
  svcStats(svc: number) {
    return { conns: svc + 1, inPkts: 10, outPkts: 20, inBytes: 1000, outBytes: 2000 };
  }
  destStats(dest: number) {
    return { conns: dest + 1, inPkts: 1, outPkts: 2, inBytes: 100, outBytes: 200 };
  }
  destCounts(_dest: number) {
    return { activeConns: 1, inactConns: 2, persistConns: 0, flags: 1 };
  }
  setSysctl(): void {}
  setTimeouts(): void {}
  timeouts(): number[] {
    return [];
  }
  editService(): number {
    return -22;
  }
  delService(): number {
    return -22;
  }
  editDest(): number {
    return -22;
  }
  delDest(): number {
    return -22;
  }
  expire(): number {
    return 0;
  }
  dumpConns() {
    return [];
  }
}

const standIn = (batch = 64) => new StandInEngine(batch) as StandInEngine & Engine;

function pcapOf(frames: [ts: number, bytes: Uint8Array][]): Uint8Array {
  const w = new PcapWriter();
  for (const [ts, f] of frames) w.write(ts, f);
  return w.bytes();
}

const RS_MAC = "02:00:00:00:01:01";
const T0 = 1_700_000_000_000_000;
const tcpTo = (dst: string) =>
  Frame.eth().ipv4({ src: "198.18.0.100", dst }).tcp({ sport: 40000, dport: 80, flags: "S" })
    .build();
const RULES =
  "-A -t 198.18.100.1:80 -s rr\n-a -t 198.18.100.1:80 -r 198.18.1.1:8080 -m -w 1\n-a -t 198.18.100.1:80 -r 198.18.1.2:8080 -m -w 2\n";

Deno.test("replay() learns a neighbour from ARP in time for the next frame of the same instant", () => {
  const e = standIn();
  const { outPcap, summary } = replay(
    e,
    RULES,
    pcapOf([[T0, arpReply(RS_MAC, "198.18.1.1")], [T0, tcpTo("198.18.1.1")], [
      T0,
      tcpTo("198.18.1.9"),
    ]]),
  );
  // The ARP frame ends its batch; the two data frames share the next one.
  assert.deepEqual(e.batches, [[1, T0], [2, T0]]);
  const out = readPcap(outPcap).records;
  assert.equal(out.length, 1);
  assert.equal(formatMac(out[0].data.subarray(0, 6)), RS_MAC);
  assert.equal(formatMac(out[0].data.subarray(6, 12)), "02:00:00:00:00:fe");
  assert.equal(summary.learnt, 1);
  assert.equal(summary.txFrames, 1);
  assert.deepEqual(summary.counters, [
    { name: "rx", value: 3 },
    { name: "tx", value: 1 },
    { name: "drop", value: 1 },
    { name: "pass", value: 1 },
    { name: "no_neigh", value: 1 },
    { name: "not_ip", value: 1 },
  ]);
});

Deno.test("replay() batches frames of equal timestamps, at most --batch, and stamps output with the RX time", () => {
  const e = standIn();
  const frames: [number, Uint8Array][] = [
    [T0, tcpTo("198.18.1.1")],
    [T0, tcpTo("198.18.1.1")],
    [T0, tcpTo("198.18.1.1")],
    [T0 + 1, tcpTo("198.18.1.1")],
    [T0 + 1_000_000, tcpTo("198.18.1.1")],
    [T0, tcpTo("198.18.1.1")], // time going backwards is fed as it is
  ];
  const { outPcap } = replay(e, RULES, pcapOf(frames), {
    batch: 2,
    neigh: [{ af: AF_INET, addr: ipBytes("198.18.1.1"), mac: macBytes(RS_MAC) }],
  });
  assert.deepEqual(e.batches, [[2, T0], [1, T0], [1, T0 + 1], [1, T0 + 1_000_000], [1, T0]]);
  assert.deepEqual(readPcap(outPcap).records.map((r) => r.tsMicros), frames.map(([ts]) => ts));
});

Deno.test("replay() never asks for more frames per call than the engine's batch", () => {
  const e = standIn(2);
  replay(e, RULES, pcapOf([1, 2, 3].map(() => [T0, tcpTo("198.18.1.1")])), { batch: 64 });
  assert.deepEqual(e.batches.map(([n]) => n), [2, 1]);
});

Deno.test("replay() sets up the port, default routes, static neighbours and rules before any frame", () => {
  const e = standIn();
  replay(e, RULES, pcapOf([]), {
    mac: macBytes("02:00:00:00:00:aa"),
    mtu: 9000,
    portAddr4: ipBytes("198.18.0.254"),
    portAddr6: ipBytes("2001:2::fe"),
    defaultGw: macBytes("02:00:00:00:00:01"),
    neigh: [{ af: AF_INET6, addr: ipBytes("2001:2:0:1::1"), mac: macBytes(RS_MAC) }],
  });
  assert.deepEqual(e.log, [
    "setPort 0 02:00:00:00:00:aa mtu=9000 198.18.0.254 2001:2::fe",
    "setNeigh 2 default 02:00:00:00:00:01 0",
    "setNeigh 10 default 02:00:00:00:00:01 0",
    "setNeigh 10 2001:2:0:1::1 02:00:00:00:01:01 0",
    "addService 198.18.100.1:80",
    "addDest 0 198.18.1.1:8080",
    "addDest 0 198.18.1.2:8080",
  ]);
  assert.deepEqual(e.batches, []);
});

Deno.test("replay() rejects bad rules, captures and options before touching the engine", async (t) => {
  const good = pcapOf([[T0, tcpTo("198.18.1.1")]]);
  const cases: [string, () => void, RegExp][] = [
    [
      "unsupported scheduler",
      () => replay(e, "-A -t 198.18.100.1:80 -s none", good),
      /^line 1: scheduler 'none' is not supported/,
    ],
    [
      "duplicate dest",
      () => replay(e, RULES + "-a -t 198.18.100.1:80 -r 198.18.1.2:8080 -m\n", good),
      /^line 4: .*Destination already exists/,
    ],
    [
      "engine limits",
      () =>
        replay(
          e,
          Array.from({ length: 9 }, (_, i) => `-A -u 198.18.100.1:${i + 1}`).join("\n"),
          good,
        ),
      /line 9: .*at most 8 services/,
    ],
    [
      "truncated capture",
      () => replay(e, RULES, good.subarray(0, good.length - 1)),
      /^Cannot read pcap: record 1/,
    ],
    ["not Ethernet", () => {
      const w = new PcapWriter({ linkType: 101 });
      replay(e, RULES, w.bytes());
    }, /link type 101 is not Ethernet/],
    ["bad MTU", () => replay(e, RULES, good, { mtu: 20 }), /MTU 20/],
    ["bad batch", () => replay(e, RULES, good, { batch: 0 }), /batch 0/],
  ];
  const e = standIn();
  for (const [name, fn, re] of cases) {
    await t.step(name, () => assert.throws(fn, { message: re }));
  }
  assert.deepEqual(e.log, []);
  assert.deepEqual(e.batches, []);
  assert.throws(() => replay(e, "-A -t 198.18.100.1:80 -s none", good), IpvsError);
});

Deno.test("prepareReplay() needs no engine", () => {
  const plan = prepareReplay(RULES, pcapOf([[T0, tcpTo("198.18.1.1")]]));
  assert.equal(plan.records.length, 1);
  assert.equal(plan.model.services.length, 1);
  assert.equal(plan.options.batch, 64);
  assert.equal(formatMac(plan.options.mac), "02:00:00:00:00:fe");
});

Deno.test("formatSummary() prints counters and ipvsadm-style service tables", () => {
  const e = standIn();
  const { summary } = replay(e, RULES, pcapOf([[T0, arpReply(RS_MAC, "198.18.1.1")]]));
  const text = formatSummary(summary);
  assert.match(
    text,
    /^replay \(ts engine\): 1 frames in 1 batches, 0 transmitted, 1 neighbours learnt\n/,
  );
  assert.match(text, /\n {2}rx {7} +1\n/);
  assert.match(text, /\n {2}not_ip {3} +1\n/);
  assert.match(
    text,
    /\nTCP {2}198\.18\.100\.1:80 rr\n {2}-> 198\.18\.1\.2:8080 +Masq +2 +1 +2\n {2}-> 198\.18\.1\.1:8080 +Masq +1 +1 +2\n/,
  );
  assert.match(
    text,
    /\nTCP {2}198\.18\.100\.1:80 +1 +10 +20 +1000 +2000\n {2}-> 198\.18\.1\.2:8080 +2 +1 +2 +100 +200\n/,
  );
});

/** An IPv6 neighbour-discovery frame (no checksum: the learner does not verify it). */
function nd(
  type: number,
  src: string,
  target: string,
  opt: number,
  mac: string,
  hopLimit = 255,
): Uint8Array {
  const icmp = new Uint8Array(32);
  icmp[0] = type;
  icmp.set(ipBytes(target), 8);
  icmp[24] = opt, icmp[25] = 1;
  icmp.set(macBytes(mac), 26);
  return Frame.eth().ipv6({ src, dst: "ff02::1", hopLimit }).raw(58, icmp).build();
}

Deno.test("neighFromFrame() learns from ARP requests and replies and ND solicitations and advertisements", () => {
  const show = (f: Uint8Array) => {
    const n = neighFromFrame(f);
    return n ? `${n.af} ${formatIp(n.addr)} ${formatMac(n.mac)}` : null;
  };
  assert.equal(show(arpReply(RS_MAC, "198.18.1.1")), `2 198.18.1.1 ${RS_MAC}`);
  const request = arpReply(RS_MAC, "198.18.1.1");
  request[14 + 7] = 1;
  assert.equal(show(request), `2 198.18.1.1 ${RS_MAC}`);
  // 802.1Q-tagged ARP.
  const tagged = new Uint8Array(46);
  tagged.set(request.subarray(0, 12));
  tagged.set([0x81, 0x00, 0x00, 0x05], 12);
  tagged.set(request.subarray(12), 16);
  assert.equal(show(tagged), `2 198.18.1.1 ${RS_MAC}`);
  assert.equal(
    show(nd(136, "2001:2:0:1::1", "2001:2:0:1::1", 2, RS_MAC)),
    `10 2001:2:0:1::1 ${RS_MAC}`,
  );
  assert.equal(
    show(nd(135, "2001:2:0:1::7", "2001:2::fe", 1, RS_MAC)),
    `10 2001:2:0:1::7 ${RS_MAC}`,
  );
});

Deno.test("neighFromFrame() ignores probes, malformed and non-neighbour frames", () => {
  const probe = arpReply(RS_MAC, "0.0.0.0");
  assert.equal(neighFromFrame(probe), null);
  assert.equal(neighFromFrame(arpReply("01:00:5e:00:00:01", "198.18.1.1")), null); // multicast MAC
  assert.equal(neighFromFrame(arpReply(RS_MAC, "198.18.1.1").subarray(0, 41)), null);
  assert.equal(neighFromFrame(tcpTo("198.18.1.1")), null);
  assert.equal(neighFromFrame(nd(135, "::", "2001:2::fe", 1, RS_MAC)), null); // DAD
  assert.equal(neighFromFrame(nd(136, "2001:2:0:1::1", "2001:2:0:1::1", 2, RS_MAC, 64)), null); // hop limit
  assert.equal(neighFromFrame(nd(136, "2001:2:0:1::1", "2001:2:0:1::1", 1, RS_MAC)), null); // wrong option
  const zeroLen = nd(136, "2001:2:0:1::1", "2001:2:0:1::1", 2, RS_MAC);
  zeroLen[14 + 40 + 25] = 0;
  assert.equal(neighFromFrame(zeroLen), null);
  assert.equal(neighFromFrame(new Uint8Array(10)), null);
});
