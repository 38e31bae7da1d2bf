// Issue 7 acceptance through `replay`: a capture with ICMP errors about live NAT, DR and TUN
// connections (both directions, IPv4 and IPv6), packets that make the engine generate errors
// (TTL 1, DF into a tunnel, IPv6 too big for a tunnel, no real server) and an IPv4 packet
// that must be fragmented is replayed through both engines. tshark, with checksum
// validation on, decodes every output frame: no malformed packet, every IPv4 header (outer
// and quoted), ICMP and ICMPv6 checksum good, the quoted packet NATed as expected. Then
// IPv4 fragments out of order and IPv6 fragments: tshark reassembles the NATed segments and
// finds their TCP checksums good. The two engines' output pcaps must be byte-identical.
// Skips loudly without tshark.
import assert from "node:assert/strict";
import { PcapWriter, readPcap } from "../host/io/pcap.ts";
import { createEngine, type EngineKind, REPLAY_CONFIG } from "../host/replay.ts";
import { replay, type ReplayOptions, type ReplayResult } from "../host/replay_core.ts";
import { parseIp, parseMac } from "../host/ctl/addr.ts";
import { arpReply, Frame } from "./fixtures/packet_builder.ts";
import { ICMP, ICMP6, icmpError, ipOf } from "./fixtures/icmp_builder.ts";
import { fragmentFrame } from "./fixtures/frag_builder.ts";
import { chunk, sctpPacket } from "./fixtures/proto_traffic.ts";

const DIRECTOR_MAC = "02:00:00:00:00:fe";
const GW_MAC = "02:00:00:00:00:01";
const RS_MAC = ["02:00:00:00:01:01", "02:00:00:00:01:02", "02:00:00:00:01:03"];
const CL4 = "198.18.0.100";
const CL4_MAC = "02:00:00:00:00:64";
const CL6 = "2001:2:ff::100";
const ROUTER4 = "198.18.0.1";
const ROUTER6 = "2001:2::1";

const RULES = `-A -t 198.18.100.1:80 -s rr
-a -t 198.18.100.1:80 -r 198.18.1.1:8080 -m -w 1
-A -t 198.18.100.2:80 -s rr
-a -t 198.18.100.2:80 -r 198.18.1.3:80 -g -w 1
-A -t 198.18.100.3:80 -s rr
-a -t 198.18.100.3:80 -r 198.18.1.3:80 -i -w 1
-A -t 198.18.100.4:80 -s rr
-a -t 198.18.100.4:80 -r 198.18.1.2:80 -m -w 0
-A -t [2001:2:0:100::1]:80 -s rr
-a -t [2001:2:0:100::1]:80 -r [2001:2:0:1::1]:8080 -m -w 1
-A -t [2001:2:0:100::3]:80 -s rr
-a -t [2001:2:0:100::3]:80 -r [2001:2:0:1::3]:80 -i -w 1
-A -t 198.18.100.1:21 -s rr
-a -t 198.18.100.1:21 -r 198.18.1.1:21 -m -w 1
-A --sctp-service 198.18.100.1:3868 -s rr
-a --sctp-service 198.18.100.1:3868 -r 198.18.1.1:3868 -m -w 1
`;

const OPTIONS: ReplayOptions = {
  mac: parseMac(DIRECTOR_MAC)!,
  portAddr4: parseIp("198.18.0.254")!.addr,
  portAddr6: parseIp("2001:2::fe")!.addr,
  defaultGw: parseMac(GW_MAC)!,
  neigh: [
    { af: 10, addr: parseIp("2001:2:0:1::1")!.addr, mac: parseMac(RS_MAC[0])! },
    { af: 10, addr: parseIp("2001:2:0:1::3")!.addr, mac: parseMac(RS_MAC[2])! },
  ],
};

/** One expected output frame: what tshark must show. */
interface Expect {
  what: string;
  /** frame.protocols must match. */
  protocols: RegExp;
  /** ip.src / ip.dst (all IPv4 occurrences, outer first) or ipv6.src / ipv6.dst. */
  src: string;
  dst: string;
  icmp?: { type: number; code: number; mtu?: number };
  /** Ports of the (quoted) TCP header. */
  ports?: [number, number];
  /**
   * The quote stops before the end of the segment (576 / 1280 bytes in all): tshark then
   * reports the quoted TCP checksum as bad, having only part of the segment to sum.
   */
  partialQuote?: true;
  /** SCTP ports, with the CRC32c checked (sctp.checksum.status). */
  sctp?: [number, number];
  /** An FTP reply tshark reads a passive address from (ftp.passive.ip / .port). */
  ftpPassive?: [string, number];
}

const T0 = 1_700_000_000_000_000;

function scenario() {
  const frames: Uint8Array[] = [];
  const expect: Expect[] = [];
  const c4 = () => Frame.eth({ src: CL4_MAC, dst: DIRECTOR_MAC });
  const c6 = () => Frame.eth({ src: GW_MAC, dst: DIRECTOR_MAC });
  const rs = (i: number) => Frame.eth({ src: RS_MAC[i], dst: DIRECTOR_MAC });
  frames.push(arpReply(RS_MAC[0], "198.18.1.1", DIRECTOR_MAC));
  frames.push(arpReply(RS_MAC[2], "198.18.1.3", DIRECTOR_MAC));
  frames.push(arpReply(CL4_MAC, CL4, DIRECTOR_MAC));

  // NAT IPv4: SYN in, SYN+ACK out, then an error each way about that connection.
  const vip = "198.18.100.1";
  frames.push(
    c4().ipv4({ src: CL4, dst: vip, df: true }).tcp({ sport: 40001, dport: 80, flags: "S", seq: 1 })
      .build(),
  );
  expect.push({
    what: "NAT4 SYN",
    protocols: /:ip:tcp$/,
    src: CL4,
    dst: "198.18.1.1",
    ports: [40001, 8080],
  });
  frames.push(
    rs(0).ipv4({ src: "198.18.1.1", dst: CL4, df: true }).tcp({
      sport: 8080,
      dport: 40001,
      flags: "SA",
      seq: 7,
      ack: 2,
    }).build(),
  );
  expect.push({
    what: "NAT4 SYN+ACK",
    protocols: /:ip:tcp$/,
    src: vip,
    dst: CL4,
    ports: [80, 40001],
  });
  const synAck = ipOf(
    Frame.eth().ipv4({ src: vip, dst: CL4, df: true, ttl: 63 }).tcp({
      sport: 80,
      dport: 40001,
      flags: "SA",
      seq: 7,
      ack: 2,
    }).build(),
  );
  frames.push(
    icmpError({
      src: ROUTER4,
      dst: vip,
      type: ICMP.DEST_UNREACH,
      code: ICMP.FRAG_NEEDED,
      info: 1400,
      quote: synAck,
      ethSrc: CL4_MAC,
    }),
  );
  expect.push({
    what: "NAT4 client-side frag needed relayed",
    protocols: /:ip:icmp:ip:tcp$/,
    src: `${ROUTER4};198.18.1.1`,
    dst: `198.18.1.1;${CL4}`,
    icmp: { type: 3, code: 4, mtu: 1400 },
    ports: [8080, 40001],
  });
  const toRs = ipOf(
    Frame.eth().ipv4({ src: CL4, dst: "198.18.1.1", df: true, ttl: 63 }).tcp({
      sport: 40001,
      dport: 8080,
      flags: "S",
      seq: 1,
    }).build(),
  );
  frames.push(
    icmpError({
      src: "198.18.1.1",
      dst: CL4,
      type: ICMP.DEST_UNREACH,
      code: ICMP.PORT_UNREACH,
      quote: toRs,
      quoteLen: 28,
      ethSrc: RS_MAC[0],
    }),
  );
  expect.push({
    what: "NAT4 real-server-side port unreachable relayed",
    protocols: /:ip:icmp:ip:tcp$/,
    src: `${vip};${CL4}`,
    dst: `${CL4};${vip}`,
    icmp: { type: 3, code: 3 },
    ports: [40001, 80],
    partialQuote: true,
  });

  // NAT IPv6, the same two errors.
  const vip6 = "2001:2:0:100::1";
  frames.push(
    c6().ipv6({ src: CL6, dst: vip6 }).tcp({ sport: 40011, dport: 80, flags: "S" }).build(),
  );
  expect.push({
    what: "NAT6 SYN",
    protocols: /:ipv6:tcp$/,
    src: CL6,
    dst: "2001:2:0:1::1",
    ports: [40011, 8080],
  });
  const synAck6 = ipOf(
    Frame.eth().ipv6({ src: vip6, dst: CL6, hopLimit: 63 }).tcp({
      sport: 80,
      dport: 40011,
      flags: "SA",
    }).build(),
  );
  frames.push(
    icmpError({
      src: ROUTER6,
      dst: vip6,
      type: ICMP6.PKT_TOOBIG,
      code: 0,
      info: 1280,
      quote: synAck6,
      ethSrc: GW_MAC,
    }),
  );
  expect.push({
    what: "NAT6 client-side packet too big relayed",
    protocols: /:ipv6:icmpv6:ipv6:tcp$/,
    src: `${ROUTER6};2001:2:0:1::1`,
    dst: `2001:2:0:1::1;${CL6}`,
    icmp: { type: 2, code: 0, mtu: 1280 },
    ports: [8080, 40011],
  });
  const toRs6 = ipOf(
    Frame.eth().ipv6({ src: CL6, dst: "2001:2:0:1::1", hopLimit: 63 }).tcp({
      sport: 40011,
      dport: 8080,
      flags: "S",
    }).build(),
  );
  frames.push(
    icmpError({
      src: "2001:2:0:1::1",
      dst: CL6,
      type: ICMP6.DEST_UNREACH,
      code: 4,
      quote: toRs6,
      ethSrc: RS_MAC[0],
    }),
  );
  expect.push({
    what: "NAT6 real-server-side port unreachable relayed",
    protocols: /:ipv6:icmpv6:ipv6:tcp$/,
    src: `${vip6};${CL6}`,
    dst: `${CL6};${vip6}`,
    icmp: { type: 1, code: 4 },
    ports: [40011, 80],
  });

  // DR: the real server answered directly; a router's error reaches the VIP, goes to the RS.
  frames.push(
    c4().ipv4({ src: CL4, dst: "198.18.100.2" }).tcp({ sport: 40003, dport: 80, flags: "S" })
      .build(),
  );
  expect.push({
    what: "DR4 SYN",
    protocols: /:ip:tcp$/,
    src: CL4,
    dst: "198.18.100.2",
    ports: [40003, 80],
  });
  const drReply = ipOf(
    Frame.eth().ipv4({ src: "198.18.100.2", dst: CL4 }).tcp({
      sport: 80,
      dport: 40003,
      flags: "SA",
    }).build(),
  );
  frames.push(
    icmpError({
      src: ROUTER4,
      dst: "198.18.100.2",
      type: ICMP.TIME_EXCEEDED,
      code: 0,
      quote: drReply,
      ethSrc: CL4_MAC,
    }),
  );
  expect.push({
    what: "DR4 time exceeded relayed unchanged",
    protocols: /:ip:icmp:ip:tcp$/,
    src: `${ROUTER4};198.18.100.2`,
    dst: `198.18.100.2;${CL4}`,
    icmp: { type: 11, code: 0 },
    ports: [80, 40003],
  });

  // Errors the engine generates.
  frames.push(
    c4().ipv4({ src: CL4, dst: vip, ttl: 1 }).tcp({ sport: 40020, dport: 80, flags: "S" }).build(),
  );
  expect.push({
    what: "TTL 1: time exceeded",
    protocols: /:ip:icmp:ip:tcp$/,
    src: `${vip};${CL4}`,
    dst: `${CL4};${vip}`,
    icmp: { type: 11, code: 0 },
    ports: [40020, 80],
  });
  frames.push(
    c4().ipv4({ src: CL4, dst: "198.18.100.3", df: true }).tcp({
      sport: 40021,
      dport: 80,
      flags: "S",
    }).payload(new Uint8Array(1460)).build(),
  );
  expect.push({
    what: "DF into the tunnel: frag needed 1480",
    protocols: /:ip:icmp:ip:tcp/,
    src: `198.18.100.3;${CL4}`,
    dst: `${CL4};198.18.100.3`,
    icmp: { type: 3, code: 4, mtu: 1480 },
    ports: [40021, 80],
    partialQuote: true,
  });
  frames.push(
    c6().ipv6({ src: CL6, dst: "2001:2:0:100::3" }).tcp({ sport: 40022, dport: 80, flags: "S" })
      .payload(new Uint8Array(1440)).build(),
  );
  expect.push({
    what: "IPv6 into the tunnel: packet too big 1460",
    protocols: /:ipv6:icmpv6:ipv6:tcp/,
    src: `2001:2:0:100::3;${CL6}`,
    dst: `${CL6};2001:2:0:100::3`,
    icmp: { type: 2, code: 0, mtu: 1460 },
    ports: [40022, 80],
    partialQuote: true,
  });
  frames.push(
    c4().ipv4({ src: CL4, dst: "198.18.100.4" }).tcp({ sport: 40023, dport: 80, flags: "S" })
      .build(),
  );
  expect.push({
    what: "no real server: port unreachable",
    protocols: /:ip:icmp:ip:tcp$/,
    src: `198.18.100.4;${CL4}`,
    dst: `${CL4};198.18.100.4`,
    icmp: { type: 3, code: 3 },
    ports: [40023, 80],
  });
  frames.push(
    c6().ipv6({ src: CL6, dst: vip6, hopLimit: 1 }).tcp({ sport: 40024, dport: 80, flags: "S" })
      .build(),
  );
  expect.push({
    what: "hop limit 1: ICMPv6 time exceeded",
    protocols: /:ipv6:icmpv6:ipv6:tcp$/,
    src: `${vip6};${CL6}`,
    dst: `${CL6};${vip6}`,
    icmp: { type: 3, code: 0 },
    ports: [40024, 80],
  });
  // An IPv4 packet without DF too big for the port: two fragments (tshark reassembles them).
  frames.push(
    c4().ipv4({ src: CL4, dst: vip }).tcp({ sport: 40030, dport: 80, flags: "S" }).payload(
      new Uint8Array(1600).fill(7),
    ).build(),
  );
  expect.push({ what: "fragment 1 of 2", protocols: /:ip:data$/, src: CL4, dst: "198.18.1.1" });
  expect.push({
    what: "fragment 2 of 2",
    protocols: /:ip:tcp/,
    src: CL4,
    dst: "198.18.1.1",
    ports: [40030, 8080],
  });

  // Fragments from the client, IPv4 out of order: the last piece first (held), then the
  // first (sent with the held one), then the middle; tshark reassembles the NATed segment.
  frames.push(
    c4().ipv4({ src: CL4, dst: vip }).tcp({ sport: 40040, dport: 80, flags: "S" }).build(),
  );
  expect.push({
    what: "NAT4 SYN before fragments",
    protocols: /:ip:tcp$/,
    src: CL4,
    dst: "198.18.1.1",
    ports: [40040, 8080],
  });
  const seg = c4().ipv4({ src: CL4, dst: vip }).tcp({
    sport: 40040,
    dport: 80,
    flags: "PA",
    seq: 1,
  })
    .payload(Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff)).build();
  const [f1, f2, f3] = fragmentFrame(seg, [400, 400], 0x4242);
  frames.push(f3, f1, f2);
  expect.push({
    what: "IPv4 fragment 1 (with the held last one)",
    protocols: /:ip:data$/,
    src: CL4,
    dst: "198.18.1.1",
  });
  expect.push({
    what: "IPv4 fragment 3, held until fragment 1",
    protocols: /:ip:data$/,
    src: CL4,
    dst: "198.18.1.1",
  });
  expect.push({
    what: "IPv4 fragment 2: reassembled NATed segment",
    protocols: /:ip:tcp/,
    src: CL4,
    dst: "198.18.1.1",
    ports: [40040, 8080],
  });
  // IPv6, in order.
  frames.push(
    c6().ipv6({ src: CL6, dst: vip6 }).tcp({ sport: 40041, dport: 80, flags: "S" }).build(),
  );
  expect.push({
    what: "NAT6 SYN before fragments",
    protocols: /:ipv6:tcp$/,
    src: CL6,
    dst: "2001:2:0:1::1",
    ports: [40041, 8080],
  });
  const seg6 = c6().ipv6({ src: CL6, dst: vip6 }).tcp({
    sport: 40041,
    dport: 80,
    flags: "PA",
    seq: 1,
  })
    .payload(Uint8Array.from({ length: 900 }, (_, i) => (i * 3) & 0xff)).build();
  for (const [i, f] of fragmentFrame(seg6, [504], 0x600d).entries()) {
    frames.push(f);
    expect.push(
      i === 0
        ? {
          what: "IPv6 fragment 1",
          protocols: /:ipv6:ipv6\.fraghdr:data$/,
          src: CL6,
          dst: "2001:2:0:1::1",
        }
        : {
          what: "IPv6 fragment 2: reassembled",
          protocols: /:ipv6:ipv6\.fraghdr:tcp/,
          src: CL6,
          dst: "2001:2:0:1::1",
          ports: [40041, 8080],
        },
    );
  }

  // FTP through NAT: PASV / 227 (the real server's address becomes the VIP, 2 bytes longer),
  // the next reply's sequence number moves, the passive data connection goes to the server.
  const tcpFrom = (
    client: boolean,
    sport: number,
    dport: number,
    flags: string,
    seq: number,
    ack: number,
    text = "",
  ) =>
    (client ? c4().ipv4({ src: CL4, dst: vip }) : rs(0).ipv4({ src: "198.18.1.1", dst: CL4 }))
      .tcp({ sport, dport, flags, seq, ack }).payload(text).build();
  const ftpIn = (what: string, ports: [number, number]) =>
    expect.push({ what, protocols: /:ip:tcp/, src: CL4, dst: "198.18.1.1", ports });
  const ftpOut = (what: string, ports: [number, number], ftpPassive?: [string, number]) =>
    expect.push({ what, protocols: /:ip:tcp/, src: vip, dst: CL4, ports, ftpPassive });
  frames.push(tcpFrom(true, 40050, 21, "S", 100, 0));
  ftpIn("FTP SYN", [40050, 21]);
  frames.push(tcpFrom(false, 21, 40050, "SA", 900, 101));
  ftpOut("FTP SYN+ACK", [21, 40050]);
  frames.push(tcpFrom(true, 40050, 21, "A", 101, 901));
  ftpIn("FTP ACK", [40050, 21]);
  frames.push(tcpFrom(true, 40050, 21, "PA", 101, 901, "PASV\r\n"));
  ftpIn("FTP PASV", [40050, 21]);
  const pasv = "227 Entering Passive Mode (198,18,1,1,195,80).\r\n";
  frames.push(tcpFrom(false, 21, 40050, "PA", 901, 107, pasv));
  ftpOut("FTP 227 rewritten to the VIP", [21, 40050], [vip, 50000]);
  frames.push(tcpFrom(false, 21, 40050, "PA", 901 + pasv.length, 107, "150 Here it comes.\r\n"));
  ftpOut("FTP 150, sequence shifted", [21, 40050]);
  frames.push(tcpFrom(true, 40051, 50000, "S", 7000, 0));
  ftpIn("FTP passive data SYN", [40051, 50000]);

  // SCTP through NAT: INIT in, INIT ACK out, the CRC32c recomputed each time.
  frames.push(
    c4().ipv4({ src: CL4, dst: vip }).raw(
      132,
      sctpPacket(40060, 3868, 0, [chunk(1, new Uint8Array(16))]),
    ).build(),
  );
  expect.push({
    what: "SCTP INIT in",
    protocols: /:ip:sctp$/,
    src: CL4,
    dst: "198.18.1.1",
    sctp: [40060, 3868],
  });
  frames.push(
    rs(0).ipv4({ src: "198.18.1.1", dst: CL4 }).raw(
      132,
      sctpPacket(3868, 40060, 7, [chunk(2, new Uint8Array(16))]),
    ).build(),
  );
  expect.push({
    what: "SCTP INIT ACK out",
    protocols: /:ip:sctp$/,
    src: vip,
    dst: CL4,
    sctp: [3868, 40060],
  });
  return { frames, expect };
}

const dir = await Deno.makeTempDir({ prefix: "wvs_edges_tshark_" });
const { frames, expect } = scenario();
const inPcap = (() => {
  const w = new PcapWriter();
  frames.forEach((f, i) => w.write(T0 + i * 1000, f));
  return w.bytes();
})();
const results = new Map<EngineKind, ReplayResult>();
for (const kind of ["wasm", "ts"] as const) {
  const engine = await createEngine(kind, { ...REPLAY_CONFIG, batch: 64, seed: 1 });
  const r = replay(engine, RULES, inPcap, OPTIONS);
  results.set(kind, r);
  await Deno.writeFile(`${dir}/out_${kind}.pcap`, r.outPcap);
}

const TSHARK = await new Deno.Command("tshark", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((r) => r.success).catch(() => false);
if (!TSHARK) console.warn("\n*** SKIPPING the ICMP tshark checks: tshark is not installed ***\n");

const FIELDS = [
  "frame.protocols",
  "ip.src",
  "ip.dst",
  "ipv6.src",
  "ipv6.dst",
  "ip.checksum.status",
  "icmp.type",
  "icmp.code",
  "icmp.mtu",
  "icmp.checksum.status",
  "icmpv6.type",
  "icmpv6.code",
  "icmpv6.mtu",
  "icmpv6.checksum.status",
  "tcp.srcport",
  "tcp.dstport",
  "tcp.checksum.status",
  "tcp.seq_raw",
  "ftp.passive.ip",
  "ftp.passive.port",
  "sctp.srcport",
  "sctp.dstport",
  "sctp.checksum.status",
  "_ws.malformed",
  "_ws.expert.message",
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

async function tshark(path: string): Promise<Row[]> {
  const out = await new Deno.Command("tshark", {
    args: [
      "-n",
      "-r",
      path,
      "-o",
      "ip.check_checksum:TRUE",
      "-o",
      "tcp.check_checksum:TRUE",
      "-o",
      "tcp.analyze_sequence_numbers:FALSE",
      "-o",
      "sctp.checksum:CRC-32C",
      "-T",
      "fields",
      "-E",
      "separator=|",
      "-E",
      "occurrence=a",
      "-E",
      "aggregator=;",
      ...FIELDS.flatMap((f) => ["-e", f]),
    ],
    env: { HOME: dir, XDG_CONFIG_HOME: dir, LC_ALL: "C" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trimEnd().split("\n").map((l) => {
    const cols = l.split("|");
    return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ""])) as Row;
  });
}

for (const kind of ["wasm", "ts"] as const) {
  Deno.test({
    name:
      `tshark validates every ICMP frame the ${kind} engine relayed or generated (checksums, quoted NAT)`,
    ignore: !TSHARK,
    fn: async () => {
      const rows = await tshark(`${dir}/out_${kind}.pcap`);
      assert.equal(rows.length, expect.length, "frames out");
      rows.forEach((row, i) => {
        const e = expect[i];
        const where = `frame ${i + 1} (${e.what})`;
        assert.equal(row["_ws.malformed"], "", `${where}: malformed`);
        const expert = e.partialQuote
          ? row["_ws.expert.message"].replace(/,?Bad checksum \[should be 0x[0-9a-f]+\]/, "")
          : row["_ws.expert.message"];
        assert.doesNotMatch(expert, /checksum|malformed/i, `${where}: expert`);
        assert.match(row["frame.protocols"], e.protocols, `${where}: protocols`);
        const v6 = e.src.includes(":");
        assert.equal(row[v6 ? "ipv6.src" : "ip.src"], e.src, `${where}: src`);
        assert.equal(row[v6 ? "ipv6.dst" : "ip.dst"], e.dst, `${where}: dst`);
        if (!v6) {
          const n = e.src.split(";").length;
          assert.equal(
            row["ip.checksum.status"],
            Array(n).fill("1").join(";"),
            `${where}: IPv4 header checksums`,
          );
        }
        if (e.icmp) {
          const p = v6 ? "icmpv6" : "icmp";
          assert.equal(row[`${p}.type`], String(e.icmp.type), `${where}: type`);
          assert.equal(row[`${p}.code`], String(e.icmp.code), `${where}: code`);
          assert.equal(row[`${p}.checksum.status`], "1", `${where}: ${p} checksum`);
          if (e.icmp.mtu) assert.equal(row[`${p}.mtu`], String(e.icmp.mtu), `${where}: MTU`);
        }
        if (e.sctp) {
          assert.deepEqual(
            [row["sctp.srcport"], row["sctp.dstport"]],
            e.sctp.map(String),
            `${where}: SCTP ports`,
          );
          assert.equal(row["sctp.checksum.status"], "1", `${where}: SCTP CRC32c`);
        }
        if (e.ftpPassive) {
          assert.deepEqual(
            [row["ftp.passive.ip"], row["ftp.passive.port"]],
            e.ftpPassive.map(String),
            `${where}: 227`,
          );
        }
        if (e.what === "FTP 150, sequence shifted") {
          const pasvLen = "227 Entering Passive Mode (198,18,1,1,195,80).\r\n".length;
          assert.equal(row["tcp.seq_raw"], String(901 + pasvLen + 2), `${where}: seq + 2`);
        }
        if (e.ports) {
          assert.deepEqual(
            [row["tcp.srcport"], row["tcp.dstport"]],
            e.ports.map(String),
            `${where}: ports`,
          );
          // A whole quoted segment (or a forwarded one) carries a good TCP checksum.
          if (!e.partialQuote) {
            assert.equal(row["tcp.checksum.status"], "1", `${where}: TCP checksum`);
          }
        }
      });
    },
  });
}

Deno.test("the WASM and TS engines write byte-identical ICMP output", () => {
  const a = results.get("wasm")!, b = results.get("ts")!;
  assert.deepEqual(a.outPcap, b.outPcap);
  assert.deepEqual(a.summary.counters, b.summary.counters);
  assert.equal(readPcap(a.outPcap).records.length, expect.length);
});

globalThis.addEventListener("unload", () => {
  if (Deno.env.get("WVS_KEEP_PCAPS")) return console.log(`edges pcaps kept in ${dir}`);
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* gone */ }
});
