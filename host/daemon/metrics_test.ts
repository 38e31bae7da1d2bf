// Tests of the Prometheus exposition (metrics.ts): the text parses with a real parser (the
// npm package parse-prometheus-text-format, a port of Prometheus's own text parser), and the
// daemon serves it over HTTP on the address it is given.
import assert from "node:assert/strict";
import { C_DROP, C_REASON_BASE, C_RX, R_NO_DEST, R_NOT_VIP } from "../engine/abi.gen.ts";
import { parseCommand } from "../ctl/cli.ts";
import { Controller } from "../ctl/commands.ts";
import { fakeEngine } from "../ctl/_fake_engine.ts";
import { createReferenceEngine } from "../engine/reference/reference_engine.ts";
import { createDaemon } from "./daemon.ts";
import { prometheusText } from "./metrics.ts";

type Family = {
  name: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
};
let parse: ((text: string) => Family[]) | null = null;
try {
  parse = (await import("parse-prometheus-text-format")).default as (text: string) => Family[];
} catch (e) {
  console.warn(
    `SKIPPED: the Prometheus parser test needs parse-prometheus-text-format (npm ci): ${e}`,
  );
}

function loadedController(): Controller {
  const engine = fakeEngine();
  const ctl = new Controller({ engine });
  for (
    const line of [
      "-A -t 198.18.0.1:80 -s rr",
      "-a -t 198.18.0.1:80 -r 198.18.1.1:8080 -m -w 3",
      "-A -f 7 -6 -s wlc",
    ]
  ) {
    ctl.execute(parseCommand(line.split(" ")));
  }
  engine.countersArr[C_RX] = 1234;
  engine.countersArr[C_DROP] = 9;
  engine.countersArr[C_REASON_BASE + R_NO_DEST] = 9;
  engine.countersArr[C_REASON_BASE + R_NOT_VIP] = 5;
  const svc = ctl.model.services[0];
  engine.svcStatsOf.set(svc.index, {
    conns: 4,
    inPkts: 40,
    outPkts: 30,
    inBytes: 4000,
    outBytes: 30000,
  });
  engine.destCountsOf.set(svc.dests[0].index, {
    activeConns: 2,
    inactConns: 1,
    persistConns: 0,
    flags: 1,
  });
  return ctl;
}

Deno.test({
  name: "prometheusText() parses with a real Prometheus text parser and carries the numbers",
  ignore: parse === null,
  fn: () => {
    const ctl = loadedController();
    ctl.execute(parseCommand(["-Z"])); // -Z moves ipvsadm's baseline, never these counters
    const families = parse!(prometheusText(ctl));
    const byName = new Map(families.map((f) => [f.name, f]));
    const value = (name: string, pick: (l: Record<string, string>) => boolean = () => true) =>
      Number(byName.get(name)!.metrics.find((m) => pick(m.labels ?? {}))!.value);
    assert.equal(byName.get("wvs_frames_received_total")!.type, "COUNTER");
    assert.equal(value("wvs_frames_received_total"), 1234);
    assert.equal(value("wvs_frames_dropped_by_reason_total", (l) => l.reason === "no_dest"), 9);
    assert.equal(value("wvs_frames_passed_by_reason_total", (l) => l.reason === "not_vip"), 5);
    assert.ok(
      !byName.get("wvs_frames_dropped_by_reason_total")!.metrics.some((m) =>
        m.labels?.reason === "not_vip"
      ),
    );
    const tcp = (l: Record<string, string>) =>
      l.proto === "tcp" && l.local_address === "198.18.0.1" && l.local_port === "80";
    assert.equal(value("wvs_service_connections_total", tcp), 4);
    assert.equal(value("wvs_service_outgoing_bytes_total", tcp), 30000);
    assert.equal(value("wvs_service_connections_per_second", tcp), 0);
    assert.equal(byName.get("wvs_service_connections_total")!.metrics.length, 2);
    assert.ok(
      byName.get("wvs_service_connections_total")!.metrics.some((m) =>
        m.labels?.local_mark === "7" && m.labels?.family === "ipv6"
      ),
    );
    const backend = (l: Record<string, string>) =>
      l.remote_address === "198.18.1.1" && l.remote_port === "8080";
    assert.equal(value("wvs_backend_connections_active", backend), 2);
    assert.equal(value("wvs_backend_weight", backend), 3);
    assert.equal(byName.get("wvs_backend_weight")!.type, "GAUGE");
  },
});

Deno.test("the daemon serves Prometheus text on /metrics only when asked", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wvs-metrics-" });
  const engine = createReferenceEngine({
    maxConns: 1024,
    maxServices: 16,
    maxDests: 64,
    batch: 16,
    seed: 1,
  });
  const daemon = await createDaemon({
    engine,
    socketPath: null,
    metrics: "127.0.0.1:0",
    log: () => {},
  });
  try {
    daemon.controller.execute(parseCommand("-A -u 198.18.0.2:53 -s rr".split(" ")));
    const { port } = daemon.metricsAddr!;
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const text = await res.text();
    assert.match(
      text,
      /^wvs_service_connections_total\{proto="udp",family="ipv4",local_address="198\.18\.0\.2",local_port="53",local_mark=""\} 0$/m,
    );
    if (parse) assert.ok(parse(text).length > 20);
    const missing = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await daemon.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a director's interfaces are served as per-port counter families that parse",
  ignore: parse === null,
}, async () => {
  const { emptyPortStats } = await import("../io/frame_io.ts");
  const eth0 = { ifname: "eth0", stats: { ...emptyPortStats(), rxFrames: 7, rxKernelDrops: 2 } };
  const eth1 = { ifname: "eth1", stats: { ...emptyPortStats(), txFrames: 5 } };
  const engine = createReferenceEngine({
    maxConns: 64,
    maxServices: 4,
    maxDests: 4,
    batch: 8,
    seed: 1,
  });
  const d = await createDaemon({
    engine,
    socketPath: null,
    metrics: "127.0.0.1:0",
    estimateEveryMs: 0,
    expireEveryMs: 0,
    ports: () => [eth0, eth1],
  });
  try {
    const { hostname, port } = d.metricsAddr!;
    const text = await (await fetch(`http://${hostname}:${port}/metrics`)).text();
    const byName = new Map(parse!(text).map((f) => [f.name, f]));
    const values = (name: string) =>
      byName.get(name)?.metrics.map((m) => [m.labels?.port, Number(m.value)]);
    assert.deepEqual(values("wvs_port_received_frames_total"), [["eth0", 7], ["eth1", 0]]);
    assert.deepEqual(values("wvs_port_kernel_drops_total"), [["eth0", 2], ["eth1", 0]]);
    assert.deepEqual(values("wvs_port_transmitted_frames_total"), [["eth0", 0], ["eth1", 5]]);
    assert.equal(byName.get("wvs_port_kernel_drops_total")?.type, "COUNTER");
  } finally {
    await d.close();
  }
});
