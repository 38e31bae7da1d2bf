// Tests of the Controller (commands.ts) over a fake engine: atomic batches (model rollback
// and engine undo), -Z baselines, rates, timeouts, the connection list, and that a
// failed command changes nothing.
import assert from "node:assert/strict";
import { ENOMEM, IPPROTO_TCP, TCP_S_ESTABLISHED } from "../engine/abi.gen.ts";
import { parseCommand } from "./cli.ts";
import { Controller } from "./commands.ts";
import { IpvsError } from "./errors.ts";
import { fakeEngine } from "./_fake_engine.ts";
import { parseRestore, runIpvsadm } from "./ipvsadm.ts";

const cmd = (line: string) => parseCommand(line.split(" "));

Deno.test("Controller.executeBatch() applies nothing when a later command is refused", () => {
  const engine = fakeEngine();
  const ctl = new Controller({ engine });
  ctl.execute(cmd("-A -t 198.18.0.1:80 -s rr"));
  const before = ctl.execute(cmd("-S -n"));
  const calls = engine.calls.length;
  assert.throws(
    () =>
      ctl.executeBatch(
        parseRestore(
          "-A -t 198.18.0.2:80\n-a -t 198.18.0.2:80 -r 198.18.1.1\n-A -t 198.18.0.1:80\n",
        ),
      ),
    (e: unknown) => e instanceof IpvsError && e.line === 3 && e.text === "Service already exists",
  );
  assert.equal(ctl.execute(cmd("-S -n")), before);
  assert.equal(engine.calls.length, calls, "the engine was not touched");
});

Deno.test("Controller.executeBatch() undoes the engine when the engine refuses half-way", () => {
  const engine = fakeEngine();
  const ctl = new Controller({ engine });
  ctl.execute(cmd("-A -t 198.18.0.1:80 -s rr"));
  ctl.execute(cmd("-a -t 198.18.0.1:80 -r 198.18.1.1 -m"));
  const before = ctl.execute(cmd("-S -n"));
  engine.failAt = { call: engine.calls.length + 3, errno: ENOMEM }; // the 2nd addDest below
  assert.throws(
    () =>
      ctl.executeBatch(parseRestore([
        "-D -t 198.18.0.1:80",
        "-A -t 198.18.0.2:80 -s wrr",
        "-a -t 198.18.0.2:80 -r 198.18.1.2 -m",
        "-a -t 198.18.0.2:80 -r 198.18.1.3 -m",
      ].join("\n"))),
    (e: unknown) => e instanceof IpvsError && e.errno === ENOMEM && e.line === 4,
  );
  assert.equal(ctl.execute(cmd("-S -n")), before);
  // The engine holds what the model says: the deleted service is back, the new one gone.
  assert.deepEqual([...engine.services.values()].map((s) => s.port), [80]);
  assert.equal(engine.dests.size, 1);
  const svc = ctl.model.services[0];
  assert.ok(engine.services.has(svc.index) && engine.dests.has(svc.dests[0].index));
});

Deno.test("Controller keeps -Z baselines: counters restart from zero, the engine's do not", () => {
  const engine = fakeEngine();
  const ctl = new Controller({ engine });
  ctl.execute(cmd("-A -t 198.18.0.1:80 -s rr"));
  ctl.execute(cmd("-a -t 198.18.0.1:80 -r 198.18.1.1 -m"));
  const svc = ctl.model.services[0], d = svc.dests[0];
  engine.svcStatsOf.set(svc.index, {
    conns: 10,
    inPkts: 100,
    outPkts: 90,
    inBytes: 5000,
    outBytes: 9000,
  });
  engine.destStatsOf.set(d.index, {
    conns: 10,
    inPkts: 100,
    outPkts: 90,
    inBytes: 5000,
    outBytes: 9000,
  });
  assert.equal(ctl.svcStats(svc).conns, 10);
  ctl.execute(cmd("-Z"));
  assert.deepEqual(ctl.svcStats(svc), { conns: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0 });
  engine.svcStatsOf.set(svc.index, {
    conns: 13,
    inPkts: 110,
    outPkts: 90,
    inBytes: 5100,
    outBytes: 9000,
  });
  assert.deepEqual(ctl.svcStats(svc), {
    conns: 3,
    inPkts: 10,
    outPkts: 0,
    inBytes: 100,
    outBytes: 0,
  });
  assert.equal(ctl.svcStatsRaw(svc).conns, 13);
  assert.equal(ctl.destStats(d).conns, 0);
  assert.throws(() => ctl.execute(cmd("-Z -t 198.18.0.9:80")), { message: /No such service/ });
});

Deno.test("Controller.sampleRates() feeds IPVS's estimator every 2 s of counters", () => {
  const engine = fakeEngine();
  const ctl = new Controller({ engine });
  ctl.execute(cmd("-A -t 198.18.0.1:80 -s rr"));
  const svc = ctl.model.services[0];
  ctl.sampleRates();
  for (let k = 1; k <= 40; k++) {
    // 100 connections and 1000 packets per second, 2 s per sample.
    engine.svcStatsOf.set(svc.index, {
      conns: 200 * k,
      inPkts: 2000 * k,
      outPkts: 0,
      inBytes: 0,
      outBytes: 0,
    });
    ctl.sampleRates();
  }
  const r = ctl.svcRates(svc);
  assert.equal(r.cps, 100);
  assert.equal(r.inPps, 1000);
  const out = runIpvsadm(["-L", "-n", "--rate"], "", ctl).stdout.split("\n")[3];
  assert.equal(
    out,
    "TCP  198.18.0.1:80".padEnd(33) +
      [100, 1000, 0, 0, 0].map((n) => String(n).padStart(9)).join(""),
  );
});

Deno.test("Controller --set changes only the non-zero values and -L --timeout shows them", () => {
  const ctl = new Controller({ engine: fakeEngine() });
  ctl.execute(cmd("--set 0 30 0"));
  assert.equal(ctl.execute(cmd("-L --timeout")), "Timeout (tcp tcpfin udp): 900 30 300\n");
  const bare = new Controller();
  bare.execute(cmd("--set 10 0 20"));
  assert.deepEqual(bare.timeouts(), { tcp: 10, tcpfin: 120, udp: 20 });
});

Deno.test("Controller lists connections with state names and mm:ss expiry", () => {
  const engine = fakeEngine();
  const nowUs = 1_000_000_000_000;
  const ctl = new Controller({ engine, clock: () => nowUs });
  const nowMs = Math.floor(nowUs / 1000) >>> 0;
  engine.conns = [{
    index: 0,
    af: 2,
    protocol: IPPROTO_TCP,
    caddr: "192.168.1.100",
    cport: 54321,
    vaddr: "10.0.0.1",
    vport: 80,
    daddr: "192.168.10.2",
    dport: 80,
    state: TCP_S_ESTABLISHED,
    flags: 0,
    expires: (nowMs + 899_500) >>> 0,
    timeout: 900_000,
    dest: 0,
    svc: 0,
    inPkts: 3,
  }, {
    index: 1,
    af: 10,
    protocol: 17,
    caddr: "2001:db8::ff",
    cport: 40000,
    vaddr: "2001:db8::1",
    vport: 53,
    daddr: "2001:db8:1::a",
    dport: 53,
    state: 0,
    flags: 0,
    expires: (nowMs + 3_600_000) >>> 0,
    timeout: 3_600_000,
    dest: 1,
    svc: 1,
    inPkts: 1,
  }];
  assert.equal(
    ctl.execute(cmd("-L -n -c")),
    "IPVS connection entries\n" +
      "pro expire state       source             virtual            destination\n" +
      "TCP 14:59  ESTABLISHED 192.168.1.100:54321 10.0.0.1:80        192.168.10.2:80\n" +
      "UDP 60:00  UDP         [2001:db8::ff]:40000 [2001:db8::1]:53   [2001:db8:1::a]:53\n",
  );
});

Deno.test("Controller without an engine stages everything IPVS accepts when told to", () => {
  const ctl = new Controller({ engineChecks: false });
  ctl.execute(cmd("-A -t 198.18.0.1:80 -s sh -b sh-port -p 60 -M 255.255.255.0"));
  ctl.execute(
    cmd("-a -t 198.18.0.1:80 -r 198.18.1.1 -i --tun-type gue --tun-port 6080 --tun-csum"),
  );
  assert.equal(
    ctl.execute(cmd("-S -n")),
    "-A -t 198.18.0.1:80 -s sh -p 60 -M 255.255.255.0 -b sh-port\n" +
      "-a -t 198.18.0.1:80 -r 198.18.1.1:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum\n",
  );
});
