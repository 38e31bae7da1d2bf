// The AF_XDP backend (host/io/af_xdp.ts) on real veths: frames reach the
// engine's slots through native and generic XDP and go back out through TX
// descriptors, other hosts' unicast is filtered, a multi-queue interface is
// refused with a hint, and the director (io xdp) carries curl and UDP through
// NAT to three real servers. The peers keep transmit checksum offload on, so
// their frames arrive CHECKSUM_PARTIAL, which XDP does not say: the backend
// must recognise and complete them (rxCsumFixed), or every TCP connection stalls.
// Needs root, iproute2 and python3 (curl for the director step); skips loudly otherwise.
import assert from "node:assert/strict";
import { haveCommand, Netns, netnsUnavailable, reapStaleNamespaces } from "./netns.ts";
import {
  buildNat,
  curlMany,
  PYTHON,
  REPO,
  startDirector,
  startHttpServers,
  startUdpEcho,
  stopDirector,
  tally,
  udpMany,
} from "./topology.ts";

const skip = netnsUnavailable() ?? (haveCommand(PYTHON) ? null : "python3 is not installed");
if (skip) console.warn(`\n*** SKIPPING the AF_XDP tests: ${skip} ***\n`);
const skipDirector = skip ?? (haveCommand("curl") ? null : "curl is not installed");
if (skipDirector && !skip) {
  console.warn(`\n*** SKIPPING the AF_XDP director test: ${skipDirector} ***\n`);
}

/** Three frames for a's MAC and one for another host, from b's eth0; prints a's echoes. */
const SEND = `
import socket, json
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("eth0", 0))
s.settimeout(1)
for i in range(3):
    s.send(bytes.fromhex("020000000b01" "020000000b02" "0800") + bytes([i]) * 46)
s.send(bytes.fromhex("020000000b09" "020000000b02" "0800") + bytes([9]) * 46)
back = []
try:
    while len(back) < 3:
        f = s.recv(2048)
        if f[:6] == bytes.fromhex("020000000b01"):
            back.append(f.hex())
except socket.timeout:
    pass
print(json.dumps(back))
`;

function probe(net: Netns, ns: string, ifname: string, mode: string) {
  return net.spawn(ns, [
    Deno.execPath(),
    "run",
    "-A",
    `${REPO}tests/e2e/_xdp_probe.ts`,
    ifname,
    "2500",
    mode,
  ]);
}

Deno.test({
  name: "AF_XDP ports receive into engine slots and send from them, native and generic",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  await reapStaleNamespaces();
  const net = new Netns("xdp");
  try {
    await net.addNs("a");
    await net.addNs("b");
    await net.veth("a", "eth0", "b", "eth0", "02:00:00:00:0b:01", "02:00:00:00:0b:02");
    for (const n of ["a", "b"]) await net.sysctl(n, "net.ipv6.conf.all.disable_ipv6", 1);
    for (const mode of ["native", "generic"]) {
      await t.step(
        `${mode}: three frames come back, the fourth (not ours) is filtered`,
        async () => {
          const p = probe(net, "a", "eth0", mode);
          const open = await p.out.waitFor(/^open/, 10_000);
          assert.equal(JSON.parse(open.slice(5)).xdp, mode);
          const sent = await net.exec("b", [PYTHON, "-c", SEND]);
          await p.child.status;
          await p.out.closed();
          const r = JSON.parse(p.out.lines.find((l) => l.startsWith("{"))!);
          const back: string[] = JSON.parse(sent.stdout);
          assert.deepEqual(
            back.map((h) => h.slice(28, 30)),
            ["00", "01", "02"],
            `echoes ${sent.stdout} probe ${JSON.stringify(r)}`,
          );
          assert.equal(r.frames.length, 3);
          assert.equal(r.stats.rxFiltered, 1);
          assert.equal(r.stats.txFrames, 3);
          assert.equal(r.kernel.rxDropped, 0);
        },
      );
    }
    await t.step("an interface with two receive queues is refused with a hint", async () => {
      await net.run([
        "ip",
        "-n",
        net.ns("a"),
        "link",
        "add",
        "mq0",
        "numrxqueues",
        "2",
        "type",
        "veth",
        "peer",
        "name",
        "mq1",
      ]);
      await net.ip("a", "link", "set", "mq0", "up");
      const p = probe(net, "a", "mq0", "native");
      const status = await p.child.status;
      await Promise.all([p.out.closed(), p.err.closed()]);
      assert.equal(status.success, false);
      assert.match(p.err.lines.join("\n"), /Cannot open mq0 for AF_XDP: it has 2 receive queues/);
    });
  } finally {
    await net.cleanup();
  }
});

Deno.test({
  name: "the director with io xdp carries curl and UDP through NAT to three real servers",
  ignore: skipDirector !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await reapStaleNamespaces();
  const net = new Netns("xdpd");
  try {
    const topo = await buildNat(net, false);
    await startHttpServers(net, topo, 80);
    await startUdpEcho(net, topo, 5353);
    const dests = (port: number) =>
      topo.rs.map((r) => ({ addr: r.addr4, port, fwd: "masq" as const }));
    const d = await startDirector(net, {
      engine: "wasm",
      io: "xdp",
      batch: 64,
      ports: topo.ports,
      services: [
        { protocol: "tcp", addr: topo.vip4, port: 80, sched: "rr", dests: dests(80) },
        { protocol: "udp", addr: topo.vip4, port: 5353, sched: "rr", dests: dests(5353) },
      ],
    });
    let stopped;
    try {
      const http = await curlMany(net, "cl", `http://${topo.vip4}/`, 12);
      assert.deepEqual(http.filter((r) => r.http !== "200"), [], JSON.stringify(http));
      assert.deepEqual(tally(http.map((r) => r.body)), { rs1: 4, rs2: 4, rs3: 4 });
      const udp = await udpMany(net, "cl", topo.vip4, 5353, 6);
      assert.deepEqual(tally(udp), { rs1: 2, rs2: 2, rs3: 2 });
    } finally {
      stopped = await stopDirector(net, d);
    }
    assert.equal(stopped.code, 0, stopped.errors.join("\n"));
    const lines = stopped.lines.join("\n");
    assert.match(lines, /eth0: AF_XDP, native XDP, copy mode/);
    assert.match(lines, /eth1: AF_XDP, native XDP, copy mode/);
    assert.match(lines, /\(af_xdp, /);
    for (const p of stopped.stats.ports) assert.equal(p.txErrors, 0, JSON.stringify(p));
    // Both sides' segments came CHECKSUM_PARTIAL over the veths and were completed.
    for (const p of stopped.stats.ports) assert.ok(p.rxCsumFixed > 0, JSON.stringify(p));
  } finally {
    await net.cleanup();
  }
});
