// The end-to-end testbeds (baselines.md §1, reduced): a client, a director and
// three real servers in namespaces, either NAT-style (client | director | back
// segment) or one shared segment (DR, TUN). Deno-specific. Also starts the
// real-server programs (python3 http.server, a UDP echo), the director itself
// as a subprocess in its namespace, and curl from the client.
//
//  nat:  cl eth0 ── eth0 lb eth1 ── br0 (ns sw) ── eth0 rs1..3
//        198.18.0.1    (director owns .0.254 and .1.254)    198.18.1.1-3, default via .1.254
//        2001:2::1     (2001:2::fe, 2001:2:0:1::fe)         2001:2:0:1::1-3, default via ::fe
//  seg:  cl, lb, rs1..3 all on br0: cl 198.18.2.1, director 198.18.2.254, rs 198.18.2.11-13
import type { DirectorConfig, PortConfig } from "../../host/director/config.ts";
import { haveCommand, type Netns, type Spawned } from "./netns.ts";

export const REPO = new URL("../../", import.meta.url).pathname;
export const PYTHON = "/usr/bin/python3";

export interface RealServer {
  name: string;
  addr4: string;
  addr6?: string;
}

export interface Topology {
  kind: "nat" | "seg";
  /** False when ethtool is missing: peers then send TSO super-frames and bulk TCP stalls. */
  bulkOk: boolean;
  client4: string;
  client6?: string;
  /** Director ports for its config (interfaces in namespace lb). */
  ports: PortConfig[];
  rs: RealServer[];
  vip4: string;
  vip6?: string;
}

const MAC = {
  client: "02:00:00:00:00:01",
  lbFront: "02:00:00:00:00:fe",
  lbBack: "02:00:00:00:01:fe",
  rs: (i: number) => `02:00:00:00:01:0${i + 1}`,
};

async function bridge(net: Netns): Promise<void> {
  await net.addNs("sw");
  // Snooping off: with no MLD querier it could hold back solicited-node multicast.
  await net.ip("sw", "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
  await net.ip("sw", "link", "set", "br0", "up");
}

async function toBridge(
  net: Netns,
  ns: string,
  ifname: string,
  swPort: string,
  mac: string,
): Promise<void> {
  await net.veth(ns, ifname, "sw", swPort, mac);
  await net.ip("sw", "link", "set", swPort, "master", "br0");
}

const HAVE_ETHTOOL = haveCommand("ethtool");

/**
 * A veth hands locally built TSO/GSO super-frames to its peer unsegmented; a
 * real NIC would cut them to the MTU before the wire. Without this the
 * director sees 64 KB "frames" (rxOversize) on bulk transfers. Transmit
 * checksum offload stays on, so the director's CHECKSUM_PARTIAL fix-up is
 * exercised by every test.
 */
async function segmentLikeANic(net: Netns, ns: string, ifname: string): Promise<void> {
  if (HAVE_ETHTOOL) await net.exec(ns, ["ethtool", "-K", ifname, "tso", "off", "gso", "off"]);
}

/** The kernel in the director's namespace must stay out of the way: no IPv6, no addresses, no forwarding. */
async function quietDirectorPort(net: Netns, ifname: string): Promise<void> {
  await net.sysctl("lb", `net.ipv6.conf.${ifname}.disable_ipv6`, 1);
}

/**
 * Client | director | back segment with three real servers (NAT). With
 * `tapFront` the client link is left out: the director creates a TAP named
 * `tapFront` for it, and `attachTapClient` moves it to the client afterwards.
 */
export async function buildNat(net: Netns, ipv6 = true, tapFront?: string): Promise<Topology> {
  for (const n of ["cl", "lb", "rs1", "rs2", "rs3"]) await net.addNs(n);
  await bridge(net);
  await net.veth("lb", "eth1", "sw", "p-lb", MAC.lbBack);
  await net.ip("sw", "link", "set", "p-lb", "master", "br0");
  await quietDirectorPort(net, "eth1");
  if (!tapFront) {
    await net.veth("cl", "eth0", "lb", "eth0", MAC.client, MAC.lbFront);
    await quietDirectorPort(net, "eth0");
    await segmentLikeANic(net, "cl", "eth0");
    await net.addr("cl", "eth0", "198.18.0.1/24");
    if (ipv6) await net.addr("cl", "eth0", "2001:2::1/64");
  }
  const rs: RealServer[] = [];
  for (let i = 0; i < 3; i++) {
    const n = `rs${i + 1}`;
    await toBridge(net, n, "eth0", `p-${n}`, MAC.rs(i));
    await segmentLikeANic(net, n, "eth0");
    await net.addr(n, "eth0", `198.18.1.${i + 1}/24`);
    await net.ip(n, "route", "add", "default", "via", "198.18.1.254");
    if (ipv6) {
      await net.addr(n, "eth0", `2001:2:0:1::${i + 1}/64`);
      await net.ip(n, "-6", "route", "add", "default", "via", "2001:2:0:1::fe");
    }
    rs.push({
      name: n,
      addr4: `198.18.1.${i + 1}`,
      addr6: ipv6 ? `2001:2:0:1::${i + 1}` : undefined,
    });
  }
  return {
    kind: "nat",
    bulkOk: HAVE_ETHTOOL,
    client4: "198.18.0.1",
    client6: ipv6 ? "2001:2::1" : undefined,
    ports: [
      tapFront
        ? { ifname: tapFront, backend: "tap", mac: MAC.lbFront, addrs: ["198.18.0.254/24"] }
        : { ifname: "eth0", addrs: ["198.18.0.254/24", ...(ipv6 ? ["2001:2::fe/64"] : [])] },
      { ifname: "eth1", addrs: ["198.18.1.254/24", ...(ipv6 ? ["2001:2:0:1::fe/64"] : [])] },
    ],
    rs,
    vip4: "198.18.0.100",
    vip6: ipv6 ? "2001:2::100" : undefined,
  };
}

/**
 * One segment for client, director and real servers (DR and TUN). With
 * `vipOnLo` the real servers hold the VIP on lo and never answer ARP for it
 * (arp_ignore=1, arp_announce=2), as IPVS-DR requires.
 */
export async function buildSegment(net: Netns, vipOnLo: boolean): Promise<Topology> {
  const vip4 = "198.18.2.100";
  for (const n of ["cl", "lb", "rs1", "rs2", "rs3"]) await net.addNs(n);
  await bridge(net);
  await toBridge(net, "cl", "eth0", "p-cl", MAC.client);
  await toBridge(net, "lb", "eth0", "p-lb", MAC.lbFront);
  await quietDirectorPort(net, "eth0");
  await segmentLikeANic(net, "cl", "eth0");
  await net.addr("cl", "eth0", "198.18.2.1/24");
  const rs: RealServer[] = [];
  for (let i = 0; i < 3; i++) {
    const n = `rs${i + 1}`;
    await toBridge(net, n, "eth0", `p-${n}`, MAC.rs(i));
    await segmentLikeANic(net, n, "eth0");
    await net.addr(n, "eth0", `198.18.2.${11 + i}/24`);
    if (vipOnLo) {
      for (const k of ["all", "eth0"]) {
        await net.sysctl(n, `net.ipv4.conf.${k}.arp_ignore`, 1);
        await net.sysctl(n, `net.ipv4.conf.${k}.arp_announce`, 2);
      }
      await net.addr(n, "lo", `${vip4}/32`);
    }
    rs.push({ name: n, addr4: `198.18.2.${11 + i}` });
  }
  return {
    kind: "seg",
    bulkOk: HAVE_ETHTOOL,
    client4: "198.18.2.1",
    ports: [{ ifname: "eth0", addrs: ["198.18.2.254/24"] }],
    rs,
    vip4,
  };
}

/**
 * Moves the director's TAP (created by the running director in lb) into the
 * client namespace: its kernel side becomes the client's interface.
 */
export async function attachTapClient(net: Netns, tap: string): Promise<void> {
  await net.ip("lb", "link", "set", tap, "netns", net.ns("cl"));
  await net.addr("cl", tap, "198.18.0.1/24");
  await net.ip("cl", "link", "set", tap, "up");
}

/**
 * Starts `python3 -m http.server` on every real server, each serving `/` (its
 * name) and `/big` (`bigBytes` random bytes, when asked for).
 */
export async function startHttpServers(
  net: Netns,
  topo: Topology,
  port: number,
  bigBytes = 0,
): Promise<void> {
  const ready: Promise<string>[] = [];
  for (const r of topo.rs) {
    const dir = await net.tempDir(`wvs-${r.name}-`);
    await Deno.writeTextFile(`${dir}/index.html`, `${r.name}\n`);
    if (bigBytes > 0) {
      const big = new Uint8Array(bigBytes);
      for (let o = 0; o < bigBytes; o += 65536) crypto.getRandomValues(big.subarray(o, o + 65536));
      await Deno.writeFile(`${dir}/big`, big);
    }
    const s = net.spawn(r.name, [
      PYTHON,
      "-u",
      "-m",
      "http.server",
      "--bind",
      "::",
      "--directory",
      dir,
      String(port),
    ]);
    ready.push(s.out.waitFor(/Serving HTTP/, 10_000));
  }
  await Promise.all(ready);
}

const NGINX_CONF = (root: string, port: number) => `
daemon off; worker_processes 1; pid ${root}/nginx.pid; error_log stderr;
events { worker_connections 256; }
http {
  access_log off; client_body_temp_path ${root}; proxy_temp_path ${root};
  fastcgi_temp_path ${root}; uwsgi_temp_path ${root}; scgi_temp_path ${root};
  server { listen ${port}; listen [::]:${port}; root ${root}; }
}`;

/** nginx on every real server, serving its name at `/`; waits until each answers. */
export async function startNginx(net: Netns, topo: Topology, port: number): Promise<void> {
  for (const r of topo.rs) {
    const dir = await net.tempDir(`wvs-nginx-${r.name}-`);
    await Deno.writeTextFile(`${dir}/index.html`, `${r.name}\n`);
    await Deno.writeTextFile(`${dir}/nginx.conf`, NGINX_CONF(dir, port));
    net.spawn(r.name, ["nginx", "-c", `${dir}/nginx.conf`]);
  }
  // nginx prints nothing when it is up: wait until every server answers.
  for (const r of topo.rs) {
    await net.exec(r.name, [
      "sh",
      "-c",
      `for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:${port}/ && exit 0; sleep 0.1; done; exit 1`,
    ]);
  }
}

const UDP_ECHO = `
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[2])))
print("listening", flush=True)
while True:
    d, a = s.recvfrom(2048)
    s.sendto(sys.argv[1].encode() + b" " + d, a)
`;

/** Starts a UDP echo on every real server that prefixes replies with its name. */
export async function startUdpEcho(net: Netns, topo: Topology, port: number): Promise<void> {
  await Promise.all(
    topo.rs.map((r) =>
      net.spawn(r.name, [PYTHON, "-u", "-c", UDP_ECHO, r.name, String(port)]).out.waitFor(
        /listening/,
        10_000,
      )
    ),
  );
}

/**
 * The data plane the e2e suite runs: the director's defaults, or $WVS_E2E_IO
 * (mmsg, ring or xdp) and $WVS_E2E_WORKERS (0 = the main thread).
 */
export function e2eDataplane(): Pick<DirectorConfig, "io" | "workers"> {
  const io = Deno.env.get("WVS_E2E_IO");
  const workers = Deno.env.get("WVS_E2E_WORKERS");
  return {
    ...(io === "ring" || io === "mmsg" || io === "xdp" ? { io } : {}),
    ...(workers !== undefined ? { workers: Number(workers) } : {}),
  };
}

/** The engine the e2e suite runs: $WVS_E2E_ENGINE, else wasm. */
export function e2eEngine(): "wasm" | "ts" {
  return Deno.env.get("WVS_E2E_ENGINE") === "ts" ? "ts" : "wasm";
}

/** The command that runs the Deno director with config file `file`. */
export function denoDirector(file: string, ...args: string[]): string[] {
  return [Deno.execPath(), "run", "-A", `${REPO}host/director/main.ts`, "--config", file, ...args];
}

/**
 * Starts the director in namespace lb and waits until it has resolved its real
 * servers. `command` builds its argv from the config file (default: the Deno director).
 */
export async function startDirector(
  net: Netns,
  config: DirectorConfig,
  echo?: (l: string) => void,
  command: (file: string) => string[] = denoDirector,
): Promise<{ proc: Spawned; configFile: string }> {
  const configFile = await Deno.makeTempFile({ prefix: "wvs-director-", suffix: ".json" });
  await Deno.writeTextFile(configFile, JSON.stringify(config, null, 2));
  const proc = net.spawn("lb", command(configFile), echo);
  const exited = proc.child.status.then((s) => {
    throw new Error(
      `Director exited early (code ${s.code}): ${
        [...proc.out.lines, ...proc.err.lines].join("\n")
      }`,
    );
  });
  await Promise.race([proc.out.waitFor(/^wvs director ready/, 30_000), exited]);
  exited.catch(() => {});
  return { proc, configFile };
}

/** Stops the director with SIGTERM; returns its exit code and final stats line. */
export async function stopDirector(net: Netns, d: { proc: Spawned; configFile: string }) {
  const status = await net.stop(d.proc, "SIGTERM", 5000);
  await Deno.remove(d.configFile).catch(() => {});
  const line = d.proc.out.lines.find((l) => l.startsWith("wvs director stats: "));
  const stats = line ? JSON.parse(line.slice("wvs director stats: ".length)) : null;
  return {
    code: status.code,
    signal: status.signal,
    stats,
    lines: d.proc.out.lines,
    errors: d.proc.err.lines,
  };
}

/** One curl result: the body's first line (a server name), the HTTP code and curl's exit code. */
export interface CurlResult {
  body: string;
  http: string;
  exit: number;
}

/**
 * Runs `n` sequential curls from namespace `ns` (one shell, so the cost is one
 * fork per request). Each is a new TCP connection; python's server closes it.
 */
export async function curlMany(
  net: Netns,
  ns: string,
  url: string,
  n: number,
): Promise<CurlResult[]> {
  const script = `for i in $(seq ${n}); do
  out=$(curl -sS -g --max-time 5 -w ' %{http_code}' '${url}' 2>/dev/null); rc=$?
  echo "$(echo "$out" | tr '\\n' ' ')|$rc"
done`;
  const r = await net.exec(ns, ["sh", "-c", script], { timeoutMs: n * 6000 + 5000 });
  return r.stdout.trim().split("\n").map((line) => {
    const [text, rc] = line.split("|");
    const words = text.trim().split(/\s+/);
    return { body: words.length > 1 ? words[0] : "", http: words.at(-1) ?? "", exit: Number(rc) };
  });
}

/** Sends `n` UDP datagrams from `n` fresh sockets (so `n` connections) and returns the replies' first words. */
export async function udpMany(
  net: Netns,
  ns: string,
  addr: string,
  port: number,
  n: number,
  waitS = 2,
): Promise<string[]> {
  const code = `
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
for i in range(int(sys.argv[3])):
    s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(float(sys.argv[4]))
    s.sendto(b"ping %d" % i, (sys.argv[1], int(sys.argv[2])))
    try: print(s.recvfrom(2048)[0].decode().split()[0], flush=True)
    except socket.timeout: print("TIMEOUT", flush=True)
    s.close()
`;
  const r = await net.exec(ns, [PYTHON, "-c", code, addr, String(port), String(n), String(waitS)], {
    timeoutMs: n * (waitS + 1) * 1000 + 5000,
  });
  return r.stdout.trim().split("\n");
}

/** Counts of each distinct value. */
export function tally(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}
