// Acceptance test of issue 2 (item 8 and the tshark line): a capture with NAT (TCP and UDP,
// both directions), DR and TUN (IPv4-in-IPv4, IPv6-in-IPv6), IPv4 and IPv6, is replayed
// through each engine; tshark, with checksum validation on, must decode every output frame
// with no malformed packet and no bad checksum, and show the expected addresses, ports and
// encapsulation. The two engines' output pcaps must be byte-identical. Addresses are from
// 198.18.0.0/15 and 2001:2::/48 only. An engine that does not load, or a missing tshark, skips
// its test with a loud reason; the independent decoder (fixtures/decode.ts) checks the same
// expectations without tshark.
import assert from "node:assert/strict";
import type { EngineConfig } from "../host/engine/engine.ts";
import { PcapWriter, readPcap } from "../host/io/pcap.ts";
import { createEngine, type EngineKind, REPLAY_CONFIG } from "../host/replay.ts";
import {
  formatSummary,
  replay,
  type ReplayOptions,
  type ReplayResult,
} from "../host/replay_core.ts";
import { parseIp, parseMac } from "../host/ctl/addr.ts";
import { arpReply, checksum, Frame, ipBytes } from "./fixtures/packet_builder.ts";
import { checksumsOk, decode, type DecodedIp } from "./fixtures/decode.ts";

// ---------------------------------------------------------------------------------------
// Topology (the lab's: tests/fixtures/lab.ts), taught to the engine as a director would learn it.

const DIRECTOR_MAC = "02:00:00:00:00:fe";
const GW_MAC = "02:00:00:00:00:01";
const RS_MAC = ["02:00:00:00:01:01", "02:00:00:00:01:02", "02:00:00:00:01:03"];
const CLIENT4 = "198.18.0.100"; // on-link, learnt from its ARP reply
const CLIENT4_MAC = "02:00:00:00:00:64";
const CLIENT6 = "2001:2:ff::100"; // off-link, behind the default gateway
const PORT4 = "198.18.0.254";
const PORT6 = "2001:2::fe";

const RULES = `# ipvsadm.rules (ipvsadm -S -n)
-A -t 198.18.100.1:80 -s rr
-a -t 198.18.100.1:80 -r 198.18.1.1:8080 -m -w 1
-a -t 198.18.100.1:80 -r 198.18.1.2:8080 -m -w 1
-A -u 198.18.100.1:53 -s wrr
-a -u 198.18.100.1:53 -r 198.18.1.2:5353 -m -w 1
-A -t 198.18.100.2:80 -s wlc
-a -t 198.18.100.2:80 -r 198.18.1.3:80 -g -w 1
-A -t 198.18.100.3:80 -s rr
-a -t 198.18.100.3:80 -r 198.18.1.3:80 -i -w 1 --tun-type ipip
-A -t [2001:2:0:100::1]:80 -s rr
-a -t [2001:2:0:100::1]:80 -r [2001:2:0:1::1]:8080 -m -w 1
-A -u [2001:2:0:100::1]:53 -s rr
-a -u [2001:2:0:100::1]:53 -r [2001:2:0:1::2]:5353 -m -w 1
-A -t [2001:2:0:100::2]:80 -s rr
-a -t [2001:2:0:100::2]:80 -r [2001:2:0:1::1]:80 -g -w 1
-A -t [2001:2:0:100::3]:80 -s rr
-a -t [2001:2:0:100::3]:80 -r [2001:2:0:1::3]:80 -i -w 1 --tun-type ipip
`;

const OPTIONS: ReplayOptions = {
  mac: parseMac(DIRECTOR_MAC)!,
  portAddr4: parseIp(PORT4)!.addr,
  portAddr6: parseIp(PORT6)!.addr,
  defaultGw: parseMac(GW_MAC)!,
  neigh: [{ af: 10, addr: parseIp("2001:2:0:1::2")!.addr, mac: parseMac(RS_MAC[1])! }],
};

// ---------------------------------------------------------------------------------------
// The capture.

/** A neighbour advertisement (RFC 4861 §4.4) with a target link-layer address option. */
function neighborAdvert(addr: string, mac: string): Uint8Array {
  const icmp = new Uint8Array(32);
  icmp[0] = 136;
  icmp[4] = 0x60; // solicited, override
  icmp.set(ipBytes(addr), 8);
  icmp[24] = 2, icmp[25] = 1;
  icmp.set(mac.split(":").map((x) => parseInt(x, 16)), 26);
  const src = ipBytes(addr), dst = ipBytes(PORT6);
  const c = checksum([...src, ...dst, 0, 0, 0, icmp.length, 0, 0, 0, 58], icmp);
  icmp[2] = c >> 8, icmp[3] = c & 0xff;
  return Frame.eth({ src: mac, dst: DIRECTOR_MAC }).ipv6({ src: addr, dst: PORT6, hopLimit: 255 })
    .raw(58, icmp).build();
}

/** A DNS message for a.example IN A: the query, or an empty answer to it. */
function dns(response: boolean): Uint8Array {
  const name = [1, 0x61, 7, ...new TextEncoder().encode("example"), 0];
  return Uint8Array.from([
    0x12,
    0x34,
    response ? 0x81 : 0x01,
    response ? 0x80 : 0x00,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    ...name,
    0,
    1,
    0,
    1,
  ]);
}

const HTTP_GET = "GET / HTTP/1.0\r\nHost: a.example\r\n\r\n";
const HTTP_OK = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";

/** What one output frame must look like. */
interface Expect {
  what: string;
  ethDst: string;
  vlan?: number;
  /** IP headers, outermost first. */
  ip: { v: 4 | 6; src: string; dst: string; ttl: number }[];
  l4: "tcp" | "udp";
  sport: number;
  dport: number;
}

const T0 = 1_700_000_000_000_000;

/** The input frames with their timestamps, and the frames the engines must transmit. */
function scenario(): { frames: [number, Uint8Array][]; expect: (Expect & { ts: number })[] } {
  const frames: [number, Uint8Array][] = [];
  const expect: (Expect & { ts: number })[] = [];
  let t = T0;
  const feed = (f: Uint8Array, e?: Expect, sameInstant = false) => {
    if (!sameInstant) t += 1000;
    frames.push([t, f]);
    if (e) expect.push({ ...e, ts: t });
  };
  const c4 = (vlan?: number) => Frame.eth({ src: CLIENT4_MAC, dst: DIRECTOR_MAC, vlan });
  const c6 = () => Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC });
  const rs = (i: number) => Frame.eth({ src: RS_MAC[i], dst: DIRECTOR_MAC });
  const v4 = (src: string, dst: string) => ({ v: 4 as const, src, dst, ttl: 63 });
  const v6 = (src: string, dst: string) => ({ v: 6 as const, src, dst, ttl: 63 });

  // Neighbours: ARP replies (IPv4) and neighbour advertisements (IPv6), all at one instant.
  t = T0;
  frames.push([T0, arpReply(RS_MAC[0], "198.18.1.1", DIRECTOR_MAC)]);
  frames.push([T0, arpReply(RS_MAC[1], "198.18.1.2", DIRECTOR_MAC)]);
  frames.push([T0, arpReply(RS_MAC[2], "198.18.1.3", DIRECTOR_MAC)]);
  frames.push([T0, arpReply(CLIENT4_MAC, CLIENT4, DIRECTOR_MAC)]);
  frames.push([T0, neighborAdvert("2001:2:0:1::1", RS_MAC[0])]);
  frames.push([T0, neighborAdvert("2001:2:0:1::3", RS_MAC[2])]);

  // NAT, IPv4, TCP: a whole exchange; rr gives the newest real server (198.18.1.2) first.
  const vip = "198.18.100.1";
  feed(
    c4().ipv4({ src: CLIENT4, dst: vip }).tcp({ sport: 40001, dport: 80, flags: "S", seq: 100 })
      .build(),
    {
      what: "NAT4 TCP SYN in",
      ethDst: RS_MAC[1],
      ip: [v4(CLIENT4, "198.18.1.2")],
      l4: "tcp",
      sport: 40001,
      dport: 8080,
    },
  );
  feed(
    rs(1).ipv4({ src: "198.18.1.2", dst: CLIENT4 }).tcp({
      sport: 8080,
      dport: 40001,
      flags: "SA",
      seq: 500,
      ack: 101,
    }).build(),
    {
      what: "NAT4 TCP SYN+ACK out",
      ethDst: CLIENT4_MAC,
      ip: [v4(vip, CLIENT4)],
      l4: "tcp",
      sport: 80,
      dport: 40001,
    },
  );
  feed(
    c4().ipv4({ src: CLIENT4, dst: vip }).tcp({
      sport: 40001,
      dport: 80,
      flags: "A",
      seq: 101,
      ack: 501,
    }).build(),
    {
      what: "NAT4 TCP ACK in",
      ethDst: RS_MAC[1],
      ip: [v4(CLIENT4, "198.18.1.2")],
      l4: "tcp",
      sport: 40001,
      dport: 8080,
    },
  );
  feed(
    c4().ipv4({ src: CLIENT4, dst: vip, df: true }).tcp({
      sport: 40001,
      dport: 80,
      flags: "PA",
      seq: 101,
      ack: 501,
    })
      .payload(HTTP_GET).build(),
    {
      what: "NAT4 TCP data in",
      ethDst: RS_MAC[1],
      ip: [v4(CLIENT4, "198.18.1.2")],
      l4: "tcp",
      sport: 40001,
      dport: 8080,
    },
  );
  feed(
    rs(1).ipv4({ src: "198.18.1.2", dst: CLIENT4, df: true })
      .tcp({ sport: 8080, dport: 40001, flags: "PA", seq: 501, ack: 101 + HTTP_GET.length })
      .payload(HTTP_OK).build(),
    {
      what: "NAT4 TCP data out",
      ethDst: CLIENT4_MAC,
      ip: [v4(vip, CLIENT4)],
      l4: "tcp",
      sport: 80,
      dport: 40001,
    },
  );
  // A second connection goes to the other real server.
  feed(c4().ipv4({ src: CLIENT4, dst: vip }).tcp({ sport: 40002, dport: 80, flags: "S" }).build(), {
    what: "NAT4 TCP second SYN in",
    ethDst: RS_MAC[0],
    ip: [v4(CLIENT4, "198.18.1.1")],
    l4: "tcp",
    sport: 40002,
    dport: 8080,
  });
  // NAT, IPv4, UDP, in the same instant as the SYN before (one batch).
  feed(
    c4().ipv4({ src: CLIENT4, dst: vip }).udp({ sport: 50000, dport: 53 }).payload(dns(false))
      .build(),
    {
      what: "NAT4 UDP in",
      ethDst: RS_MAC[1],
      ip: [v4(CLIENT4, "198.18.1.2")],
      l4: "udp",
      sport: 50000,
      dport: 5353,
    },
    true,
  );
  feed(
    rs(1).ipv4({ src: "198.18.1.2", dst: CLIENT4 }).udp({ sport: 5353, dport: 50000 }).payload(
      dns(true),
    ).build(),
    {
      what: "NAT4 UDP out",
      ethDst: CLIENT4_MAC,
      ip: [v4(vip, CLIENT4)],
      l4: "udp",
      sport: 53,
      dport: 50000,
    },
  );
  // A UDP datagram without a checksum: the engine must compute the full one.
  feed(
    c4().ipv4({ src: CLIENT4, dst: vip }).udp({ sport: 50002, dport: 53, zeroChecksum: true })
      .payload(dns(false))
      .build(),
    {
      what: "NAT4 UDP in, zero checksum",
      ethDst: RS_MAC[1],
      ip: [v4(CLIENT4, "198.18.1.2")],
      l4: "udp",
      sport: 50002,
      dport: 5353,
    },
  );
  // Not a virtual service: passed to the host, not transmitted.
  feed(
    c4().ipv4({ src: CLIENT4, dst: "198.18.100.9" }).tcp({ sport: 40009, dport: 80, flags: "S" })
      .build(),
  );

  // DR, IPv4: only the MAC (and TTL) change.
  feed(
    c4().ipv4({ src: CLIENT4, dst: "198.18.100.2" }).tcp({ sport: 40003, dport: 80, flags: "S" })
      .build(),
    {
      what: "DR4 TCP SYN",
      ethDst: RS_MAC[2],
      ip: [v4(CLIENT4, "198.18.100.2")],
      l4: "tcp",
      sport: 40003,
      dport: 80,
    },
  );
  feed(
    c4().ipv4({ src: CLIENT4, dst: "198.18.100.2" }).tcp({
      sport: 40003,
      dport: 80,
      flags: "A",
      seq: 1001,
      ack: 1,
    }).build(),
    {
      what: "DR4 TCP ACK",
      ethDst: RS_MAC[2],
      ip: [v4(CLIENT4, "198.18.100.2")],
      l4: "tcp",
      sport: 40003,
      dport: 80,
    },
  );

  // TUN, IPv4 in IPv4; then the same through an 802.1Q-tagged frame.
  feed(
    c4().ipv4({ src: CLIENT4, dst: "198.18.100.3" }).tcp({ sport: 40004, dport: 80, flags: "S" })
      .build(),
    {
      what: "TUN4 TCP SYN",
      ethDst: RS_MAC[2],
      ip: [v4(PORT4, "198.18.1.3"), v4(CLIENT4, "198.18.100.3")],
      l4: "tcp",
      sport: 40004,
      dport: 80,
    },
  );
  feed(
    c4(5).ipv4({ src: CLIENT4, dst: "198.18.100.3" }).tcp({ sport: 40005, dport: 80, flags: "S" })
      .build(),
    {
      what: "TUN4 TCP SYN, VLAN 5",
      ethDst: RS_MAC[2],
      vlan: 5,
      ip: [v4(PORT4, "198.18.1.3"), v4(CLIENT4, "198.18.100.3")],
      l4: "tcp",
      sport: 40005,
      dport: 80,
    },
  );

  // NAT, IPv6, TCP: replies go to the off-link client through the default gateway.
  const vip6 = "2001:2:0:100::1";
  feed(
    c6().ipv6({ src: CLIENT6, dst: vip6 }).tcp({ sport: 40011, dport: 80, flags: "S" }).build(),
    {
      what: "NAT6 TCP SYN in",
      ethDst: RS_MAC[0],
      ip: [v6(CLIENT6, "2001:2:0:1::1")],
      l4: "tcp",
      sport: 40011,
      dport: 8080,
    },
  );
  feed(
    rs(0).ipv6({ src: "2001:2:0:1::1", dst: CLIENT6 }).tcp({
      sport: 8080,
      dport: 40011,
      flags: "SA",
      ack: 1001,
    }).build(),
    {
      what: "NAT6 TCP SYN+ACK out",
      ethDst: GW_MAC,
      ip: [v6(vip6, CLIENT6)],
      l4: "tcp",
      sport: 80,
      dport: 40011,
    },
  );
  feed(
    c6().ipv6({ src: CLIENT6, dst: vip6 }).tcp({
      sport: 40011,
      dport: 80,
      flags: "PA",
      seq: 1001,
      ack: 1001,
    })
      .payload(HTTP_GET).build(),
    {
      what: "NAT6 TCP data in",
      ethDst: RS_MAC[0],
      ip: [v6(CLIENT6, "2001:2:0:1::1")],
      l4: "tcp",
      sport: 40011,
      dport: 8080,
    },
  );
  // NAT, IPv6, UDP (the real server's MAC comes from --neigh).
  feed(
    c6().ipv6({ src: CLIENT6, dst: vip6 }).udp({ sport: 50001, dport: 53 }).payload(dns(false))
      .build(),
    {
      what: "NAT6 UDP in",
      ethDst: RS_MAC[1],
      ip: [v6(CLIENT6, "2001:2:0:1::2")],
      l4: "udp",
      sport: 50001,
      dport: 5353,
    },
  );
  feed(
    rs(1).ipv6({ src: "2001:2:0:1::2", dst: CLIENT6 }).udp({ sport: 5353, dport: 50001 }).payload(
      dns(true),
    ).build(),
    {
      what: "NAT6 UDP out",
      ethDst: GW_MAC,
      ip: [v6(vip6, CLIENT6)],
      l4: "udp",
      sport: 53,
      dport: 50001,
    },
  );
  // DR, IPv6.
  feed(
    c6().ipv6({ src: CLIENT6, dst: "2001:2:0:100::2" }).tcp({ sport: 40012, dport: 80, flags: "S" })
      .build(),
    {
      what: "DR6 TCP SYN",
      ethDst: RS_MAC[0],
      ip: [v6(CLIENT6, "2001:2:0:100::2")],
      l4: "tcp",
      sport: 40012,
      dport: 80,
    },
  );
  // TUN, IPv6 in IPv6.
  feed(
    c6().ipv6({ src: CLIENT6, dst: "2001:2:0:100::3" }).tcp({ sport: 40013, dport: 80, flags: "S" })
      .build(),
    {
      what: "TUN6 TCP SYN",
      ethDst: RS_MAC[2],
      ip: [v6(PORT6, "2001:2:0:1::3"), v6(CLIENT6, "2001:2:0:100::3")],
      l4: "tcp",
      sport: 40013,
      dport: 80,
    },
  );
  return { frames, expect };
}

// ---------------------------------------------------------------------------------------
// Running the engines (each one once, shared by the tests below).

const dir = await Deno.makeTempDir({ prefix: "wvs_replay_tshark_" });
const { frames, expect } = scenario();
const inPcap = (() => {
  const w = new PcapWriter();
  for (const [ts, f] of frames) w.write(ts, f);
  return w.bytes();
})();
// Inputs are on disk too, for `deno task replay` by hand (WVS_KEEP_PCAPS=1 keeps them).
await Deno.writeFile(`${dir}/in.pcap`, inPcap);
await Deno.writeTextFile(`${dir}/rules.txt`, RULES);

const CONFIG: EngineConfig = { ...REPLAY_CONFIG, batch: 64, seed: 1 };
const results = new Map<EngineKind, ReplayResult>();
/** Engines that loaded but failed to create or replay: their tests fail with this error. */
const failures = new Map<EngineKind, Error>();
for (const kind of ["wasm", "ts"] as const) {
  try {
    const engine = await createEngine(kind, CONFIG);
    const r = replay(engine, RULES, inPcap, OPTIONS);
    results.set(kind, r);
    await Deno.writeFile(`${dir}/out_${kind}.pcap`, r.outPcap);
  } catch (e) {
    if ((e as Error).message.startsWith("Cannot load engine")) {
      // Not importable (yet): skip, loudly. Any other error fails the engine's tests below.
      console.warn(
        `\n*** SKIPPING replay acceptance for the ${kind} engine: ${(e as Error).message}\n`,
      );
    } else {
      failures.set(kind, e as Error);
    }
  }
}

const TSHARK = await (async () => {
  try {
    const r = await new Deno.Command("tshark", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success ? "tshark" : undefined;
  } catch {
    return undefined;
  }
})();
if (!TSHARK) {
  console.warn(
    "\n*** SKIPPING the tshark checks: tshark is not installed (apt-get install tshark; CI installs it).\n" +
      "*** The same expectations are still checked with tests/fixtures/decode.ts.\n",
  );
}

// ---------------------------------------------------------------------------------------
// Oracle 1: the independent decoder.

function ipChain(ip: DecodedIp | undefined): DecodedIp[] {
  const out: DecodedIp[] = [];
  for (let p = ip; p; p = p.inner) out.push(p);
  return out;
}

function checkDecoded(out: Uint8Array): void {
  const recs = readPcap(out).records;
  assert.equal(recs.length, expect.length, "number of transmitted frames");
  recs.forEach((r, i) => {
    const e = expect[i];
    const d = decode(r.data);
    const where = `frame ${i + 1} (${e.what})`;
    assert.equal(r.tsMicros, e.ts, `${where}: timestamp of the RX frame`);
    assert.equal(d.dstMac, e.ethDst, `${where}: destination MAC`);
    assert.equal(d.srcMac, DIRECTOR_MAC, `${where}: source MAC`);
    assert.equal(d.vlan, e.vlan, `${where}: VLAN`);
    const chain = ipChain(d.ip);
    assert.deepEqual(
      chain.map((h) => ({ v: h.version, src: h.src, dst: h.dst, ttl: h.ttl })),
      e.ip,
      `${where}: IP headers`,
    );
    const l4 = chain[chain.length - 1].l4;
    assert.ok(l4, `${where}: L4 header`);
    assert.deepEqual(
      [l4.proto, l4.sport, l4.dport],
      [e.l4 === "tcp" ? 6 : 17, e.sport, e.dport],
      `${where}: L4`,
    );
    if (e.l4 === "udp") assert.notEqual(l4.checksumField, 0, `${where}: UDP checksum present`);
    assert.ok(checksumsOk(r.data), `${where}: checksums verify from scratch`);
  });
}

// ---------------------------------------------------------------------------------------
// Oracle 2: tshark.

const FIELDS = [
  "frame.number",
  "frame.protocols",
  "eth.dst",
  "vlan.id",
  "ip.src",
  "ip.dst",
  "ip.ttl",
  "ipv6.src",
  "ipv6.dst",
  "ipv6.hlim",
  "tcp.srcport",
  "tcp.dstport",
  "udp.srcport",
  "udp.dstport",
  "ip.checksum.status",
  "tcp.checksum.status",
  "udp.checksum.status",
  "_ws.malformed",
  "_ws.expert.severity",
  "_ws.expert.message",
] as const;

/** Wireshark's expert severities (epan/proto.h PI_*). */
const PI_WARN = 0x00600000;

async function tshark(path: string): Promise<Record<(typeof FIELDS)[number], string>[]> {
  const args = [
    "-n",
    "-r",
    path,
    // Preference names checked against `tshark -G defaultprefs` (4.0).
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "tcp.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
    // Sequence analysis would flag the partial flows a director sees (no bearing on correctness).
    "-o",
    "tcp.analyze_sequence_numbers:FALSE",
    "-T",
    "fields",
    "-E",
    "separator=|",
    "-E",
    "occurrence=a",
    "-E",
    "aggregator=;",
    ...FIELDS.flatMap((f) => ["-e", f]),
  ];
  const out = await new Deno.Command(TSHARK!, {
    args,
    env: { HOME: dir, XDG_CONFIG_HOME: dir, LC_ALL: "C" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const err = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `tshark failed (${out.code}): ${err}`);
  return text.trimEnd().split("\n").map((line) => {
    const cols = line.split("|");
    return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ""])) as Record<
      (typeof FIELDS)[number],
      string
    >;
  });
}

async function checkTshark(path: string): Promise<void> {
  const rows = await tshark(path);
  assert.equal(rows.length, expect.length, "tshark frame count");
  rows.forEach((row, i) => {
    const e = expect[i];
    const where = `tshark frame ${row["frame.number"]} (${e.what})`;
    assert.equal(row["_ws.malformed"], "", `${where}: malformed packet`);
    const severities = row["_ws.expert.severity"].split(";").filter((s) => s !== "").map(Number);
    const messages = row["_ws.expert.message"];
    assert.ok(
      severities.every((s) => s < PI_WARN),
      `${where}: expert info of warning level or above: ${messages}`,
    );
    assert.doesNotMatch(messages, /checksum|malformed/i, `${where}: expert info`);
    const v4 = e.ip.filter((h) => h.v === 4), v6 = e.ip.filter((h) => h.v === 6);
    const ipProto = (v: 4 | 6) => (v === 4 ? "ip" : "ipv6");
    const encap = e.ip.map((h) => ipProto(h.v)).join(":");
    const app = e.l4 === "udp" ? (e.sport === 53 || e.dport === 53 ? "dns" : "mdns") : "";
    assert.match(
      row["frame.protocols"],
      new RegExp(
        `^eth:ethertype:${e.vlan !== undefined ? "vlan:ethertype:" : ""}${encap}:${e.l4}(:|$)${
          app ? `.*${app}` : ""
        }`,
      ),
      `${where}: encapsulation`,
    );
    assert.equal(row["eth.dst"], e.ethDst, `${where}: eth.dst`);
    assert.equal(row["vlan.id"], e.vlan === undefined ? "" : String(e.vlan), `${where}: vlan.id`);
    assert.equal(row["ip.src"], v4.map((h) => h.src).join(";"), `${where}: ip.src`);
    assert.equal(row["ip.dst"], v4.map((h) => h.dst).join(";"), `${where}: ip.dst`);
    assert.equal(row["ip.ttl"], v4.map((h) => h.ttl).join(";"), `${where}: ip.ttl`);
    assert.equal(row["ipv6.src"], v6.map((h) => h.src).join(";"), `${where}: ipv6.src`);
    assert.equal(row["ipv6.dst"], v6.map((h) => h.dst).join(";"), `${where}: ipv6.dst`);
    assert.equal(row["ipv6.hlim"], v6.map((h) => h.ttl).join(";"), `${where}: ipv6.hlim`);
    const ports = [row[`${e.l4}.srcport`], row[`${e.l4}.dstport`]];
    assert.deepEqual(ports, [String(e.sport), String(e.dport)], `${where}: ${e.l4} ports`);
    // Checksum status 1 = "Good" (0 bad, 2 unverified): every checksum was validated and good.
    const good = (field: string, n: number) =>
      assert.equal(
        row[field as (typeof FIELDS)[number]],
        Array(n).fill("1").join(";"),
        `${where}: ${field}`,
      );
    good("ip.checksum.status", v4.length);
    good(`${e.l4}.checksum.status`, 1);
  });
}

// ---------------------------------------------------------------------------------------
// The tests.

for (const kind of ["wasm", "ts"] as const) {
  Deno.test({
    name:
      `replay through the ${kind} engine rewrites NAT, DR and TUN frames as IPVS does (independent decoder)`,
    ignore: !results.has(kind) && !failures.has(kind),
    fn: () => {
      if (failures.has(kind)) throw failures.get(kind);
      const r = results.get(kind)!;
      checkDecoded(r.outPcap);
      const counters = Object.fromEntries(r.summary.counters.map((c) => [c.name, c.value]));
      assert.equal(r.summary.learnt, 6, "neighbours learnt from ARP and ND");
      assert.equal(counters.tx, expect.length, formatSummary(r.summary));
      assert.equal(counters.drop, undefined, formatSummary(r.summary));
      assert.equal(counters.not_vip, 1);
      assert.equal(counters.not_ip, 4);
      assert.equal(counters.not_l4, 2);
      assert.equal(counters.conn_new, 11);
    },
  });

  Deno.test({
    name:
      `tshark decodes every frame the ${kind} engine wrote, with valid checksums and the expected headers`,
    ignore: !results.has(kind) || !TSHARK,
    fn: async () => {
      await checkTshark(`${dir}/out_${kind}.pcap`);
    },
  });
}

Deno.test({
  name: "the tshark check itself catches a bad checksum and a truncated frame",
  ignore: results.size === 0 || !TSHARK,
  fn: async (t) => {
    const good = readPcap([...results.values()][0].outPcap).records;
    const doctored = async (name: string, change: (frames: Uint8Array[]) => void) => {
      const frames = good.map((r) => r.data.slice());
      change(frames);
      const w = new PcapWriter();
      frames.forEach((f, i) => w.write(good[i].tsMicros, f));
      await Deno.writeFile(`${dir}/${name}.pcap`, w.bytes());
      return `${dir}/${name}.pcap`;
    };
    await t.step("a TCP checksum off by one", async () => {
      const path = await doctored("bad_csum", (f) => f[0][14 + 20 + 17] ^= 1);
      await assert.rejects(checkTshark(path), /tshark frame 1 .*Bad checksum/);
    });
    await t.step("a TCP header cut short", async () => {
      const path = await doctored("truncated", (f) => f[2] = f[2].subarray(0, 14 + 20 + 10));
      await assert.rejects(checkTshark(path), /tshark frame 3 .*malformed packet/);
    });
  },
});

Deno.test({
  name: "the WASM and TS engines write byte-identical output pcaps",
  ignore: results.size < 2,
  fn: () => {
    const a = results.get("wasm")!.outPcap, b = results.get("ts")!.outPcap;
    assert.equal(a.length, b.length, "output sizes");
    const first = a.findIndex((x, i) => x !== b[i]);
    assert.equal(first, -1, `outputs differ first at byte ${first}`);
    assert.deepEqual(results.get("wasm")!.summary.counters, results.get("ts")!.summary.counters);
  },
});

globalThis.addEventListener("unload", () => {
  if (Deno.env.get("WVS_KEEP_PCAPS")) {
    console.log(`replay_tshark_test: pcaps kept in ${dir}`);
    return;
  }
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // already gone
  }
});
