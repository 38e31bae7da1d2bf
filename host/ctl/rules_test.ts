// Tests of the ipvsadm-save parser (rules.ts): the save format of spec
// ipvs-control-plane.md §3.2, ipvsadm's defaults and quirks (§1.1, §1.5, §2), its exact
// messages, and the features this engine refuses by name.
import assert from "node:assert/strict";
import {
  AF_INET,
  AF_INET6,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  IP_VS_SVC_F_SCHED1,
  IPPROTO_TCP,
  IPPROTO_UDP,
  SCHED_RR,
  SCHED_WLC,
  SCHED_WRR,
} from "../engine/abi.gen.ts";
import { formatIp } from "./addr.ts";
import { EXIT_KERNEL, EXIT_PARSE, EXIT_USAGE, IpvsError } from "./errors.ts";
import {
  type DestRule,
  formatDest,
  formatService,
  parseRules,
  type Rule,
  serviceKey,
  type ServiceRule,
} from "./rules.ts";

const one = (line: string): Rule => {
  const r = parseRules(line);
  assert.equal(r.length, 1);
  return r[0];
};
const svcOf = (line: string) => (one(line) as ServiceRule).service;
const destOf = (line: string) => (one(line) as DestRule).dest;

/** Asserts that `text` fails with exactly `message` (and, if given, that exit status). */
function rejects(text: string, message: string, status?: number): void {
  assert.throws(
    () => parseRules(text),
    (e: unknown) => {
      assert.ok(e instanceof IpvsError, String(e));
      assert.equal(e.message, message);
      if (status !== undefined) assert.equal(e.status, status, message);
      return true;
    },
  );
}

Deno.test("parseRules() reads ipvsadm -S -n output of every supported kind", () => {
  const text = [
    "-A -t 198.18.0.1:80 -s wlc",
    "-a -t 198.18.0.1:80 -r 198.18.1.1:8080 -m -w 0",
    "-a -t 198.18.0.1:80 -r 198.18.1.2:80 -m -w 1",
    "-A -t 198.18.0.1:443 -s rr",
    "-a -t 198.18.0.1:443 -r 198.18.1.5:443 -g -w 100",
    "-a -t 198.18.0.1:443 -r 198.18.1.6:443 -i -w 50 --tun-type ipip",
    "-A -u 198.18.0.2:53 -s rr -b flag-1",
    "-A -t [2001:2::1]:80 -s wrr",
    "-a -t [2001:2::1]:80 -r 198.18.2.9:80 -i -w 1 --tun-type ipip",
    "-a -t [2001:2::1]:80 -r [2001:2:1::a]:80 -m -w 2",
    "-A -f 1 -s wrr",
    "-a -f 1 -r 198.18.20.1:0 -m -w 3",
    "-A -f 2 -6 -s rr",
    "-a -f 2 -6 -r [2001:2::10]:0 -g -w 1",
    "",
  ].join("\n");
  const rules = parseRules(text);
  assert.equal(rules.length, 14);
  assert.deepEqual(rules.map((r) => r.line), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);

  const s0 = (rules[0] as ServiceRule).service;
  assert.deepEqual(
    { ...s0, addr: formatIp(s0.addr) },
    {
      af: AF_INET,
      protocol: IPPROTO_TCP,
      addr: "198.18.0.1",
      port: 80,
      fwmark: 0,
      sched: SCHED_WLC,
      flags: 0,
      timeout: 0,
      netmask: 0xffffffff,
    },
  );
  const d1 = (rules[1] as DestRule).dest;
  assert.deepEqual(
    { ...d1, addr: formatIp(d1.addr) },
    {
      af: AF_INET,
      addr: "198.18.1.1",
      port: 8080,
      fwd: IP_VS_CONN_F_MASQ,
      weight: 0,
      uThreshold: 0,
      lThreshold: 0,
      tunType: 0,
      tunPort: 0,
      tunFlags: 0,
    },
  );
  assert.equal(serviceKey((rules[1] as DestRule).service), serviceKey(s0));
  assert.equal((rules[4] as DestRule).dest.fwd, IP_VS_CONN_F_DROUTE);
  assert.equal((rules[5] as DestRule).dest.fwd, IP_VS_CONN_F_TUNNEL);
  const udp = (rules[6] as ServiceRule).service;
  assert.equal(udp.protocol, IPPROTO_UDP);
  assert.equal(udp.flags, IP_VS_SVC_F_SCHED1);
  assert.equal((rules[7] as ServiceRule).service.sched, SCHED_WRR);
  assert.equal((rules[7] as ServiceRule).service.netmask, 128);
  // A mixed-family tunnel dest: IPv4 real server of an IPv6 service.
  assert.equal((rules[8] as DestRule).dest.af, AF_INET);
  assert.equal(formatService((rules[9] as DestRule).service), "[2001:2::1]:80/tcp");
  assert.equal(formatDest((rules[9] as DestRule).dest), "[2001:2:1::a]:80");
  const fw = (rules[10] as ServiceRule).service;
  assert.deepEqual([fw.af, fw.fwmark, fw.protocol, fw.port, fw.addr.length], [AF_INET, 1, 0, 0, 4]);
  assert.equal(formatService(fw), "fwmark 1");
  const fw6 = (rules[12] as ServiceRule).service;
  assert.deepEqual([fw6.af, fw6.fwmark, fw6.addr.length, fw6.netmask], [AF_INET6, 2, 16, 128]);
  assert.equal(formatService(fw6), "fwmark 2/ipv6");
  assert.notEqual(serviceKey(fw), serviceKey({ ...fw, fwmark: 2 }));
  assert.equal(serviceKey((rules[13] as DestRule).service), serviceKey(fw6));
  assert.equal((rules[13] as DestRule).dest.port, 0);
});

Deno.test("parseRules() skips blank and # lines, drops the word ipvsadm, and takes CRLF and tabs", () => {
  const rules = parseRules(
    "# ipvsadm.rules\r\n\r\n   \nipvsadm -A\t-t 198.18.0.1:80 -s rr\r\n  # indented comment\n-a -t 198.18.0.1:80 -r 198.18.1.1 -m",
  );
  assert.equal(rules.length, 2);
  assert.deepEqual(rules.map((r) => r.line), [4, 6]);
});

Deno.test("parseRules() takes long options, = values, attached short values and bundles", () => {
  const a = svcOf("--add-service --tcp-service=198.18.0.1:80 --scheduler=rr");
  const b = svcOf("-A -t198.18.0.1:80 -srr");
  for (const s of [a, b]) {
    assert.equal(s.sched, SCHED_RR);
    assert.equal(s.port, 80);
  }
  const d = destOf("-a -t 198.18.0.1:80 -r198.18.1.1:8080 -mw5");
  assert.deepEqual([d.fwd, d.weight, d.port], [IP_VS_CONN_F_MASQ, 5, 8080]);
  // --sort is accepted with any command and does nothing.
  assert.equal(svcOf("-A -t 198.18.0.1:80 --sort").sched, SCHED_WLC);
});

Deno.test("parseRules() fills ipvsadm's defaults: wlc, direct routing, weight 1", () => {
  assert.equal(svcOf("-A -t 198.18.0.1:80").sched, SCHED_WLC);
  assert.equal(svcOf("-A -t 198.18.0.1:80 --scheduler=").sched, SCHED_WLC);
  const d = destOf("-a -t 198.18.0.1:80 -r 198.18.1.1");
  assert.deepEqual([d.fwd, d.weight, d.port, d.uThreshold, d.lThreshold], [
    IP_VS_CONN_F_DROUTE,
    1,
    80,
    0,
    0,
  ]);
});

Deno.test("parseRules() forces the virtual port on DR and TUN real servers of non-fwmark services", () => {
  assert.equal(destOf("-a -t 198.18.0.1:80 -r 198.18.1.5:8080").port, 80);
  assert.equal(destOf("-a -t 198.18.0.1:80 -r 198.18.1.5:8080 -g").port, 80);
  assert.equal(destOf("-a -t 198.18.0.1:80 -r 198.18.1.5:8080 -i").port, 80);
  assert.equal(destOf("-a -t 198.18.0.1:80 -r 198.18.1.5:8080 -m").port, 8080);
  // fwmark services keep what was typed, 0 if nothing.
  assert.equal(destOf("-a -f 7 -r 198.18.1.5:8080 -g").port, 8080);
  assert.equal(destOf("-a -f 7 -r 198.18.1.5 -g").port, 0);
});

Deno.test("parseRules() gives -r without a port the service port parsed before it", () => {
  assert.equal(destOf("-a -t 198.18.0.1:80 -r 198.18.1.5 -m").port, 80);
  // -r before -t: the service port is still 0 (ipvsadm §1.1).
  assert.equal(destOf("-a -r 198.18.1.5 -t 198.18.0.1:80 -m").port, 0);
});

Deno.test("parseRules() reads fwmarks in unsigned and Debian's signed form", () => {
  assert.equal(svcOf("-A -f 4294967295 -s rr").fwmark, 4294967295);
  assert.equal(svcOf("-A -f -1 -s rr").fwmark, 4294967295);
});

Deno.test("parseRules() reads -M as a mask for IPv4 and a prefix length for IPv6", () => {
  assert.equal(svcOf("-A -t 198.18.0.1:80 -M 255.255.255.0").netmask, 0xffffff00);
  // inet_aton: "-M 24" is 0.0.0.24 (an ipvsadm quirk kept on purpose).
  assert.equal(svcOf("-A -t 198.18.0.1:80 -M 24").netmask, 24);
  assert.equal(svcOf("-A -t [2001:2::1]:80 -M 64").netmask, 64);
});

Deno.test("parseRules() reports ipvsadm's own messages with the line number", () => {
  const V = "-A -t 198.18.0.1:80";
  const R = "-a -t 198.18.0.1:80 -r 198.18.1.1";
  const rows: [string, string, number?][] = [
    [
      `${V} -r 198.18.1.1`,
      "Illegal 'real-server' option with the 'add-service' command",
      EXIT_USAGE,
    ],
    ["-A -s rr", "You need to supply the 'service-address' option for the 'add-service' command"],
    [
      "-a -t 198.18.0.1:80",
      "You need to supply the 'real-server' option for the 'add-server' command",
    ],
    [`${R} -s rr`, "Illegal 'scheduler' option with the 'add-server' command"],
    [`${V} -n`, "Illegal 'numeric' option with the 'add-service' command"],
    [`${R} -w 1 -w 2`, "multiple 'weight' options specified"],
    [`${R} -g -m`, "multiple 'forwarding-method' options specified"],
    [`${V} -u 198.18.0.1:53`, "multiple 'service-address' options specified"],
    [`${R} -w 1x`, "illegal weight specified"],
    [`${R} -w 2147483648`, "illegal weight specified"],
    [`${R} -x -1`, "illegal u_threshold specified"],
    [`${R} -y z`, "illegal l_threshold specified"],
    [
      "-A -t 1",
      "illegal virtual server address[:port] specified (a host made only of digits is not an address)",
    ],
    [
      `-a -t 198.18.0.1:80 -r 198.18.1.1:99999`,
      "illegal real server address[:port] specified (port 99999 is out of range)",
    ],
    ["-A -t 198.18.0.1", "Zero port specified for non-persistent service"],
    [`${V} -o`, "One-Packet Scheduling is only for UDP virtual services"],
    [`${V} -b sh-port`, "incompatible scheduler flag `sh-port'"],
    [`${V} -b foo`, "invalid scheduler flag `foo'"],
    [`${V} -b ,`, "invalid scheduler flag `,'"],
    [`${V} -6`, "-6 used before -f"],
    ["-A -f 0", "invalid fwmark value `0' specified"],
    ["-A -f 4294967296", "invalid fwmark value `4294967296' specified"],
    [`${V} -M foo`, "illegal virtual server persistent mask specified"],
    ["-A -t [2001:2::1]:80 -M 200", "illegal ipv6 netmask specified"],
    [`${V} -p 0`, "invalid timeout value `0' specified"],
    [
      "-a -t 198.18.0.1:80 -r [2001:2::1]:80 -m",
      "Different address family is allowed only for tunneling servers",
    ],
    [`${R} -m --tun-type ipip`, "Tunnel options conflict with forward method"],
    [
      `${R} -i --tun-type gue`,
      "You need to supply the 'tun-port' option for the 'gue' tunnel type",
    ],
    [`${R} -i --tun-csum`, "Illegal 'tun-csum' option with the 'ipip' tunnel type"],
    [`${R} -i --tun-type gre --tun-port 1`, "Illegal 'tun-port' option with the 'gre' tunnel type"],
    [
      `${R} -i --tun-type gue --tun-port 1 --tun-csum --tun-remcsum`,
      "The option 'tun-remcsum' conflicts with the 'tun-csum' option in the 'gue' tunnel type",
    ],
    [`${R} -i --tun-type foo`, "illegal tunnel type specified"],
    [`${R} -i --tun-port 0`, "illegal tunnel port specified"],
    [`${V} extra`, "unexpected argument extra"],
    [`${V} # trailing comment`, "unexpected argument #"],
    [`${V} -L`, "invalid option `-L'"],
    [`${V} -q`, "-q: unknown option", EXIT_PARSE],
    [`${V} --foo`, "--foo: unknown option", EXIT_PARSE],
    [`${V} -s`, "-s: missing argument", EXIT_PARSE],
    [`${V} --ops=1`, "--ops=1: option does not take an argument", EXIT_PARSE],
    [
      "-n -A -t 198.18.0.1:80",
      "Try `ipvsadm -h' or 'ipvsadm --help' for more information. (a line must start with a command)",
      EXIT_PARSE,
    ],
    [
      "foo",
      "Try `ipvsadm -h' or 'ipvsadm --help' for more information. (a line must start with a command)",
      EXIT_PARSE,
    ],
    [
      "-D -t 198.18.0.1:80",
      "the 'delete-service' command is not accepted in a rules file (replay takes -A and -a lines, as ipvsadm -S -n prints them)",
    ],
  ];
  for (const [line, message, status] of rows) {
    rejects(`-A -t 198.18.9.9:80\n\n${line}\n`, `line 3: ${message}`, status);
  }
});

Deno.test("parseRules() takes an SCTP service now that both engines implement it", () => {
  assert.equal(svcOf("-A --sctp-service 198.18.0.1:80 -s rr").protocol, 132);
});

Deno.test("parseRules() refuses by name what IPVS has but this engine does not", () => {
  const V = "-A -t 198.18.0.1:80";
  const R = "-a -t 198.18.0.1:80 -r 198.18.1.1";
  rejects(
    `${V} -s none`,
    "line 1: scheduler 'none' is not supported by this engine yet",
    EXIT_KERNEL,
  );
  rejects(
    `${V} -s foo`,
    "line 1: Cannot add service 198.18.0.1:80/tcp: scheduler 'foo' not found",
    EXIT_KERNEL,
  );
  rejects(
    `${V} --pe sip`,
    "line 1: persistence engine 'sip' (--pe) is not supported by this engine yet",
  );
  rejects(
    `${R} -i --tun-type gue --tun-port 6080`,
    "line 1: tunnel type 'gue' is not supported by this engine yet",
  );
  rejects(
    `${R} -i --tun-type gre --tun-csum`,
    "line 1: tunnel type 'gre' is not supported by this engine yet",
  );
});
