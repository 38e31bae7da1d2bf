// Programs and topology of the failover test (failover_e2e_test.ts): a DR segment with a
// client, two directors (master, backup) and three real servers, plus a sync link between
// the directors; a python echo server on the real servers, a long-transfer client that
// checks every byte it gets back, and a short-connection client. Deno-specific.
import assert from "node:assert/strict";
import { wvsadm } from "../../host/wvsadm.ts";
import { type Netns, type Spawned } from "./netns.ts";
import { PYTHON, REPO } from "./topology.ts";

export const VIP = "198.18.2.100";
export const CLIENT = "198.18.2.1";
export const LB = { lb1: "198.18.2.251", lb2: "198.18.2.252" };
export const SYNC_ADDR = { lb1: "198.18.3.1", lb2: "198.18.3.2" };
export const RS = ["198.18.2.11", "198.18.2.12", "198.18.2.13"];
const MAC = {
  cl: "02:00:00:00:00:01",
  lb1: "02:00:00:00:00:f1",
  lb2: "02:00:00:00:00:f2",
  rs: (i: number) => `02:00:00:00:01:0${i + 1}`,
};

async function toBridge(
  net: Netns,
  ns: string,
  ifname: string,
  mac: string,
  br = "br0",
): Promise<void> {
  const swPort = br === "br0" ? `p-${ns}` : `p-${ns}-${ifname}`;
  await net.veth(ns, ifname, "sw", swPort, mac);
  await net.ip("sw", "link", "set", swPort, "master", br);
  try {
    await net.exec(ns, ["ethtool", "-K", ifname, "tso", "off", "gso", "off"]);
  } catch { /* no ethtool: small segments only */ }
}

/**
 *  cl ─┐                 ┌─ rs1 rs2 rs3 (VIP on lo, arp_ignore 1 / arp_announce 2)
 *      br0 (ns sw) ──────┤
 *  lb1 eth0 (director) ──┤   lb1 sync0 198.18.3.1 ══ veth ══ lb2 sync0 198.18.3.2
 *  lb2 eth0 (director) ──┘
 */
export async function buildFailover(net: Netns): Promise<void> {
  for (const n of ["cl", "lb1", "lb2", "rs1", "rs2", "rs3", "sw"]) await net.addNs(n);
  await net.ip("sw", "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
  await net.ip("sw", "link", "set", "br0", "up");
  await toBridge(net, "cl", "eth0", MAC.cl);
  await net.addr("cl", "eth0", `${CLIENT}/24`);
  for (const lb of ["lb1", "lb2"] as const) {
    await toBridge(net, lb, "eth0", MAC[lb]);
    await net.sysctl(lb, "net.ipv6.conf.eth0.disable_ipv6", 1);
  }
  // The sync link: kernel addresses, as the sync daemons use the kernel's UDP.
  await net.veth("lb1", "sync0", "lb2", "sync0");
  await net.addr("lb1", "sync0", `${SYNC_ADDR.lb1}/24`);
  await net.addr("lb2", "sync0", `${SYNC_ADDR.lb2}/24`);
  for (let i = 0; i < 3; i++) {
    const n = `rs${i + 1}`;
    await toBridge(net, n, "eth0", MAC.rs(i));
    await net.addr(n, "eth0", `${RS[i]}/24`);
    for (const k of ["all", "eth0"]) {
      await net.sysctl(n, `net.ipv4.conf.${k}.arp_ignore`, 1);
      await net.sysctl(n, `net.ipv4.conf.${k}.arp_announce`, 2);
    }
    await net.addr(n, "lo", `${VIP}/32`);
  }
}

/** NAT pair: the real servers' segment and their default gateway, which floats. */
export const NAT_RS = ["198.18.1.11", "198.18.1.12", "198.18.1.13"];
export const NAT_GW = "198.18.1.254";
export const NAT_BACK = { lb1: "198.18.1.251", lb2: "198.18.1.252" };

/**
 * The NAT pair: the DR segment's front (client, directors' eth0) and a back segment
 * (directors' eth1, real servers) on a second bridge; the real servers route through
 * NAT_GW, a floating address of whichever director serves.
 *
 *  cl, lb1 eth0, lb2 eth0 ── br0 (ns sw) │ br1 (ns sw) ── lb1 eth1, lb2 eth1, rs1..3
 */
export async function buildNatFailover(net: Netns): Promise<void> {
  for (const n of ["cl", "lb1", "lb2", "rs1", "rs2", "rs3", "sw"]) await net.addNs(n);
  for (const br of ["br0", "br1"]) {
    await net.ip("sw", "link", "add", br, "type", "bridge", "mcast_snooping", "0");
    await net.ip("sw", "link", "set", br, "up");
  }
  await toBridge(net, "cl", "eth0", MAC.cl);
  await net.addr("cl", "eth0", `${CLIENT}/24`);
  for (const lb of ["lb1", "lb2"] as const) {
    await toBridge(net, lb, "eth0", MAC[lb]);
    await toBridge(net, lb, "eth1", MAC[lb].replace(/:00:f/, ":01:f"), "br1");
    for (const i of ["eth0", "eth1"]) await net.sysctl(lb, `net.ipv6.conf.${i}.disable_ipv6`, 1);
  }
  await net.veth("lb1", "sync0", "lb2", "sync0");
  await net.addr("lb1", "sync0", `${SYNC_ADDR.lb1}/24`);
  await net.addr("lb2", "sync0", `${SYNC_ADDR.lb2}/24`);
  for (let i = 0; i < 3; i++) {
    const n = `rs${i + 1}`;
    await toBridge(net, n, "eth0", MAC.rs(i), "br1");
    await net.addr(n, "eth0", `${NAT_RS[i]}/24`);
    await net.ip(n, "route", "add", "default", "via", NAT_GW);
  }
}

const ECHO_SERVER = `
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(512)
print("listening", flush=True)
def serve(c):
    try:
        while True:
            d = c.recv(65536)
            if not d: break
            c.sendall(d)
    except OSError:
        pass
    finally:
        c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/** Starts the echo server on every real server. */
export async function startEcho(net: Netns, port: number): Promise<void> {
  await Promise.all(
    ["rs1", "rs2", "rs3"].map((n) =>
      net.spawn(n, [PYTHON, "-u", "-c", ECHO_SERVER, String(port)]).out.waitFor(/listening/, 10_000)
    ),
  );
}

/**
 * argv: vip port conns seconds rate(bytes/s per conn). Each connection sends a deterministic
 * stream at `rate` for `seconds`, reads the echo back and compares every byte, then closes
 * its sending side and waits for the rest. One JSON line per connection at the end.
 */
const LONG_CLIENT = `
import json, random, socket, sys, threading, time
vip, port, n, secs, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
BLOCK = 1 << 20
def run(i, out):
    data = random.Random(i).randbytes(BLOCK)
    r = {"id": i, "sent": 0, "recv": 0, "err": None, "maxGapMs": 0, "local": None}
    try:
        s = socket.create_connection((vip, port), timeout=30)
        s.settimeout(30)
        r["local"] = s.getsockname()[1]
        def reader():
            last = time.time()
            while True:
                try:
                    d = s.recv(65536)
                except OSError as e:
                    r["err"] = r["err"] or ("reset" if isinstance(e, ConnectionResetError) else repr(e)); return
                now = time.time(); r["maxGapMs"] = max(r["maxGapMs"], round((now - last) * 1000)); last = now
                if not d: return
                o = r["recv"] % BLOCK
                exp = (data[o:] + data)[:len(d)] if o + len(d) > BLOCK else data[o:o + len(d)]
                if d != exp:
                    r["err"] = r["err"] or "mismatch at %d" % r["recv"]; return
                r["recv"] += len(d)
        t = threading.Thread(target=reader); t.start()
        start = time.time(); chunk = 4096
        while time.time() - start < secs:
            o = r["sent"] % BLOCK
            s.sendall((data[o:] + data)[:chunk] if o + chunk > BLOCK else data[o:o + chunk])
            r["sent"] += chunk
            ahead = r["sent"] / rate - (time.time() - start)
            if ahead > 0: time.sleep(ahead)
        s.shutdown(socket.SHUT_WR)
        t.join(60)
        s.close()
    except OSError as e:
        r["err"] = r["err"] or ("reset" if isinstance(e, ConnectionResetError) else repr(e))
    out.append(r)
out = []
ts = [threading.Thread(target=run, args=(i, out)) for i in range(n)]
for t in ts: t.start(); time.sleep(0.02)
print("started", flush=True)
for t in ts: t.join()
for r in sorted(out, key=lambda r: r["id"]): print(json.dumps(r), flush=True)
`;

/**
 * argv: vip port seconds hold_ms. Opens one connection after another for `seconds`: connect,
 * send a line and read it back, wait 0.5-1.5 × `hold_ms` (random, so that loops run out of
 * step and the kill lands anywhere in a connection's life), do it again, close. One JSON line per
 * connection: start, the time its first echo came back (established and past the packet that
 * makes a master sync it), end, in ms since the epoch.
 */
const SHORT_CLIENT = `
import json, random, socket, sys, time
vip, port, secs, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]) / 1000
def echo(s, msg):
    s.sendall(msg); got = b""
    while len(got) < len(msg):
        d = s.recv(100)
        if not d: break
        got += d
    return got == msg
end = time.time() + secs; i = 0
while time.time() < end:
    t0 = time.time(); r = {"i": i, "start": round(t0 * 1000, 1), "err": None, "first": None}
    try:
        s = socket.create_connection((vip, port), timeout=10); s.settimeout(10)
        ok = echo(s, b"ping %d\\n" % i)
        r["first"] = round(time.time() * 1000, 1)
        time.sleep(hold * random.uniform(0.5, 1.5))
        ok = echo(s, b"pong %d\\n" % i) and ok
        if not ok: r["err"] = "short echo"
        s.close()
    except OSError as e:
        r["err"] = "reset" if isinstance(e, ConnectionResetError) else repr(e)
    r["end"] = round(time.time() * 1000, 1)
    print(json.dumps(r), flush=True); i += 1
`;

/** One long transfer's report (LONG_CLIENT's JSON line). */
export interface LongResult {
  id: number;
  sent: number;
  recv: number;
  err: string | null;
  maxGapMs: number;
}

/** Runs `wvsadm args` against the director on `socket`; fails the test unless it exits 0. */
export async function admOk(socket: string, ...args: string[]): Promise<string> {
  const r = await wvsadm(args, () => Promise.resolve(""), socket);
  assert.equal(r.status, 0, `wvsadm (${socket}) ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

export function startLongClient(
  net: Netns,
  port: number,
  conns: number,
  seconds: number,
  rate: number,
): Spawned {
  return net.spawn("cl", [
    PYTHON,
    "-u",
    "-c",
    LONG_CLIENT,
    VIP,
    String(port),
    String(conns),
    String(seconds),
    String(rate),
  ]);
}

export function startShortClient(
  net: Netns,
  port: number,
  seconds: number,
  holdMs: number,
): Spawned {
  return net.spawn("cl", [
    PYTHON,
    "-u",
    "-c",
    SHORT_CLIENT,
    VIP,
    String(port),
    String(seconds),
    String(holdMs),
  ]);
}

/** Starts a director from `config` in namespace `ns`; resolves once it is ready. */
export async function startDirectorIn(
  net: Netns,
  ns: string,
  config: unknown,
  echo?: (l: string) => void,
): Promise<{ proc: Spawned; configFile: string }> {
  const configFile = await Deno.makeTempFile({ prefix: `wvs-${ns}-`, suffix: ".json" });
  await Deno.writeTextFile(configFile, JSON.stringify(config, null, 2));
  const proc = net.spawn(ns, [
    "env",
    "WVS_SYNC_TRACE=1",
    Deno.execPath(),
    "run",
    "-A",
    `${REPO}host/director/main.ts`,
    "--config",
    configFile,
    "--stats-every",
    "1",
  ], echo ? (l) => echo(`${ns}: ${l}`) : undefined);
  const exited = proc.child.status.then((s) => {
    throw new Error(`Director ${ns} exited early (code ${s.code}): ${proc.err.lines.join("\n")}`);
  });
  await Promise.race([proc.out.waitFor(/^wvs director ready/, 30_000), exited]);
  exited.catch(() => {});
  return { proc, configFile };
}

/** Parses the JSON lines of a client's output. */
export function jsonLines<T>(lines: string[]): T[] {
  return lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as T);
}
