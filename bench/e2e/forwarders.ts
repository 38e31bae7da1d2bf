// The configurations the end-to-end benchmarks compare, each as a setup of the
// director namespace `lb` on the shared testbed (topo.ts): the kernel's
// nftables DNAT (numgen inc mod 3, kube-proxy's way), HAProxy in TCP mode,
// plain kernel routing (reference), a sink, and WVS (the director, with its
// I/O options). Deno-specific. Each setup returns a handle whose `stop()`
// leaves `lb` clean for the next configuration; whatever it started is killed
// by PID (Netns.stop), never by name.
import type { DirectorConfig } from "../../host/director/config.ts";
import type { Spawned } from "../../tests/e2e/netns.ts";
import {
  type BenchNet,
  ECHO_PORT,
  HTTP_PORT,
  IPERF_PORT,
  LB_BACK,
  LB_FRONT,
  RS,
  SINK_PORT,
  VIP,
} from "./topo.ts";

const REPO = new URL("../../", import.meta.url).pathname;

export interface Running {
  /** PIDs whose CPU counts as the forwarder's (empty for kernel paths). */
  pids: number[];
  /** Frames counted as delivered by this configuration, when it is not the real servers' count. */
  delivered?: () => Promise<number>;
  /** Where clients connect for HTTP and iperf3 (the VIP, or rs1 for "direct"). */
  target: string;
  stop(): Promise<void>;
  /** Final log lines of the forwarder, if any. */
  log?: () => string[];
}

export interface WvsOptions {
  /** Absent: the director's default (one worker). */
  workers?: number;
  /** Absent: the director's default (ring). */
  io?: "mmsg" | "ring" | "xdp";
  /** CPU list for taskset (default: "1" with one worker, none otherwise). */
  cpus?: string;
  nice?: number;
  engine?: "wasm" | "ts";
  batch?: number;
  /** Extra director arguments (I/O variants). */
  args?: string[];
  /** Leave GRO as the benchmark set it (pps runs). */
  keepOffloads?: boolean;
  /** Socket receive buffer per port, bytes (the drain test's backlog). */
  rcvbuf?: number;
  /**
   * Run the director in a session of its own and give that session's autogroup
   * the same nice value. With sched_autogroup_enabled (this VM), `nice` only
   * ranks threads within their session's group, and the group as a whole
   * competes with the NAPI kthread at nice 0: CPU1 splits about 50/50 whatever
   * the director's nice value.
   */
  ownGroup?: boolean;
  /**
   * The director's own `priority` (config.ts), set by the director at start, under setsid
   * like `ownGroup` (which sets the same value from outside).
   */
  priority?: number;
  /** The director's `spinUs` (config.ts): poll on this long after the last frame, µs. */
  spinUs?: number;
}

export interface Forwarder {
  name: string;
  start(b: BenchNet): Promise<Running>;
}

/** The director's configuration for the bench services. */
export function wvsConfig(o: WvsOptions): DirectorConfig {
  const dests = (port: number, only?: number) =>
    RS.filter((_, i) => only === undefined || i === only).map((addr) => ({
      addr,
      port,
      fwd: "masq" as const,
    }));
  return {
    engine: o.engine ?? "wasm",
    batch: o.batch ?? 64,
    io: o.io,
    workers: o.workers,
    rcvbuf: o.rcvbuf,
    spinUs: o.spinUs,
    priority: o.priority,
    // Enough for a 6 s close test (~80k entries in TIME_WAIT): the engine's expiry sweep
    // scans every slot once a second, so a bigger table costs a stall per second.
    maxConns: 1 << 17,
    maxConns6: 1024,
    ports: [
      { ifname: "eth0", addrs: [`${LB_FRONT}/24`], keepOffloads: o.keepOffloads },
      { ifname: "eth1", addrs: [`${LB_BACK}/24`], keepOffloads: o.keepOffloads },
    ],
    // The testbed's client never ARPs (static neighbours): the director learns its MAC from traffic.
    services: [
      { protocol: "udp", addr: VIP, port: SINK_PORT, sched: "rr", dests: dests(SINK_PORT) },
      { protocol: "udp", addr: VIP, port: ECHO_PORT, sched: "rr", dests: dests(ECHO_PORT) },
      { protocol: "tcp", addr: VIP, port: HTTP_PORT, sched: "rr", dests: dests(HTTP_PORT) },
      { protocol: "tcp", addr: VIP, port: IPERF_PORT, sched: "rr", dests: dests(IPERF_PORT, 0) },
    ],
  };
}

export function wvs(name: string, o: WvsOptions = {}): Forwarder {
  return {
    name,
    async start(b) {
      await b.resetLb();
      // The kernel must not process what the director handles: packet sockets see frames
      // before the ingress hook, so a netdev ingress drop stops only the kernel (pitfall 8).
      await b.sh(
        "lb",
        `nft -f - <<'EOF'
table netdev wvsdrop {
  chain in0 { type filter hook ingress device eth0 priority 0; drop; }
  chain in1 { type filter hook ingress device eth1 priority 0; drop; }
}
EOF`,
      );
      const file = await b.net.tempDir("wvs-bench-cfg-").then((d) => `${d}/director.json`);
      await Deno.writeTextFile(file, JSON.stringify(wvsConfig(o)));
      // One data-plane thread shares CPU1 with NAPI (baselines.md §2); two get both CPUs.
      const cpus = o.cpus ?? ((o.workers ?? 1) <= 1 ? "1" : "");
      const cmd = [
        ...(o.ownGroup || o.priority !== undefined ? ["setsid"] : []),
        ...(cpus ? ["taskset", "-c", cpus] : []),
        "nice",
        "-n",
        String(o.nice ?? -10),
        Deno.execPath(),
        "run",
        "-A",
        // Diagnosis: V8 flags for the director, e.g. WVS_BENCH_V8=--trace-gc.
        ...(Deno.env.get("WVS_BENCH_V8") ? [`--v8-flags=${Deno.env.get("WVS_BENCH_V8")}`] : []),
        `${REPO}host/director/main.ts`,
        "--config",
        file,
        ...(o.args ?? []),
      ];
      const proc = b.net.spawn("lb", cmd);
      const exited = proc.child.status.then((s) => {
        throw new Error(
          `Director exited early (code ${s.code}): ${
            [...proc.out.lines, ...proc.err.lines].join("\n")
          }`,
        );
      });
      await Promise.race([proc.out.waitFor(/^wvs director ready/, 30_000), exited]);
      exited.catch(() => {});
      if (o.ownGroup) {
        // By now setsid() has run (the director is up): this names its own group only.
        await Deno.writeTextFile(`/proc/${proc.child.pid}/autogroup`, String(o.nice ?? -10));
      }
      return {
        pids: [proc.child.pid],
        target: VIP,
        stop: async () => {
          await b.net.stop(proc, "SIGTERM", 5000);
        },
        log: () => [...proc.out.lines, ...proc.err.lines],
      };
    },
  };
}

export const nft: Forwarder = {
  name: "nft",
  async start(b) {
    await b.resetLb();
    await b.kernelAddrs(true);
    await b.nftDnat();
    return { pids: [], target: VIP, stop: () => b.resetLb() };
  },
};

/** Kernel routing straight to rs1, no load balancing: the reference for TCP and latency. */
export const direct: Forwarder = {
  name: "direct",
  async start(b) {
    await b.resetLb();
    await b.kernelAddrs(true);
    return { pids: [], target: RS[0], stop: () => b.resetLb() };
  },
};

/** The director namespace drops the generator's frames at ingress: what reaches the director core. */
export const sink: Forwarder = {
  name: "sink",
  async start(b) {
    await b.resetLb();
    await b.sh(
      "lb",
      `nft -f - <<'EOF'
table netdev wvssink {
  chain in { type filter hook ingress device eth0 priority 0; udp dport ${SINK_PORT} counter drop; }
}
EOF`,
    );
    return {
      pids: [],
      target: VIP,
      delivered: async () => {
        const r = await b.sh("lb", "nft -j list table netdev wvssink");
        const m = /"packets":\s*(\d+)/.exec(r.stdout);
        return m ? Number(m[1]) : 0;
      },
      stop: () => b.resetLb(),
    };
  },
};

const HAPROXY_CONF = (threads: number, dir: string) => `
global
  nbthread ${threads}
  maxconn 8000
  pidfile ${dir}/haproxy.pid
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
listen web
  bind ${VIP}:${HTTP_PORT}
  balance roundrobin
${RS.map((a, i) => `  server rs${i + 1} ${a}:${HTTP_PORT}`).join("\n")}
listen iperf
  bind ${VIP}:${IPERF_PORT}
  server rs1 ${RS[0]}:${IPERF_PORT}
`;

/** HAProxy in TCP mode (a full proxy: both TCP legs end in lb). */
export function haproxy(threads: number): Forwarder {
  return {
    name: `haproxy${threads}`,
    async start(b) {
      await b.resetLb();
      await b.kernelAddrs(false);
      const dir = await b.net.tempDir("wvs-bench-haproxy-");
      await Deno.writeTextFile(`${dir}/haproxy.cfg`, HAPROXY_CONF(threads, dir));
      // -db: stay in the foreground, so the PID we hold is haproxy's own (pitfall 11).
      const proc: Spawned = b.net.spawn("lb", ["haproxy", "-db", "-f", `${dir}/haproxy.cfg`]);
      for (let i = 0; i < 50; i++) {
        const r = await b.sh("lb", `ss -ltn | grep -q '${VIP}:${HTTP_PORT}'`).catch(() => null);
        if (r) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      return {
        pids: [proc.child.pid],
        target: VIP,
        stop: async () => {
          await b.net.stop(proc, "SIGTERM", 5000);
          await b.resetLb();
        },
      };
    },
  };
}
