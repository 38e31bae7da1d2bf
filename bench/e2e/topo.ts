// The end-to-end benchmarks' testbed: baselines.md §1 (NAT mode) rebuilt with
// the test suite's namespace helpers (tests/e2e/netns.ts: names wvs<pid>b-*,
// addresses in 198.18.0.0/15 only, veths created inside namespaces, cleanup in
// `finally`). Deno-specific, root only. One testbed serves every configuration;
// only the director namespace `lb` changes between them (addresses, nft rules,
// forwarding, which program runs), so all configurations see the same links.
//
//  cl eth0 ──────── eth0 lb eth1 ──── p-lb ┐
//  198.18.0.1          VIP .0.100           ├ br0 (ns sw) ── p-rsN ── eth0 rsN 198.18.1.N
//                      .0.254 | .1.254 ─────┘                         default via .1.254
//
// Static neighbours and static bridge FDB entries (pitfall 2: in a UDP sink
// test the real servers never transmit, so the bridge would flood) keep ARP out
// of the measurements; IPv6 is off everywhere. Each real server drops UDP to
// port 9000 at netdev ingress (the counted sink) and runs nginx on :80, an
// iperf3 server on :5201 and a UDP echo on :7007 for latency probes.
import { Netns } from "../../tests/e2e/netns.ts";

export const MAC = {
  cl: "02:00:00:00:00:01",
  lbFront: "02:00:00:00:00:fe",
  lbBack: "02:00:00:00:01:fe",
  rs: (i: number): string => `02:00:00:00:01:0${i + 1}`,
};
export const CLIENT = "198.18.0.1";
export const VIP = "198.18.0.100";
export const LB_FRONT = "198.18.0.254";
export const LB_BACK = "198.18.1.254";
export const RS = ["198.18.1.1", "198.18.1.2", "198.18.1.3"];
export const RS_NS = ["rs1", "rs2", "rs3"];
/** UDP sink port (dropped and counted at the real servers' ingress). */
export const SINK_PORT = 9000;
/** UDP echo port for latency probes. */
export const ECHO_PORT = 7007;
export const HTTP_PORT = 80;
export const IPERF_PORT = 5201;

const NGINX_CONF = (dir: string) => `
daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log stderr;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
  access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir};
  fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  keepalive_requests 1000000;
  server { listen ${HTTP_PORT} reuseport backlog=4096; root ${dir}; }
}`;

const UDP_ECHO = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("listening", flush=True)
while True:
    d, a = s.recvfrom(2048)
    s.sendto(d, a)
`;

export class BenchNet {
  readonly net: Netns = new Netns("b");

  /** Runs `sh -c script` in namespace `ns`. */
  sh(ns: string, script: string, timeoutMs = 10_000) {
    return this.net.exec(ns, ["sh", "-c", script], { timeoutMs });
  }

  async build(): Promise<void> {
    const n = this.net;
    for (const ns of ["cl", "lb", "sw", ...RS_NS]) {
      await n.addNs(ns);
      await n.sysctl(ns, "net.ipv6.conf.all.disable_ipv6", 1);
      await n.sysctl(ns, "net.ipv6.conf.default.disable_ipv6", 1);
    }
    // A plain switch: no bridge netfilter (br_netfilter may be loaded on the host; this
    // namespace's copy of its switches is turned off), so the shared downstream cost is small.
    for (const t of ["iptables", "ip6tables", "arptables"]) {
      await this.sh("sw", `sysctl -qw net.bridge.bridge-nf-call-${t}=0 2>/dev/null || true`);
    }
    await n.ip("sw", "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
    await n.ip("sw", "link", "set", "br0", "up");
    await n.veth("cl", "eth0", "lb", "eth0", MAC.cl, MAC.lbFront);
    await n.veth("lb", "eth1", "sw", "p-lb", MAC.lbBack);
    await n.ip("sw", "link", "set", "p-lb", "master", "br0");
    await this.sh("sw", `bridge fdb replace ${MAC.lbBack} dev p-lb master static`);
    await n.addr("cl", "eth0", `${CLIENT}/24`);
    for (const a of [VIP, LB_FRONT]) {
      await n.ip(
        "cl",
        "neigh",
        "replace",
        a,
        "lladdr",
        MAC.lbFront,
        "dev",
        "eth0",
        "nud",
        "permanent",
      );
    }
    await n.ip("cl", "route", "add", "198.18.1.0/24", "via", LB_FRONT);
    for (let i = 0; i < 3; i++) {
      const ns = RS_NS[i];
      await n.veth(ns, "eth0", "sw", `p-${ns}`, MAC.rs(i));
      await n.ip("sw", "link", "set", `p-${ns}`, "master", "br0");
      await this.sh("sw", `bridge fdb replace ${MAC.rs(i)} dev p-${ns} master static`);
      await n.addr(ns, "eth0", `${RS[i]}/24`);
      await n.ip(ns, "route", "add", "default", "via", LB_BACK);
      await n.ip(
        ns,
        "neigh",
        "replace",
        LB_BACK,
        "lladdr",
        MAC.lbBack,
        "dev",
        "eth0",
        "nud",
        "permanent",
      );
      await this.sh(
        ns,
        `nft -f - <<'EOF'
table netdev wvsbench {
  chain in { type filter hook ingress device eth0 priority 0; udp dport ${SINK_PORT} counter drop; }
}
EOF`,
      );
    }
    // Like a NIC, and the same for every configuration: the director path takes frames up to
    // MAX_FRAME, so the hosts cut segments to the MTU themselves (TSO/GSO off).
    for (const ns of ["cl", ...RS_NS]) {
      await this.sh(ns, "ethtool -K eth0 tso off gso off >/dev/null 2>&1 || true");
    }
  }

  /** nginx, iperf3 -s, UDP echo on every real server. */
  async startServers(): Promise<void> {
    for (const ns of RS_NS) {
      const dir = await this.net.tempDir(`wvs-bench-${ns}-`);
      await Deno.writeTextFile(`${dir}/index.html`, `${ns}\n`);
      await Deno.writeTextFile(`${dir}/nginx.conf`, NGINX_CONF(dir));
      this.net.spawn(ns, ["nginx", "-c", `${dir}/nginx.conf`]);
      this.net.spawn(ns, ["iperf3", "-s", "-p", String(IPERF_PORT)]);
      await this.net.spawn(ns, ["python3", "-u", "-c", UDP_ECHO, String(ECHO_PORT)]).out
        .waitFor(/listening/, 10_000);
    }
    for (const ns of RS_NS) {
      await this.sh(
        ns,
        `for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1/ && exit 0; sleep 0.1; done; exit 1`,
      );
    }
    await this.sh("cl", "sysctl -qw net.ipv4.ip_local_port_range='1024 65000'");
    await this.sh("cl", "sysctl -qw net.ipv4.tcp_tw_reuse=1");
  }

  /** Frames delivered to the real servers so far (sum of the bridge's tx toward them). */
  async delivered(): Promise<number> {
    const r = await this.net.exec("sw", ["ip", "-s", "-j", "link", "show"]);
    let n = 0;
    for (
      const l of JSON.parse(r.stdout) as { ifname: string; stats64: { tx: { packets: number } } }[]
    ) {
      if (l.ifname.startsWith("p-rs")) n += l.stats64.tx.packets;
    }
    return n;
  }

  /** Sets the director namespace to a clean state: no addresses, no rules, no forwarding. */
  async resetLb(): Promise<void> {
    await this.sh(
      "lb",
      `ip addr flush dev eth0; ip addr flush dev eth1; nft flush ruleset;
       sysctl -qw net.ipv4.ip_forward=0; ip neigh flush all`,
    );
  }

  /** The kernel owns the director's addresses (nft, haproxy and direct modes). */
  async kernelAddrs(forward: boolean): Promise<void> {
    await this.net.addr("lb", "eth0", `${LB_FRONT}/24`);
    await this.net.addr("lb", "eth0", `${VIP}/32`);
    await this.net.addr("lb", "eth1", `${LB_BACK}/24`);
    await this.sh("lb", `sysctl -qw net.ipv4.ip_forward=${forward ? 1 : 0}`);
    // Static neighbours, as the user-space director's are (they never expire during a run).
    await this.sh(
      "lb",
      `ip neigh replace ${CLIENT} lladdr ${MAC.cl} dev eth0 nud permanent; ` +
        RS.map((a, i) => `ip neigh replace ${a} lladdr ${MAC.rs(i)} dev eth1 nud permanent`)
          .join("; "),
    );
  }

  /** Kernel DNAT load balancing the kube-proxy way: `numgen inc mod 3` over the real servers. */
  async nftDnat(): Promise<void> {
    const map = RS.map((a, i) => `${i} : ${a}`).join(", ");
    await this.sh(
      "lb",
      `nft -f - <<'EOF'
table ip wvsbench {
  chain pre {
    type nat hook prerouting priority dstnat;
    ip daddr ${VIP} tcp dport ${IPERF_PORT} dnat to ${RS[0]}
    ip daddr ${VIP} meta l4proto { tcp, udp } dnat to numgen inc mod 3 map { ${map} }
  }
}
EOF`,
    );
  }

  /**
   * GRO on the director's client-facing veth with threaded NAPI, so receive
   * processing runs in a kthread that can be pinned (baselines.md §2, pitfall 3);
   * returns the kthread's PID. `gro` false turns GRO off on both ports (TCP tests).
   */
  async lbOffloads(gro: boolean): Promise<number | null> {
    for (const ifname of ["eth0", "eth1"]) {
      await this.sh("lb", `ethtool -K ${ifname} gro ${gro ? "on" : "off"} >/dev/null 2>&1 || true`);
    }
    if (!gro) return null;
    const before = napiThreads();
    await this.sh("lb", "echo 1 > /sys/class/net/eth0/threaded");
    const after = napiThreads();
    const pid = [...after.keys()].find((p) =>
      !before.has(p) && after.get(p)!.startsWith("napi/eth0")
    );
    return pid ?? [...after.entries()].find(([, c]) => c.startsWith("napi/eth0"))?.[0] ?? null;
  }

  cleanup(): Promise<void> {
    return this.net.cleanup();
  }
}

/** PID → comm of every `napi/*` kernel thread. */
export function napiThreads(): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const comm = Deno.readTextFileSync(`/proc/${e.name}/comm`).trim();
      if (comm.startsWith("napi/")) out.set(Number(e.name), comm);
    } catch { /* gone */ }
  }
  return out;
}
