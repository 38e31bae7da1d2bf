// Tests of the control-plane model (model.ts): the kernel's refusals of -A and -a, and
// that a model leaves no trace of a refused operation.
import assert from "node:assert/strict";
import { EEXIST, EINVAL, ENOMEM, ERANGE, ESRCH, EXIT_KERNEL, IpvsError } from "./errors.ts";
import { IpvsModel } from "./model.ts";
import { parseRules } from "./rules.ts";

function fails(rules: string, errno: number, message: string, limits = {}): void {
  assert.throws(
    () => IpvsModel.fromRules(parseRules(rules), limits),
    (e: unknown) => {
      assert.ok(e instanceof IpvsError);
      assert.equal(e.errno, errno);
      assert.equal(e.message, message);
      assert.equal(e.status, EXIT_KERNEL);
      return true;
    },
  );
}

const S = "-A -t 198.18.0.1:80 -s rr";

Deno.test("IpvsModel.fromRules() keeps services, real servers and operations in file order", () => {
  const m = IpvsModel.fromRules(parseRules([
    S,
    "-A -u 198.18.0.1:53 -s wrr",
    "-a -t 198.18.0.1:80 -r 198.18.1.1:8080 -m",
    "-a -u 198.18.0.1:53 -r 198.18.1.1 -g",
    "-a -t 198.18.0.1:80 -r 198.18.1.1:8081 -m",
  ].join("\n")));
  assert.deepEqual(m.services.map((s) => s.label), ["198.18.0.1:80/tcp", "198.18.0.1:53/udp"]);
  assert.deepEqual(m.services.map((s) => s.schedName), ["rr", "wrr"]);
  assert.deepEqual(m.services[0].dests.map((d) => d.label), ["198.18.1.1:8080", "198.18.1.1:8081"]);
  assert.deepEqual(
    m.ops.map((o) => `${o.cmd} ${o.cmd === "add-server" ? o.dest.line : o.svc.line}`),
    ["add-service 1", "add-service 2", "add-server 3", "add-server 4", "add-server 5"],
  );
  assert.ok(m.services.every((s) => s.index === -1 && s.dests.every((d) => d.index === -1)));
});

Deno.test("IpvsModel refuses what the kernel refuses, with ipvsadm's text", () => {
  fails(
    `${S}\n${S}`,
    EEXIST,
    "line 2: Cannot add service 198.18.0.1:80/tcp: Service already exists",
  );
  fails(
    "-a -t 198.18.0.1:80 -r 198.18.1.1 -m",
    ESRCH,
    "line 1: Cannot add real server 198.18.1.1:80 to 198.18.0.1:80/tcp: Service not defined",
  );
  fails(
    `${S}\n-a -t 198.18.0.1:80 -r 198.18.1.1 -m\n-a -t 198.18.0.1:80 -r 198.18.1.1 -m -w 5`,
    EEXIST,
    "line 3: Cannot add real server 198.18.1.1:80 to 198.18.0.1:80/tcp: Destination already exists",
  );
  fails(
    `${S}\n-a -t 198.18.0.1:80 -r 198.18.1.1 -m -y 5`,
    ERANGE,
    "line 2: Cannot add real server 198.18.1.1:80 to 198.18.0.1:80/tcp: Numerical result out of range " +
      "(lower threshold 5 is above upper threshold 0)",
  );
  for (const rs of ["224.0.0.1", "255.255.255.255", "0.0.0.0"]) {
    fails(
      `${S}\n-a -t 198.18.0.1:80 -r ${rs} -m`,
      EINVAL,
      `line 2: Cannot add real server ${rs}:80 to 198.18.0.1:80/tcp: Invalid operation: the real server address is not a unicast address`,
    );
  }
  for (const rs of ["[fe80::1]:80", "[ff02::1]:80", "[::]:80"]) {
    assert.throws(
      () =>
        IpvsModel.fromRules(
          parseRules(`-A -t [2001:2::1]:80 -s rr\n-a -t [2001:2::1]:80 -r ${rs} -m`),
        ),
      (e: IpvsError) => e.errno === EINVAL,
    );
  }
});

Deno.test("IpvsModel tells a fwmark service apart from its IPv6 twin and from address services", () => {
  fails(
    "-A -f 5 -s rr\n-a -f 5 -6 -r [2001:2::1]:0 -g",
    ESRCH,
    "line 2: Cannot add real server [2001:2::1]:0 to fwmark 5/ipv6: Service not defined",
  );
  const m = IpvsModel.fromRules(
    parseRules("-A -f 5 -s rr\n-A -f 5 -6 -s rr\n-a -f 5 -6 -r [2001:2::1]:0 -g"),
  );
  assert.equal(m.services[1].dests.length, 1);
  assert.equal(m.services[0].dests.length, 0);
});

Deno.test("IpvsModel enforces the engine's limits with ENOMEM", () => {
  fails(
    `${S}\n-A -t 198.18.0.2:80`,
    ENOMEM,
    "line 2: Cannot add service 198.18.0.2:80/tcp: the engine holds at most 1 services",
    {
      maxServices: 1,
    },
  );
  fails(
    `${S}\n-a -t 198.18.0.1:80 -r 198.18.1.1 -m\n-a -t 198.18.0.1:80 -r 198.18.1.2 -m`,
    ENOMEM,
    "line 3: Cannot add real server 198.18.1.2:80 to 198.18.0.1:80/tcp: the engine holds at most 1 real servers",
    { maxDests: 1 },
  );
});

Deno.test("IpvsModel leaves no trace of a refused operation", () => {
  const m = new IpvsModel();
  const [svc, dest] = parseRules(`${S}\n-a -t 198.18.0.1:80 -r 198.18.1.1 -m`);
  assert.ok(svc.cmd === "add-service" && dest.cmd === "add-server");
  m.addService(svc.service, svc.schedName);
  m.addDest(dest.service, dest.dest);
  assert.throws(() => m.addDest(dest.service, dest.dest));
  assert.throws(() => m.addService(svc.service, "rr"));
  assert.equal(m.ops.length, 2);
  assert.equal(m.services.length, 1);
  assert.equal(m.services[0].dests.length, 1);
});
