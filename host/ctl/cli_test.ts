// Tests of the argv parser (cli.ts) beyond the corpus: option order effects, defaults of
// -E/-e, named ports and hosts through a resolver, and the parsed values themselves.
import assert from "node:assert/strict";
import { AF_INET6, IP_VS_CONN_F_DROUTE, IP_VS_SVC_F_PERSISTENT } from "../engine/abi.gen.ts";
import { parseCommand } from "./cli.ts";
import { IpvsError } from "./errors.ts";

const words = (line: string) => line.split(" ");

function fails(line: string, text: string, status = 2): void {
  assert.throws(() => parseCommand(words(line)), (e: unknown) => {
    assert.ok(e instanceof IpvsError);
    assert.equal(e.text, text, line);
    assert.equal(e.status, status, line);
    return true;
  });
}

Deno.test("parseCommand() reads -M by the family of the service parsed before it", () => {
  const c = parseCommand(words("-A -M 64 -t [2001:db8::1]:80 -p"));
  assert.ok(c.cmd === "add-service");
  assert.equal(c.service.af, AF_INET6);
  assert.equal(c.service.netmask, 128, "the IPv6 address reset the mask parsed before it");
  const d = parseCommand(words("-A -t [2001:db8::1]:80 -p -M 64"));
  assert.ok(d.cmd === "add-service" && d.service.netmask === 64);
  assert.ok((d.service.flags & IP_VS_SVC_F_PERSISTENT) && d.service.timeout === 360);
});

Deno.test("parseCommand() gives -p its optional value only when attached or not an option", () => {
  const t = (line: string) => {
    const c = parseCommand(words(line));
    return c.cmd === "add-service" ? c.service.timeout : -1;
  };
  assert.equal(t("-A -t 10.0.0.1:80 -p 60"), 60);
  assert.equal(t("-A -t 10.0.0.1:80 -p60"), 60);
  assert.equal(t("-A -t 10.0.0.1:80 --persistent=60"), 60);
  assert.equal(t("-A -t 10.0.0.1:80 -p -s rr"), 360);
  assert.equal(t("-A -t 10.0.0.1:0 -p"), 360);
});

Deno.test("parseCommand() fills -e's defaults: direct routing, weight 1, no thresholds", () => {
  const c = parseCommand(words("-e -t 10.0.0.1:80 -r 10.0.1.1:8080"));
  assert.ok(c.cmd === "edit-server");
  assert.deepEqual([c.dest.fwd, c.dest.weight, c.dest.uThreshold, c.dest.port], [
    IP_VS_CONN_F_DROUTE,
    1,
    0,
    80,
  ]);
});

Deno.test("parseCommand() looks named ports up under the protocol of the service before them", () => {
  const resolver = {
    serviceToPort: (n: string, p: string) =>
      n === "domain" && p === "udp" ? 53 : n === "http" && p === "tcp" ? 80 : null,
    hostToAddr: (n: string) => n === "lb.example" ? Uint8Array.of(198, 18, 0, 9) : null,
  };
  const c = parseCommand(words("-A -u lb.example:domain"), { resolver });
  assert.ok(
    c.cmd === "add-service" && c.service.port === 53 && c.service.addr.join(".") === "198.18.0.9",
  );
  assert.throws(
    () => parseCommand(words("-a -r 10.0.1.1:http -t 10.0.0.1:80"), { resolver }),
    { message: /illegal real server address\[:port\] specified/ },
  );
});

Deno.test("parseCommand() takes bundles, attached values, = values and the -L view options", () => {
  const c = parseCommand(words("-Lnc"));
  assert.ok(c.cmd === "list" && c.view === "connections" && c.format.numeric);
  const s = parseCommand(words("-A -t10.0.0.1:80 -srr"));
  assert.ok(s.cmd === "add-service" && s.service.schedName === "rr");
  const l = parseCommand(words("-L --stats --rate --exact -t 10.0.0.1:80"));
  assert.ok(
    l.cmd === "list" && l.view === "services" && l.service && l.format.stats && l.format.rate,
  );
  assert.deepEqual(parseCommand(words("-l --timeout")), {
    cmd: "list",
    view: "timeout",
    format: { ...l.format, stats: false, rate: false, exact: false },
  });
});

Deno.test("parseCommand() cuts scheduler names at 15 characters and treats -s '' as wlc", () => {
  const c = parseCommand(["-A", "-t", "10.0.0.1:80", "-s", "abcdefghijklmnopq"]);
  assert.ok(c.cmd === "add-service" && c.service.schedName === "abcdefghijklmno");
  const d = parseCommand(["-A", "-t", "10.0.0.1:80", "-s", ""]);
  assert.ok(d.cmd === "add-service" && d.service.schedName === "wlc");
});

Deno.test("parseCommand() reports the first error ipvsadm reports when there are several", () => {
  // Parse errors come in option order, before the command's option check.
  fails("-D -t 10.0.0.1:80 -w x", "illegal weight specified");
  fails("-D -t 10.0.0.1:80 -b foo -r 10.0.0.2", "invalid scheduler flag `foo'");
  fails(
    "-D -w 1 -r 10.0.0.2",
    "You need to supply the 'service-address' option for the 'delete-service' command",
  );
  fails(
    "-L -t 10.0.0.1:80 -c --timeout",
    "The option 'service-address' conflicts with the 'connection' option in the 'list' command",
  );
  fails("-a -t 10.0.0.1:80 -r 10.0.0.2 -w 1 -w x", "multiple 'weight' options specified");
  fails("foo -L", "unexpected argument foo");
  fails("-L -- -n", "unexpected argument -n");
  fails("--", "Try `ipvsadm -h' or 'ipvsadm --help' for more information.", 255);
});
