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
import { replay, type ReplayResult } from "../host/replay_core.ts";
import { OPTIONS, RULES, scenario, T0 } from "./fixtures/edges_replay_scenario.ts";

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
