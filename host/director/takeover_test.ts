// Failover in the director loop (host/sync/ wiring): a standby director neither answers ARP
// for its VIP nor announces it; takeover() announces it at once (gratuitous ARP, three in
// all) and answers from then on; the sync hooks run after every batch and with the timers.
import assert from "node:assert/strict";
import { AF_INET, IP_VS_CONN_F_DROUTE, IPPROTO_TCP, SCHED_RR } from "../engine/abi.gen.ts";
import { frameArea } from "../io/frame_io.ts";
import { MemoryPort } from "../io/memory_port.ts";
import { ARP_REPLY, arpRequest, parseArp } from "./arp.ts";
import type { ServicePlan } from "./config.ts";
import { Director } from "./director.ts";
import { formatIp, parseIp, parseMac, parsePrefixed } from "./inet.ts";
import { createPassthroughEngine } from "./passthrough_engine.ts";

const CONFIG = { maxConns: 256, maxConns6: 64, maxServices: 8, maxDests: 16, batch: 16, seed: 1 };
const VIP = "198.18.2.100";

function dr(): ServicePlan[] {
  return [{
    spec: {
      af: AF_INET,
      protocol: IPPROTO_TCP,
      addr: parseIp(VIP),
      port: 80,
      fwmark: 0,
      sched: SCHED_RR,
      flags: 0,
      timeout: 0,
      netmask: 0xffffffff,
    },
    dests: [{
      af: AF_INET,
      addr: parseIp("198.18.2.11"),
      port: 80,
      fwd: IP_VS_CONN_F_DROUTE,
      weight: 1,
      uThreshold: 0,
      lThreshold: 0,
      tunType: 0,
      tunPort: 0,
      tunFlags: 0,
    }],
  }];
}

Deno.test("a standby director takes the VIP over: ARP answers and gratuitous ARP", () => {
  const engine = createPassthroughEngine(CONFIG);
  const io = new MemoryPort("eth0", frameArea(engine));
  let now = 1_000_000_000_000;
  const hooks: string[] = [];
  const d = new Director({
    engine,
    ports: [{
      io,
      mac: parseMac("02:00:00:00:00:f2"),
      mtu: 1500,
      addrs: [parsePrefixed("198.18.2.252/24")],
    }],
    services: dr(),
    clock: () => now,
    log: () => {},
    standby: true,
    sync: {
      afterBatch: () => hooks.push("batch"),
      tick: () => hooks.push("tick"),
    },
  });
  d.setup();
  const askVip = () =>
    io.inbox.push(
      arpRequest(parseMac("02:00:00:00:00:01"), parseIp("198.18.2.1"), parseIp(VIP)),
    );
  const garps = () =>
    io.sent.map(parseArp).filter((r) => r && formatIp(r.spa) === VIP && formatIp(r.tpa) === VIP);
  const replies = () =>
    io.sent.map(parseArp).filter((r) => r?.op === ARP_REPLY && formatIp(r.spa) === VIP);

  for (let i = 0; i < 4; i++) {
    d.tick();
    now += 1_000_000;
  }
  askVip();
  d.pollOnce();
  assert.equal(d.standby, true);
  assert.equal(garps().length, 0, "a standby never announces the VIP");
  assert.equal(replies().length, 0, "nor answers ARP for it");
  assert.deepEqual([...new Set(hooks)], ["tick", "batch"]);

  d.takeover();
  assert.equal(d.standby, false);
  d.tick();
  assert.equal(garps().length, 1, "announced at once");
  for (let i = 0; i < 3; i++) {
    now += 1_000_000;
    d.tick();
  }
  assert.equal(garps().length, 3, "three gratuitous ARPs, a second apart");
  askVip();
  d.pollOnce();
  assert.equal(replies().length, 1, "answers ARP for the VIP");

  d.release();
  askVip();
  d.pollOnce();
  assert.equal(replies().length, 1, "released: no more answers");
});
