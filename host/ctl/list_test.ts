// Tests of the listings (list.ts) with numbers no idle engine has: the large-number units
// and --exact in --stats and --rate rows, the sort comparators' wrap-around, glibc's merge
// order, and names without -n.
import assert from "node:assert/strict";
import { parseCommand } from "./cli.ts";
import { Controller } from "./commands.ts";
import { fakeEngine } from "./_fake_engine.ts";
import { helpText } from "./_help.ts";
import { glibcSort } from "./list.ts";

const cmd = (line: string) => parseCommand(line.split(" "));

function loaded() {
  const engine = fakeEngine();
  const ctl = new Controller({ engine, tableSize: 4096 });
  ctl.execute(cmd("-A -t 10.0.0.1:80 -s wlc"));
  ctl.execute(cmd("-a -t 10.0.0.1:80 -r 192.168.10.1:8080 -m"));
  const svc = ctl.model.services[0];
  engine.svcStatsOf.set(svc.index, {
    conns: 1000,
    inPkts: 100_000_000,
    outPkts: 0,
    inBytes: 999_999_999_999_999,
    outBytes: 0,
  });
  engine.destStatsOf.set(svc.dests[0].index, {
    conns: 123_456_789,
    inPkts: 98765,
    outPkts: 0,
    inBytes: 123_456_789_012,
    outBytes: 5,
  });
  engine.destCountsOf.set(svc.dests[0].index, {
    activeConns: 5,
    inactConns: 10,
    persistConns: 0,
    flags: 1,
  });
  return ctl;
}

Deno.test("-L --stats prints ipvsadm's large numbers, and --exact the exact ones", () => {
  const ctl = loaded();
  assert.equal(
    ctl.execute(cmd("-L -n --stats")),
    "IP Virtual Server version 1.2.1 (size=4096)\n" +
      "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n" +
      "  -> RemoteAddress:Port\n" +
      "TCP  10.0.0.1:80                      1000  100000K        0     999T        0\n" +
      "  -> 192.168.10.1:8080             123456K    98765        0     123G        5\n",
  );
  assert.equal(
    ctl.execute(cmd("-L -n --stats --exact")).split("\n")[3],
    "TCP  10.0.0.1:80                      1000 100000000        0 999999999999999        0",
  );
});

Deno.test("-L --rate prints real-server CPS and PPS as plain numbers, as ipvsadm does", () => {
  const ctl = loaded();
  ctl.sampleRates();
  const lines = ctl.execute(cmd("-L -n --rate")).split("\n");
  assert.equal(
    lines[1],
    "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS",
  );
  assert.equal(
    lines[4],
    "  -> " + "192.168.10.1:8080".padEnd(28) + " " +
      [0, 0, 0].map((n) => String(n).padStart(8)).join(" ") + "        0        0",
  );
});

Deno.test("-L counts active and inactive connections per real server", () => {
  assert.equal(
    loaded().execute(cmd("-L -n")).split("\n")[4],
    "  -> 192.168.10.1:8080            Masq    1      5          10        ",
  );
});

Deno.test("glibcSort() merges as glibc's qsort does, so non-transitive orders come out alike", () => {
  // libipvs compares addresses by wrapping subtraction: a < b < c < a.
  const cmp = (x: number, y: number) => (x - y) | 0;
  const a = 10 * 2 ** 24, b = 100 * 2 ** 24, c = 200 * 2 ** 24;
  assert.ok(cmp(a, b) < 0 && cmp(b, c) < 0 && cmp(c, a) < 0);
  // The same three values come out in an order that depends on the input order.
  assert.deepEqual(glibcSort([a, b, c], cmp), [a, b, c]);
  assert.deepEqual(glibcSort([c, b, a], cmp), [c, a, b]);
  assert.deepEqual(glibcSort([5, 3, 9, 1, 7], (x, y) => x - y), [1, 3, 5, 7, 9]);
});

Deno.test("-L without -n prints host and service names from the resolver", () => {
  const ctl = new Controller({
    resolver: {
      addrToHost: (a) => a.join(".") === "10.0.0.1" ? "www.example" : null,
      portToService: (p, proto) => p === 80 && proto === "tcp" ? "http" : null,
    },
  });
  ctl.execute(cmd("-A -t 10.0.0.1:80 -s rr"));
  ctl.execute(cmd("-a -t 10.0.0.1:80 -r 10.0.1.1:8081 -m"));
  assert.deepEqual(ctl.execute(cmd("-L")).split("\n").slice(3, 5), [
    "TCP  www.example:http rr",
    "  -> 10.0.1.1:8081                Masq    1      0          0         ",
  ]);
  assert.equal(
    ctl.execute(cmd("-S")),
    "-A -t www.example:http -s rr\n-a -t www.example:http -r 10.0.1.1:8081 -m -w 1\n",
  );
});

Deno.test("-h prints ipvsadm's 82 lines with the program name", () => {
  const lines = helpText("ipvsadm").split("\n");
  assert.equal(lines.length - 1, 82);
  assert.equal(
    lines[2],
    "  ipvsadm -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]",
  );
  assert.ok(helpText("wvsadm").includes("  wvsadm -C\n"));
});
