// WVS's sync datagrams on a real link, captured live and decoded by Debian's tshark: version 0
// fully (every field of every entry) and version 1's fixed part (header, entries without
// options), compared with WVS's own decoding of the same bytes; plus the IP/UDP envelope
// (224.0.0.81:8848, TTL 1, 01:00:5e:00:00:51). Needs root, iproute2 and tshark.
import assert from "node:assert/strict";
import { readPcap } from "../../host/io/pcap.ts";
import { formatIp } from "../../host/ctl/addr.ts";
import { decodeMessage, type SyncConn } from "../../host/sync/wire.ts";
import { haveCommand, Netns, netnsUnavailable } from "./netns.ts";
import { REPO } from "./topology.ts";

const skip = netnsUnavailable() ?? (haveCommand("tshark") ? null : "tshark is not installed");
if (skip) console.warn(`\n*** SKIPPING the sync capture test: ${skip} ***\n`);

const V0_FIELDS = [
  "ipvs.conncount",
  "ipvs.syncid",
  "ipvs.size",
  "ipvs.proto",
  "ipvs.cport",
  "ipvs.vport",
  "ipvs.dport",
  "ipvs.caddr",
  "ipvs.vaddr",
  "ipvs.daddr",
  "ipvs.flags",
  "ipvs.state",
];
const V1_FIELDS = [
  "ipvs.conncount",
  "ipvs.syncid",
  "ipvs.size",
  "ipvs.version",
  "ipvs.type",
  "ipvs.proto",
  "ipvs.size.v1",
  "ipvs.flags.v1",
  "ipvs.state",
  "ipvs.cport",
  "ipvs.vport",
  "ipvs.dport",
  "ipvs.fwmark",
  "ipvs.timeout",
  "ipvs.caddr",
  "ipvs.vaddr",
  "ipvs.daddr",
  "ipvs.caddr6",
  "ipvs.vaddr6",
  "ipvs.daddr6",
];
const ENVELOPE = ["eth.dst", "ip.src", "ip.dst", "ip.ttl", "udp.dstport"];

/** The fields tshark should print for one message, from WVS's decoding (occurrences joined by ";"). */
function expected(version: 0 | 1, syncid: number, size: number, cs: SyncConn[]): string[] {
  const all = (f: (c: SyncConn) => string | number) => cs.map(f).join(";");
  const v4 = cs.filter((c) => c.af === 2), v6 = cs.filter((c) => c.af === 10);
  const of = (xs: SyncConn[], f: (c: SyncConn) => string) => xs.map(f).join(";");
  if (version === 0) {
    return [
      String(cs.length),
      String(syncid),
      String(size),
      all((c) => c.protocol),
      all((c) => c.cport),
      all((c) => c.vport),
      all((c) => c.dport),
      all((c) => formatIp(c.caddr)),
      all((c) => formatIp(c.vaddr)),
      all((c) => formatIp(c.daddr)),
      all((c) => `0x${c.flags.toString(16).padStart(4, "0")}`),
      all((c) => c.state),
    ];
  }
  return [
    String(cs.length),
    String(syncid),
    String(size),
    "1",
    all((c) => (c.af === 10 ? 1 : 0)),
    all((c) => c.protocol),
    all((c) => (c.af === 10 ? 72 : 36)),
    all((c) => `0x${c.flags.toString(16).padStart(8, "0")}`),
    all((c) => c.state),
    all((c) => c.cport),
    all((c) => c.vport),
    all((c) => c.dport),
    all((c) => c.fwmark),
    all((c) => c.timeout),
    of(v4, (c) => formatIp(c.caddr)),
    of(v4, (c) => formatIp(c.vaddr)),
    of(v4, (c) => formatIp(c.daddr)),
    of(v6, (c) => formatIp(c.caddr)),
    of(v6, (c) => formatIp(c.vaddr)),
    of(v6, (c) => formatIp(c.daddr)),
  ];
}

Deno.test({
  name: "tshark decodes WVS's live v0 sync messages fully and v1's fixed part",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const net = new Netns("s");
  try {
    await net.addNs("a");
    await net.addNs("b");
    await net.veth("a", "sync0", "b", "sync0");
    await net.addr("a", "sync0", "198.18.3.1/24");
    await net.addr("b", "sync0", "198.18.3.2/24");
    const dir = await net.tempDir("wvs-sync-cap-");
    const pcap = `${dir}/sync.pcap`;
    const cap = net.spawn("b", [
      "tshark",
      "-n",
      "-i",
      "sync0",
      "-f",
      "udp port 8848",
      "-F",
      "pcap",
      "-w",
      pcap,
    ]);
    await cap.err.waitFor(/Capturing on/, 20_000);
    const sender = (version: number, syncid: number, maxlen: number) =>
      net.exec("a", [
        Deno.execPath(),
        "run",
        "-A",
        `${REPO}tests/e2e/sync_sender.ts`,
        "sync0",
        String(version),
        String(syncid),
        String(maxlen),
      ], { timeoutMs: 30_000 });
    // Small maxlen: several messages, several entries each.
    await sender(1, 7, 200);
    await sender(0, 8, 100);
    await new Promise((r) => setTimeout(r, 500));
    await net.stop(cap, "SIGINT", 5000);

    const frames = readPcap(await Deno.readFile(pcap)).records.map((r) => r.data);
    const ours = frames.map((f) => decodeMessage(f.subarray(14 + 20 + 8)));
    assert.ok(ours.every((r) => r.ok), "WVS decodes every captured datagram");
    const msgs = ours.map((r) =>
      (r as { ok: true; message: ReturnType<typeof Object> }).message
    ) as {
      version: 0 | 1;
      syncid: number;
      conns: SyncConn[];
    }[];
    const v1 = msgs.filter((m) => m.version === 1), v0 = msgs.filter((m) => m.version === 0);
    console.log(
      `captured ${frames.length} datagrams: ${v1.length} v1 (${
        v1.flatMap((m) => m.conns).length
      } entries), ` +
        `${v0.length} v0 (${v0.flatMap((m) => m.conns).length} entries)`,
    );
    assert.ok(v1.length >= 2 && v0.length >= 2, "several messages of each version");
    assert.ok(v1.some((m) => m.conns.some((c) => c.af === 10)), "v1 carries the IPv6 entry");
    assert.ok(v0.every((m) => m.conns.every((c) => c.af === 2)), "v0 carries IPv4 only");

    const fields = async (names: string[], filter: string) => {
      const r = await net.run([
        "tshark",
        "-n",
        "-r",
        pcap,
        "-Y",
        filter,
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "aggregator=;",
        ...names.flatMap((n) => ["-e", n]),
      ]);
      // Numbers as numbers: tshark prints some fields in hex (proto, state, flags).
      const norm = (v: string) =>
        v.split(";").map((x) => (/^(0x[0-9a-f]+|\d+)$/i.test(x) ? String(Number(x)) : x)).join(";");
      return r.stdout.trim().split("\n").map((l) => l.split("|").map(norm));
    };
    const env = await fields(ENVELOPE, "ipvs");
    for (const e of env) {
      assert.deepEqual(e, ["01:00:5e:00:00:51", "198.18.3.1", "224.0.0.81", "1", "8848"]);
    }
    const num = (row: string[]) =>
      row.map((v) =>
        v.split(";").map((x) => (/^(0x[0-9a-f]+|\d+)$/i.test(x) ? String(Number(x)) : x)).join(";")
      );
    const got0 = await fields(V0_FIELDS, "ipvs && !ipvs.version");
    const got1 = await fields(V1_FIELDS, "ipvs && ipvs.version == 1");
    const sizes = frames.map((f) => f.length - 42);
    const want0 = msgs.flatMap((m, i) =>
      m.version === 0 ? [num(expected(0, m.syncid, sizes[i], m.conns))] : []
    );
    const want1 = msgs.flatMap((m, i) =>
      m.version === 1 ? [num(expected(1, m.syncid, sizes[i], m.conns))] : []
    );
    assert.deepEqual(got0, want0, "tshark's v0 decoding equals WVS's");
    assert.deepEqual(got1, want1, "tshark's v1 decoding (fixed part) equals WVS's");
  } finally {
    await net.cleanup();
  }
});
