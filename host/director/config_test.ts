import assert from "node:assert/strict";
import {
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_MASQ,
  IPPROTO_SCTP,
  IPPROTO_UDP,
  SCHED_WLC,
  SCHED_WRR,
  SYS_CONN_MAX,
  SYS_FTP_PORT,
  SYS_ICMP_MSGS_PER_SEC,
  SYS_SECURE_TCP,
} from "../engine/abi.gen.ts";
import { type DirectorConfig, planDirector } from "./config.ts";
import { formatIp } from "./inet.ts";

const BASE: DirectorConfig = {
  ports: [{ ifname: "eth0", addrs: ["198.18.0.254/24"] }],
  services: [{
    protocol: "udp",
    addr: "198.18.0.100",
    port: 53,
    sched: "wrr",
    dests: [{ addr: "198.18.1.1", port: 5353, fwd: "masq", weight: 3 }, { addr: "198.18.1.2" }],
  }],
};

Deno.test("planDirector() turns ipvsadm words into engine specs with ipvsadm's defaults", () => {
  const p = planDirector(BASE);
  assert.equal(p.engine, "wasm");
  assert.equal(p.round, 64);
  assert.equal(
    p.engineConfig.batch,
    p.io === "ring" ? 1024 : 64,
    "a ring engine batch covers the ring",
  );
  const s = p.services[0];
  assert.equal(s.spec.protocol, IPPROTO_UDP);
  assert.equal(s.spec.sched, SCHED_WRR);
  assert.equal(formatIp(s.spec.addr), "198.18.0.100");
  assert.deepEqual(s.dests.map((d) => [d.fwd, d.weight, d.port]), [[IP_VS_CONN_F_MASQ, 3, 5353], [
    IP_VS_CONN_F_DROUTE,
    1,
    0,
  ]]);
  assert.equal(
    planDirector({ ...BASE, services: [{ ...BASE.services[0], sched: undefined }] }).services[0]
      .spec.sched,
    SCHED_WLC,
  );
});

Deno.test("planDirector() names the field of the first error", async (t) => {
  const bad: [string, DirectorConfig, RegExp][] = [
    ["no ports", { ...BASE, ports: [] }, /ports: at least one/],
    [
      "a TAP without its own MAC",
      { ...BASE, ports: [{ ifname: "tap0", backend: "tap" }] },
      /ports\[0\]: a TAP port needs/,
    ],
    [
      "a bad prefix",
      { ...BASE, ports: [{ ifname: "eth0", addrs: ["198.18.0.1/40"] }] },
      /ports\[0\]: .*prefix length/,
    ],
    [
      "an unknown scheduler",
      { ...BASE, services: [{ ...BASE.services[0], sched: "sh" as "rr" }] },
      /services\[0\]: unknown scheduler/,
    ],
    [
      "a bad port",
      { ...BASE, services: [{ ...BASE.services[0], port: 70000 }] },
      /services\[0\]: bad port/,
    ],
    [
      "a dest of the other family in NAT",
      { ...BASE, services: [{ ...BASE.services[0], dests: [{ addr: "2001:2::1", fwd: "masq" }] }] },
      /services\[0\]\.dests\[0\]: address family differs/,
    ],
    [
      "an unknown sysctl",
      { ...BASE, sysctl: { nope: 1 } as DirectorConfig["sysctl"] },
      /sysctl: unknown sysctl nope/,
    ],
  ];
  for (const [what, c, re] of bad) {
    await t.step(what, () => assert.throws(() => planDirector(c), re));
  }
});

Deno.test("planDirector() takes SCTP services and the issue-7 sysctls by name", () => {
  const p = planDirector({
    ...BASE,
    services: [{ ...BASE.services[0], protocol: "sctp", port: 3868 }],
    sysctl: { conn_max: 50000, secure_tcp: 1, ftp_port: 21, icmp_msgs_per_sec: 100 },
  });
  assert.equal(p.services[0].spec.protocol, IPPROTO_SCTP);
  assert.deepEqual(p.sysctl, [
    [SYS_CONN_MAX, 50000],
    [SYS_SECURE_TCP, 1],
    [SYS_FTP_PORT, 21],
    [SYS_ICMP_MSGS_PER_SEC, 100],
  ]);
});

Deno.test("control: the file's services become -R rules that the control plane accepts", async () => {
  const { Controller } = await import("../ctl/commands.ts");
  const { runIpvsadm } = await import("../ctl/ipvsadm.ts");
  const p = planDirector({
    ...BASE,
    services: [...BASE.services, {
      protocol: "tcp",
      addr: "2001:2::100",
      port: 80,
      dests: [{ addr: "2001:2:0:1::1", fwd: "tunnel", uThreshold: 50, lThreshold: 10 }],
    }],
    control: { socket: "/tmp/x.sock" },
  });
  assert.deepEqual(p.control, {
    socket: "/tmp/x.sock",
    stateDir: null,
    metrics: null,
    seed: "-A -u 198.18.0.100:53 -s wrr\n" +
      "-a -u 198.18.0.100:53 -r 198.18.1.1:5353 -m -w 3\n" +
      "-a -u 198.18.0.100:53 -r 198.18.1.2:53 -g -w 1\n" +
      "-A -t [2001:2::100]:80 -s wlc\n" +
      "-a -t [2001:2::100]:80 -r [2001:2:0:1::1]:80 -i -w 1 -x 50 -y 10\n",
  });
  const ctl = new Controller();
  const r = runIpvsadm(["-R"], p.control!.seed, ctl, {});
  assert.equal(r.status, 0, r.stderr);
  assert.equal(ctl.model.destCount, 3);
  assert.equal(p.engineConfig.maxServices, 1024, "room for wvsadm's services");
});

Deno.test("control: services may be left out, and bad settings are named", () => {
  const { services: _, ...noServices } = BASE;
  const p = planDirector({ ...noServices, control: {} } as DirectorConfig);
  assert.equal(p.services.length, 0);
  assert.equal(p.control?.socket, "/run/wvs/wvs.sock");
  assert.throws(
    () => planDirector({ ...BASE, control: { metrics: "nowhere" } }),
    /control\.metrics: expected host:port/,
  );
  assert.throws(() => planDirector({ ...BASE, maxDests: 0 }), /maxDests: bad capacity 0/);
});

Deno.test("floating addresses are parsed per port and kept apart from the port's own", () => {
  const p = planDirector({
    ...BASE,
    ports: [{ ifname: "eth1", addrs: ["198.18.1.251/24"], floating: ["198.18.1.254/24"] }],
  });
  assert.deepEqual(p.ports[0].addrs.map((a) => formatIp(a.addr)), ["198.18.1.251"]);
  assert.deepEqual(p.ports[0].floating.map((a) => `${formatIp(a.addr)}/${a.len}`), [
    "198.18.1.254/24",
  ]);
  assert.throws(
    () => planDirector({ ...BASE, ports: [{ ifname: "eth1", floating: ["nowhere"] }] }),
    /ports\[0\]/,
  );
});

Deno.test("priority is the autogroup's nice value, checked to -20..19", () => {
  assert.equal(planDirector(BASE).priority, null);
  assert.equal(planDirector({ ...BASE, priority: -10 }).priority, -10);
  assert.throws(() => planDirector({ ...BASE, priority: -21 }), /priority: must be an integer/);
  assert.throws(() => planDirector({ ...BASE, priority: 1.5 }), /priority: must be an integer/);
});

Deno.test("spinUs is the polling time after a light round, checked to 0..10000 µs", () => {
  assert.equal(planDirector(BASE).spinUs, 0);
  assert.equal(planDirector({ ...BASE, spinUs: 200 }).spinUs, 200);
  assert.throws(() => planDirector({ ...BASE, spinUs: -1 }), /spinUs: must be an integer/);
  assert.throws(() => planDirector({ ...BASE, spinUs: 10_001 }), /spinUs: must be an integer/);
  assert.throws(() => planDirector({ ...BASE, spinUs: 0.5 }), /spinUs: must be an integer/);
});
