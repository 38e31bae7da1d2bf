// Persistence through `replay` (issue 3 acceptance): a rules file with a persistent
// service (-p 60 -M 255.255.255.0) and a persistent firewall-mark service, and a capture
// of SYNs and RSTs over two minutes. Connections from one client network stick to one real
// server until the template expires (60 s after the last connection it made, once its
// connections are gone), then the network is scheduled afresh and moves; the fwmark
// service groups ports 80 and 443 of its VIP under one template. Both engines, same
// output. The real server of each output frame (DR) is read from its destination MAC.
import assert from "node:assert/strict";
import { PcapWriter, readPcap } from "../host/io/pcap.ts";
import { replay, type ReplayOptions } from "../host/replay_core.ts";
import { ENGINES } from "./fixtures/lab.ts";
import { Frame, ipBytes, macBytes } from "./fixtures/packet_builder.ts";

const RULES = `# ipvsadm -S -n
-A -t 198.18.100.1:80 -s rr -p 60 -M 255.255.255.0
-a -t 198.18.100.1:80 -r 198.18.1.1:80 -g -w 1
-a -t 198.18.100.1:80 -r 198.18.1.2:80 -g -w 1
-a -t 198.18.100.1:80 -r 198.18.1.3:80 -g -w 1
-A -f 7 -s rr -p 300
-a -f 7 -r 198.18.1.1:0 -g -w 1
-a -f 7 -r 198.18.1.2:0 -g -w 1
`;

const RS_MAC = ["02:00:00:00:01:01", "02:00:00:00:01:02", "02:00:00:00:01:03"];
const OPTIONS: ReplayOptions = {
  neigh: RS_MAC.map((mac, i) => ({
    af: 2,
    addr: ipBytes(`198.18.1.${i + 1}`),
    mac: macBytes(mac),
  })),
  defaultGw: macBytes("02:00:00:00:00:01"),
  // iptables -t mangle -A PREROUTING -d 198.18.100.2 -p tcp -m multiport --dports 80,443 -j MARK --set-mark 7
  marks: [{ daddr: ipBytes("198.18.100.2"), proto: 6, dports: [80, 443], mark: 7 }],
};

const T0 = 1_700_000_000_000_000;
const S = 1_000_000;

interface Step {
  at: number; // seconds
  c: string;
  port: number;
  vip?: string;
  vport?: number;
  flags?: string;
  /** The expected real server (1..3) of this frame's output, or 0 for no output. */
  rs: number;
  why: string;
}

// rr over the list 198.18.1.3, .2, .1 (the last added is first): .3, then .2, then .1.
const STEPS: Step[] = [
  { at: 0, c: "198.18.0.10", port: 1000, rs: 3, why: "first client of 198.18.0.0/24: rr picks .3" },
  { at: 1, c: "198.18.0.20", port: 1001, rs: 3, why: "same /24: the template" },
  { at: 2, c: "198.18.0.30", port: 1002, rs: 3, why: "same /24" },
  { at: 3, c: "198.18.2.5", port: 1003, rs: 2, why: "another /24: rr moves on" },
  {
    at: 4,
    c: "198.18.0.10",
    port: 1000,
    flags: "R",
    rs: 3,
    why: "RSTs close the connections (CLOSE, 10 s)",
  },
  { at: 4, c: "198.18.0.20", port: 1001, flags: "R", rs: 3, why: "" },
  { at: 4, c: "198.18.0.30", port: 1002, flags: "R", rs: 3, why: "" },
  {
    at: 30,
    c: "198.18.0.40",
    port: 1004,
    rs: 3,
    why: "template still alive (re-armed: expires at 90 s)",
  },
  { at: 31, c: "198.18.0.40", port: 1004, flags: "R", rs: 3, why: "" },
  {
    at: 80,
    c: "198.18.0.41",
    port: 1005,
    rs: 3,
    why: "80 s: still within 60 s of the last new connection",
  },
  { at: 81, c: "198.18.0.41", port: 1005, flags: "R", rs: 3, why: "" },
  {
    at: 150,
    c: "198.18.0.50",
    port: 1006,
    rs: 1,
    why: "the template expired at 140 s: scheduled afresh, moves",
  },
  { at: 151, c: "198.18.0.60", port: 1007, rs: 1, why: "the new template" },
  // fwmark 7: ports 80 and 443 of 198.18.100.2 are one service, one template per client.
  {
    at: 152,
    c: "198.18.0.70",
    port: 2000,
    vip: "198.18.100.2",
    vport: 80,
    rs: 2,
    why: "fwmark: rr over .2, .1",
  },
  {
    at: 153,
    c: "198.18.0.70",
    port: 2001,
    vip: "198.18.100.2",
    vport: 443,
    rs: 2,
    why: "port 443: same template",
  },
  {
    at: 154,
    c: "198.18.0.71",
    port: 2002,
    vip: "198.18.100.2",
    vport: 443,
    rs: 1,
    why: "another client (/32)",
  },
  {
    at: 155,
    c: "198.18.0.71",
    port: 2003,
    vip: "198.18.100.2",
    vport: 80,
    rs: 1,
    why: "its template",
  },
  {
    at: 156,
    c: "198.18.0.70",
    port: 2004,
    vip: "198.18.100.2",
    vport: 8080,
    rs: 0,
    why: "port 8080: not marked, no service",
  },
];

function capture(): Uint8Array {
  const w = new PcapWriter();
  for (const s of STEPS) {
    const f = Frame.eth({ src: "02:00:00:00:00:01", dst: "02:00:00:00:00:fe" })
      .ipv4({ src: s.c, dst: s.vip ?? "198.18.100.1" })
      .tcp({ sport: s.port, dport: s.vport ?? 80, flags: s.flags ?? "S" })
      .build();
    w.write(T0 + s.at * S, f);
  }
  return w.bytes();
}

for (const make of ENGINES) {
  Deno.test(`[${make.name}] replay: a client network sticks to one server until its template expires; fwmark groups ports`, async () => {
    const engine = await make.create({
      maxConns: 1024,
      maxServices: 8,
      maxDests: 16,
      batch: 64,
      seed: 3,
    });
    const r = replay(engine, RULES, capture(), OPTIONS);
    const out = readPcap(r.outPcap).records;
    // Map each output frame back to its input by timestamp and client port.
    const got = STEPS.map((s) => {
      const o = out.find((x) => {
        const b = x.data;
        return x.tsMicros === T0 + s.at * S && ((b[34] << 8) | b[35]) === s.port;
      });
      if (!o) return 0;
      const mac = [...o.data.subarray(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join(":");
      return RS_MAC.indexOf(mac) + 1;
    });
    STEPS.forEach((s, i) => assert.equal(got[i], s.rs, `t=${s.at}s ${s.c}:${s.port}: ${s.why}`));
  });
}

Deno.test("replay with persistence gives the same output pcap in both engines", async () => {
  const outs = await Promise.all(ENGINES.map(async (m) => {
    const e = await m.create({ maxConns: 1024, maxServices: 8, maxDests: 16, batch: 64, seed: 3 });
    return replay(e, RULES, capture(), OPTIONS).outPcap;
  }));
  assert.deepEqual(outs[0], outs[1]);
});
