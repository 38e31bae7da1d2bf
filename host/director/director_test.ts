// The daemon loop over in-memory ports: neighbour resolution, ARP/ND answers,
// announcements, and (with the reference engine) one NAT round trip.
import assert from "node:assert/strict";
import {
  AF_INET,
  IP_VS_CONN_F_MASQ,
  IPPROTO_TCP,
  L_MAX_CONNS,
  SCHED_RR,
} from "../engine/abi.gen.ts";
import type { Engine } from "../engine/engine.ts";
import { frameArea } from "../io/frame_io.ts";
import { MemoryPort } from "../io/memory_port.ts";
import { Frame } from "../../tests/fixtures/packet_builder.ts";
import { decode } from "../../tests/fixtures/decode.ts";
import { ARP_REPLY, ARP_REQUEST, arpReply, arpRequest, parseArp } from "./arp.ts";
import type { ServicePlan } from "./config.ts";
import { Director } from "./director.ts";
import { formatIp, formatMac, parseIp, parseMac, parsePrefixed } from "./inet.ts";
import { ND_NEIGHBOR_ADVERT, neighborAdvertisement, neighborSolicitation, parseNd } from "./nd.ts";
import { createPassthroughEngine } from "./passthrough_engine.ts";

const CONFIG = { maxConns: 256, maxConns6: 64, maxServices: 8, maxDests: 16, batch: 16, seed: 1 };
const DIR_MAC = ["02:00:00:00:00:fe", "02:00:00:00:01:fe"];
const CLIENT_MAC = "02:00:00:00:00:01";
const RS_MAC = "02:00:00:00:01:01";

function nat(): ServicePlan[] {
  return [{
    spec: {
      af: AF_INET,
      protocol: IPPROTO_TCP,
      addr: parseIp("198.18.0.100"),
      port: 80,
      fwmark: 0,
      sched: SCHED_RR,
      flags: 0,
      timeout: 0,
      netmask: 0xffffffff,
    },
    dests: [{
      af: AF_INET,
      addr: parseIp("198.18.1.1"),
      port: 8080,
      fwd: IP_VS_CONN_F_MASQ,
      weight: 1,
      uThreshold: 0,
      lThreshold: 0,
      tunType: 0,
      tunPort: 0,
      tunFlags: 0,
    }],
  }];
}

function rig(engine: Engine) {
  return rigWith(engine);
}

function rigWith(engine: Engine, loop: Partial<ConstructorParameters<typeof Director>[0]> = {}) {
  const area = frameArea(engine);
  const io = [new MemoryPort("front", area), new MemoryPort("back", area)];
  const logs: string[] = [];
  let now = 1_000_000_000_000;
  const d = new Director({
    engine,
    ports: [
      {
        io: io[0],
        mac: parseMac(DIR_MAC[0]),
        mtu: 1500,
        addrs: ["198.18.0.254/24", "2001:2::fe/64"].map(parsePrefixed),
      },
      {
        io: io[1],
        mac: parseMac(DIR_MAC[1]),
        mtu: 1500,
        addrs: ["198.18.1.254/24"].map(parsePrefixed),
      },
    ],
    services: nat(),
    clock: () => now,
    log: (l) => logs.push(l),
    ...loop,
  });
  d.setup();
  return { d, io, logs, advance: (ms: number) => (now += ms * 1000) };
}

Deno.test("Director solicits its real servers at start and says ready once they answer", () => {
  const { d, io, logs, advance } = rig(createPassthroughEngine(CONFIG));
  d.tick();
  const asks = io[1].sent.map(parseArp).filter((r) =>
    r?.op === ARP_REQUEST && formatIp(r.tpa) === "198.18.1.1"
  );
  assert.equal(asks.length, 1, "one ARP request for the real server on the back port");
  assert.equal(formatIp(asks[0]!.spa), "198.18.1.254");
  assert.equal(d.ready, false);
  advance(1000);
  d.tick();
  assert.equal(
    io[1].sent.filter((f) => formatIp(parseArp(f)?.tpa ?? new Uint8Array(4)) === "198.18.1.1")
      .length,
    2,
  );
  io[1].inbox.push(arpReply(parseMac(RS_MAC), parseArp(io[1].sent[0])!));
  d.pollOnce();
  assert.equal(d.ready, true);
  assert.ok(logs.some((l) => l.includes("198.18.1.1 is 02:00:00:00:01:01")), logs.join("\n"));
  assert.ok(logs.some((l) => l.startsWith("wvs director ready")));
});

Deno.test("Director resolves its gateway and installs it as the default route", () => {
  const calls: [number, string | null, string, number][] = [];
  const engine = createPassthroughEngine(CONFIG);
  engine.setNeigh = (af, addr, mac, port) => {
    calls.push([af, addr && formatIp(addr), formatMac(mac), port]);
    return 0;
  };
  const area = frameArea(engine);
  const io = new MemoryPort("front", area);
  const d = new Director({
    engine,
    ports: [{
      io,
      mac: parseMac(DIR_MAC[0]),
      mtu: 1500,
      addrs: [parsePrefixed("198.18.0.254/24")],
    }],
    services: [],
    gateways: [parseIp("198.18.0.1")],
    clock: () => 1e12,
    log: () => {},
  });
  d.setup();
  d.tick();
  const ask = parseArp(io.sent.find((f) => parseArp(f)?.op === ARP_REQUEST)!)!;
  assert.equal(formatIp(ask.tpa), "198.18.0.1");
  io.inbox.push(arpReply(parseMac("02:00:00:00:00:01"), ask));
  d.pollOnce();
  assert.deepEqual(calls, [
    [AF_INET, "198.18.0.1", "02:00:00:00:00:01", 0],
    [AF_INET, null, "02:00:00:00:00:01", 0],
  ]);
  assert.equal(d.ready, true);
});

Deno.test("Director answers ARP for its VIP and port address, and not for strangers", () => {
  const { d, io } = rig(createPassthroughEngine(CONFIG));
  const ask = (tpa: string) =>
    arpRequest(parseMac(CLIENT_MAC), parseIp("198.18.0.1"), parseIp(tpa));
  io[0].inbox.push(ask("198.18.0.100"), ask("198.18.0.254"), ask("198.18.0.7"));
  d.pollOnce();
  const replies = io[0].sent.map(parseArp).filter((r) => r?.op === ARP_REPLY);
  assert.deepEqual(replies.map((r) => formatIp(r!.spa)), ["198.18.0.100", "198.18.0.254"]);
  assert.equal(formatMac(replies[0]!.sha), DIR_MAC[0]);
  assert.equal(
    formatMac(io[0].sent.at(-1)!.subarray(0, 6)),
    CLIENT_MAC,
    "replies are unicast to the asker",
  );
  assert.equal(formatMac(d.neigh.get("198.18.0.1")!.mac!), CLIENT_MAC, "the asker is cached");
});

Deno.test("Director answers neighbour solicitations for its IPv6 address", () => {
  const { d, io } = rig(createPassthroughEngine(CONFIG));
  io[0].inbox.push(
    neighborSolicitation(parseMac(CLIENT_MAC), parseIp("2001:2::1"), parseIp("2001:2::fe")),
  );
  d.pollOnce();
  const na = io[0].sent.map(parseNd).find((r) => r?.type === ND_NEIGHBOR_ADVERT)!;
  assert.equal(formatIp(na.target), "2001:2::fe");
  assert.equal(formatIp(na.dst), "2001:2::1");
  assert.equal(formatMac(na.lladdr!), DIR_MAC[0]);
  assert.equal(formatMac(d.neigh.get("2001:2::1")!.mac!), CLIENT_MAC);
});

Deno.test("Director learns IPv6 neighbours from advertisements it asked for", () => {
  const { d, io } = rig(createPassthroughEngine(CONFIG));
  d.neigh.want(parseIp("2001:2::9"), "2001:2::9", 0);
  const ns = parseNd(
    neighborSolicitation(parseMac(DIR_MAC[0]), parseIp("2001:2::fe"), parseIp("2001:2::9")),
  )!;
  io[0].inbox.push(neighborAdvertisement(parseMac("02:00:00:00:00:09"), ns));
  d.pollOnce();
  assert.equal(formatMac(d.neigh.get("2001:2::9")!.mac!), "02:00:00:00:00:09");
  io[0].inbox.push(
    neighborAdvertisement(parseMac("02:00:00:00:00:08"), { ...ns, target: parseIp("2001:2::8") }),
  );
  d.pollOnce();
  assert.equal(
    d.neigh.get("2001:2::8"),
    undefined,
    "an advertisement nobody asked for is not cached",
  );
});

Deno.test("Director announces its addresses with gratuitous ARP three times, a second apart", () => {
  const { d, io, advance } = rig(createPassthroughEngine(CONFIG));
  for (let i = 0; i < 5; i++) {
    d.tick();
    advance(1000);
  }
  const garps = io[0].sent.map(parseArp).filter((r) => r && formatIp(r.spa) === formatIp(r.tpa));
  assert.equal(garps.filter((r) => formatIp(r!.spa) === "198.18.0.100").length, 3);
  assert.equal(io[0].sent.map(parseNd).filter((r) => r?.type === ND_NEIGHBOR_ADVERT).length, 3);
});

Deno.test("Director with the reference engine forwards a client SYN to the resolved real server and back", async () => {
  let mod;
  try {
    mod = await import("../engine/reference/reference_engine.ts");
  } catch (e) {
    console.warn(`SKIP: reference engine not importable: ${(e as Error).message}`);
    return;
  }
  const { d, io } = rig(mod.createReferenceEngine(CONFIG));
  d.tick();
  io[1].inbox.push(arpReply(parseMac(RS_MAC), parseArp(io[1].sent[0])!));
  io[0].inbox.push(
    arpRequest(parseMac(CLIENT_MAC), parseIp("198.18.0.1"), parseIp("198.18.0.100")),
  );
  d.pollOnce();
  assert.equal(d.ready, true);
  io[0].inbox.push(
    Frame.eth({ src: CLIENT_MAC, dst: DIR_MAC[0] }).ipv4({ src: "198.18.0.1", dst: "198.18.0.100" })
      .tcp({ sport: 40000, dport: 80, flags: "S" }).build(),
  );
  d.pollOnce();
  const syn = decode(io[1].sent.at(-1)!);
  assert.equal(syn.dstMac, RS_MAC);
  assert.equal(syn.srcMac, DIR_MAC[1]);
  assert.equal(syn.ip?.dst, "198.18.1.1");
  assert.equal(syn.ip?.l4?.dport, 8080);
  io[1].inbox.push(
    Frame.eth({ src: RS_MAC, dst: DIR_MAC[1] }).ipv4({ src: "198.18.1.1", dst: "198.18.0.1" })
      .tcp({ sport: 8080, dport: 40000, flags: "SA" }).build(),
  );
  d.pollOnce();
  const synAck = decode(io[0].sent.at(-1)!);
  assert.equal(synAck.dstMac, CLIENT_MAC, "the client's MAC was learned from its ARP request");
  assert.equal(synAck.ip?.src, "198.18.0.100");
  assert.equal(synAck.ip?.l4?.sport, 80);
  assert.equal(synAck.ip?.l4?.checksumOk, true);
  const snap = d.snapshot();
  assert.equal(snap.counters.connNew, 1);
  assert.equal(snap.services[0].dests[0].inPkts, 1);
});

Deno.test("Director learns a client's MAC from its first segment when the client never ARPs", async () => {
  let mod;
  try {
    mod = await import("../engine/reference/reference_engine.ts");
  } catch (e) {
    console.warn(`SKIP: reference engine not importable: ${(e as Error).message}`);
    return;
  }
  const { d, io } = rig(mod.createReferenceEngine(CONFIG));
  d.tick();
  io[1].inbox.push(arpReply(parseMac(RS_MAC), parseArp(io[1].sent[0])!));
  d.pollOnce();
  io[0].inbox.push(
    Frame.eth({ src: CLIENT_MAC, dst: DIR_MAC[0] }).ipv4({ src: "198.18.0.1", dst: "198.18.0.100" })
      .tcp({ sport: 40001, dport: 80, flags: "S" }).build(),
  );
  d.pollOnce();
  io[1].inbox.push(
    Frame.eth({ src: RS_MAC, dst: DIR_MAC[1] }).ipv4({ src: "198.18.1.1", dst: "198.18.0.1" })
      .tcp({ sport: 8080, dport: 40001, flags: "SA" }).build(),
  );
  d.pollOnce();
  const synAck = decode(io[0].sent.at(-1)!);
  assert.equal(synAck.dstMac, CLIENT_MAC, "learned from the SYN, before the engine rewrote it");
  assert.equal(d.snapshot().reasons.no_neigh ?? 0, 0);
  assert.equal(
    d.neigh.get("198.18.1.1")?.mac && formatMac(d.neigh.get("198.18.1.1")!.mac!),
    RS_MAC,
  );
  assert.equal(
    d.neigh.get("198.18.1.1")?.wanted,
    true,
    "a real server is never taken for a client",
  );
});

Deno.test("Director.reconfigure() keeps what did not change and edits, adds and deletes the rest", () => {
  const calls: string[] = [];
  const engine = createPassthroughEngine(CONFIG);
  for (const k of ["addService", "editService", "delService", "addDest", "editDest", "delDest"]) {
    const e = engine as unknown as Record<string, (...a: unknown[]) => number>;
    const f = e[k].bind(engine);
    e[k] = (...a: unknown[]) => {
      calls.push(k);
      return f(...a);
    };
  }
  const { d } = rigWith(engine);
  const base = nat()[0];
  const dest = (addr: string, weight = 1) => ({ ...base.dests[0], addr: parseIp(addr), weight });
  calls.length = 0;
  const changes = d.reconfigure([
    { spec: { ...base.spec, sched: SCHED_RR }, dests: [dest("198.18.1.1", 3), dest("198.18.1.2")] },
    { spec: { ...base.spec, port: 443 }, dests: [dest("198.18.1.3")] },
  ]);
  assert.deepEqual(calls, ["editDest", "addDest", "addService", "addDest"]);
  assert.equal(changes.length, 3, changes.join("\n"));
  calls.length = 0;
  d.reconfigure([{ spec: base.spec, dests: [dest("198.18.1.2")] }]);
  assert.deepEqual(calls, ["delDest", "delService"]);
  assert.equal(d.services.length, 1);
});

Deno.test("Director expires in small windows that cover the table once a second", () => {
  const engine = createPassthroughEngine(CONFIG);
  engine.layout[L_MAX_CONNS] = 4096;
  const budgets: number[] = [];
  engine.expire = (_now, budget) => (budgets.push(budget ?? 0), 0);
  const { d, advance } = rigWith(engine);
  for (let i = 0; i < 500; i++) d.tick(), advance(2);
  assert.equal(budgets.length, 500, "a run every 2 ms, the first one too");
  assert.ok(budgets.every((b) => b === Math.ceil(4096 * 2 / 1000)));
  advance(98); // 100 ms after the last run
  d.tick();
  assert.equal(budgets.at(-1), Math.ceil(4096 * 100 / 1000), "a late run catches up");
  advance(1500);
  d.tick();
  assert.equal(budgets.at(-1), 0, "after a lap or more, the whole table");
});

/** run() with spinning: what it does between its last frame and its first wait. */
async function spinRun(spinUs: number, frames: number) {
  let relaxed = 0;
  let waitedAfterMs = -1;
  let lastFrameAt = 0;
  const { d, io } = rigWith(createPassthroughEngine(CONFIG), {
    spinUs,
    relax: () => relaxed++,
    wait: () => {
      waitedAfterMs = performance.now() - lastFrameAt;
      d.stop();
      return Promise.resolve();
    },
  });
  for (let i = 0; i < frames; i++) {
    io[0].inbox.push(
      arpRequest(parseMac(CLIENT_MAC), parseIp("198.18.0.1"), parseIp("198.18.0.77")),
    );
  }
  lastFrameAt = performance.now();
  await d.run();
  return { relaxed, waitedAfterMs };
}

Deno.test("Director run(): after a light round it polls for spinUs, relaxing the CPU, before it waits", async () => {
  const light = await spinRun(5000, 1);
  assert.ok(light.relaxed > 0, "empty passes while spinning call relax (sched_yield)");
  assert.ok(light.waitedAfterMs >= 5, `it waited only ${light.waitedAfterMs} ms after the frame`);
  const off = await spinRun(0, 1);
  assert.equal(off.relaxed, 0, "spinUs 0: it waits at once");
});

Deno.test("Director run(): after a full round it waits at once (NAPI may need the CPU)", async () => {
  // CONFIG.batch frames fill the round; the next pass is empty.
  const r = await spinRun(5000, CONFIG.batch);
  assert.equal(r.relaxed, 0);
  assert.ok(r.waitedAfterMs < 5, `it spun ${r.waitedAfterMs} ms after a full round`);
});
