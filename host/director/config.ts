// The director's configuration file (JSON) and its translation into engine
// specs. Runtime-agnostic. Interfaces, engine sizes, sysctls and sync live here;
// services and dests too, in ipvsadm's words (rr/wrr/wlc, masq/route/tunnel =
// -m/-g/-i, with route the default as in ipvsadm), for directors without a
// control socket. With `control`, wvsadm drives the full ipvsadm grammar (every
// scheduler, persistence, thresholds) and the file's services only seed it.
// Everything is validated before anything is applied; errors name the field.
import {
  AF_INET,
  AF_INET6,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  SCHED_RR,
  SCHED_WLC,
  SCHED_WRR,
  SYS_AM_DROPRATE,
  SYS_AMEMTHRESH,
  SYS_CONN_MAX,
  SYS_CONN_REUSE_MODE,
  SYS_DROP_ENTRY,
  SYS_DROP_PACKET,
  SYS_EXPIRE_NODEST_CONN,
  SYS_FTP_PORT,
  SYS_ICMP_MSGS_BURST,
  SYS_ICMP_MSGS_PER_SEC,
  SYS_PMTU_DISC,
  SYS_SECURE_TCP,
  SYS_SLOPPY_SCTP,
  SYS_SLOPPY_TCP,
} from "../engine/abi.gen.ts";
import type { DestSpec, EngineConfig, ServiceSpec } from "../engine/engine.ts";
import { type DirectorSyncConfig, type DirectorSyncPlan, planSync } from "../sync/config.ts";
import { parseIp, parseMac, parsePrefixed, type Prefixed } from "./inet.ts";
import { DEFAULT_SOCKET } from "../daemon/protocol.ts";

export interface PortConfig {
  /** Interface name in the director's network namespace. */
  ifname: string;
  backend?: "af_packet" | "tap";
  /**
   * Addresses the director itself answers ARP/ND for on this port, with their
   * on-link prefix ("198.18.1.254/24"). They also decide which port reaches
   * which real server, and are the tunnel source addresses.
   */
  addrs?: string[];
  /**
   * Addresses that move with the VIPs in a failover pair ("198.18.1.254/24"): answered for
   * and announced only while this director serves (not as a standby). The real servers'
   * default gateway of a NAT pair is one, as keepalived's virtual addresses are.
   */
  floating?: string[];
  /** Override of the MAC (default: /sys/class/net/<if>/address; required for TAP). */
  mac?: string;
  mtu?: number;
  /**
   * Leave GRO/LRO as configured (AF_PACKET only). By default the port turns them
   * off, because merged frames exceed a slot; keep them only where no merging
   * can happen (small UDP) or the benchmarks set them deliberately.
   */
  keepOffloads?: boolean;
}

export interface DestConfig {
  addr: string;
  /** 0 or absent keeps the client's destination port. */
  port?: number;
  fwd?: "masq" | "route" | "tunnel";
  weight?: number;
  uThreshold?: number;
  lThreshold?: number;
}

export interface ServiceConfig {
  protocol: "tcp" | "udp" | "sctp";
  addr: string;
  port: number;
  sched?: "rr" | "wrr" | "wlc";
  dests: DestConfig[];
}

export interface DirectorConfig {
  engine?: "wasm" | "ts" | "passthrough";
  /** Frames per batch (default 64, baselines.md §3c). */
  batch?: number;
  /**
   * Data-plane workers (Deno Workers, one engine and connection shard each,
   * clients spread by the kernel's fanout); 0 = one loop on the main thread.
   * Absent: 1 on Deno, 0 on Node and with `sync`. `--workers` overrides it.
   */
  workers?: number;
  /**
   * How AF_PACKET ports receive: "ring" (a TPACKET_V2 ring mapped over the
   * engine's slots: no receive call, no copy by us; the engine then gets
   * `ringFrames` host slots; the default when every port is AF_PACKET) or
   * "mmsg" (recvmmsg into the slots; the default with a TAP port) or "xdp"
   * (an AF_XDP socket per port whose UMEM is the engine's slots, host/io/af_xdp.ts;
   * one data-plane thread, receive queue 0; the engine also gets `ringFrames`).
   */
  io?: "mmsg" | "ring" | "xdp";
  /** Host slots shared by the ports' rings (default 1024). */
  ringFrames?: number;
  /** Socket receive buffer per AF_PACKET port, bytes (default 4 MiB; SO_RCVBUFFORCE). */
  rcvbuf?: number;
  maxConns?: number;
  maxConns6?: number;
  ports: PortConfig[];
  /** With `control`, the seed rules (see there), and the file may leave it out. */
  services: ServiceConfig[];
  /** Default routers (one per family at most), resolved like real servers. */
  gateways?: string[];
  /** `ipvsadm --set tcp tcpfin udp`, seconds. */
  timeouts?: { tcp?: number; tcpfin?: number; udp?: number };
  sysctl?: {
    conn_reuse_mode?: number;
    expire_nodest_conn?: number;
    sloppy_tcp?: number;
    pmtu_disc?: number;
    /** Issue 7: ICMP error rate; defense strategies (0..3) and their thresholds (entries). */
    icmp_msgs_per_sec?: number;
    icmp_msgs_burst?: number;
    amemthresh?: number;
    am_droprate?: number;
    drop_entry?: number;
    drop_packet?: number;
    secure_tcp?: number;
    conn_max?: number;
    /** The FTP helper's port (default 21, 0 off); SCTP entries from any chunk but ABORT. */
    ftp_port?: number;
    sloppy_sctp?: number;
  };
  /** Connection sync daemons and failover (host/sync/config.ts DirectorSyncConfig). */
  sync?: DirectorSyncConfig;
  /**
   * The control socket: wvsadm (ipvsadm's commands) drives the running director. The
   * `services` above then only seed an empty table at the first start; the saved
   * configuration in `stateDir` wins after that, as the operator's latest word.
   */
  control?: ControlConfig;
  /**
   * Nice value (-20..19) of the director's scheduling autogroup (/proc/self/autogroup), which
   * is its session: run it as a service or under setsid, or the whole login session gets it.
   * Under overload the director otherwise shares its CPU about evenly with the kernel's NAPI
   * thread, which then fills queues the director cannot drain (bench/RESULTS.md, AF_XDP).
   */
  priority?: number;
  /**
   * After the last frame, keep polling the rings this long (µs, 0..10000; default 0) before
   * sleeping in poll(2), yielding the CPU on each empty pass. Sleeping costs a wake-up per
   * burst, tens of µs on a VM; spinning costs CPU while traffic pauses (bench/RESULTS.md,
   * "Latency").
   */
  spinUs?: number;
  /** Engine capacity for services and real servers (default: what `services` needs, or with `control` 1024 and 16384). */
  maxServices?: number;
  maxDests?: number;
}

export interface ControlConfig {
  /** Unix socket for wvsadm, mode 0600 (default /run/wvs/wvs.sock). */
  socket?: string;
  /** Directory of the saved configuration, written on every change (default: none). */
  stateDir?: string | null;
  /** "host:port" serving Prometheus text on /metrics (default: off). */
  metrics?: string | null;
}

/** The control socket after validation. */
export interface ControlPlan {
  socket: string;
  stateDir: string | null;
  metrics: string | null;
  /** The file's `services` as `ipvsadm -R` lines, applied when nothing was saved. */
  seed: string;
}

/** A port after validation (the MAC may still come from sysfs). */
export interface PortPlan {
  ifname: string;
  backend: "af_packet" | "tap";
  addrs: Prefixed[];
  floating: Prefixed[];
  mac: Uint8Array | null;
  mtu: number | null;
  keepOffloads: boolean;
}

export interface ServicePlan {
  spec: ServiceSpec;
  dests: DestSpec[];
}

export interface DirectorPlan {
  engine: "wasm" | "ts" | "passthrough";
  /** null: the runtime's default (run.ts: one worker on Deno, none on Node or with sync). */
  workers: number | null;
  io: "mmsg" | "ring" | "xdp";
  /** Most frames taken per round (the config's batch). */
  round: number;
  rcvbuf: number;
  engineConfig: EngineConfig;
  ports: PortPlan[];
  services: ServicePlan[];
  gateways: Uint8Array[];
  timeouts: [number, number, number] | null;
  sysctl: [number, number][];
  /** Connection sync and failover (host/sync/), or null. */
  sync: DirectorSyncPlan | null;
  /** The control socket, or null (services only from the file, reloaded on SIGHUP). */
  control: ControlPlan | null;
  /** The autogroup nice value to set at start, or null (leave it). */
  priority: number | null;
  /** Polling after the last frame before sleeping, µs (DirectorConfig.spinUs). */
  spinUs: number;
}

const PROTO_OPTS: Record<string, string> = { tcp: "-t", udp: "-u", sctp: "--sctp-service" };
const FWD_OPTS: Record<string, string> = { masq: "-m", route: "-g", tunnel: "-i" };

/** Validated services in ipvsadm's words, for the control plane's `-R` path. */
function seedRules(services: ServiceConfig[]): string {
  const hp = (a: string, port: number) => a.includes(":") ? `[${a}]:${port}` : `${a}:${port}`;
  return services.map((s) => {
    const svc = `${PROTO_OPTS[s.protocol]} ${hp(s.addr, s.port)}`;
    const lines = [`-A ${svc} -s ${s.sched ?? "wlc"}`];
    for (const d of s.dests) {
      // Port 0 keeps the client's destination port, which for a VIP:port service is its port.
      const r = hp(d.addr, d.port || s.port);
      let l = `-a ${svc} -r ${r} ${FWD_OPTS[d.fwd ?? "route"]} -w ${d.weight ?? 1}`;
      if (d.uThreshold) l += ` -x ${d.uThreshold}`;
      if (d.lThreshold) l += ` -y ${d.lThreshold}`;
      lines.push(l);
    }
    return lines.join("\n") + "\n";
  }).join("");
}

function planControl(c: ControlConfig, services: ServiceConfig[]): ControlPlan {
  const str = (v: unknown, name: string) => {
    if (v !== undefined && v !== null && (typeof v !== "string" || v === "")) {
      fail(`control.${name}`, "must be a non-empty string");
    }
    return (v as string | null | undefined) ?? null;
  };
  const metrics = str(c.metrics, "metrics");
  if (metrics !== null && !/^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/.test(metrics)) {
    fail("control.metrics", `expected host:port (${metrics})`);
  }
  return {
    socket: str(c.socket, "socket") ?? DEFAULT_SOCKET,
    stateDir: str(c.stateDir, "stateDir"),
    metrics,
    seed: seedRules(services),
  };
}

function capacity(v: number | undefined, dflt: number, where: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1 || v > 1 << 20) fail(where, `bad capacity ${v}`);
  return v;
}

const SCHEDS: Record<string, number> = { rr: SCHED_RR, wrr: SCHED_WRR, wlc: SCHED_WLC };
const FWDS: Record<string, number> = {
  masq: IP_VS_CONN_F_MASQ,
  route: IP_VS_CONN_F_DROUTE,
  tunnel: IP_VS_CONN_F_TUNNEL,
};
const PROTOS: Record<string, number> = {
  tcp: IPPROTO_TCP,
  udp: IPPROTO_UDP,
  sctp: IPPROTO_SCTP,
};
const SYSCTLS: Record<string, number> = {
  conn_reuse_mode: SYS_CONN_REUSE_MODE,
  expire_nodest_conn: SYS_EXPIRE_NODEST_CONN,
  sloppy_tcp: SYS_SLOPPY_TCP,
  pmtu_disc: SYS_PMTU_DISC,
  // Issue 7.
  icmp_msgs_per_sec: SYS_ICMP_MSGS_PER_SEC,
  icmp_msgs_burst: SYS_ICMP_MSGS_BURST,
  amemthresh: SYS_AMEMTHRESH,
  am_droprate: SYS_AM_DROPRATE,
  drop_entry: SYS_DROP_ENTRY,
  drop_packet: SYS_DROP_PACKET,
  secure_tcp: SYS_SECURE_TCP,
  conn_max: SYS_CONN_MAX,
  ftp_port: SYS_FTP_PORT,
  sloppy_sctp: SYS_SLOPPY_SCTP,
};

function fail(where: string, why: string): never {
  throw new Error(`Cannot load director config: ${where}: ${why}`);
}

function port16(v: unknown, where: string): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 65535) {
    fail(where, `bad port ${v}`);
  }
  return v as number;
}

function ip(text: unknown, where: string): Uint8Array {
  if (typeof text !== "string") fail(where, "address missing");
  try {
    return parseIp(text);
  } catch (e) {
    fail(where, (e as Error).message);
  }
}

/** Validates a parsed config file and turns it into engine specs. Throws on the first error. */
export function planDirector(c: DirectorConfig): DirectorPlan {
  if (!Array.isArray(c.ports) || c.ports.length === 0) fail("ports", "at least one port is needed");
  // With a control socket the services may come later, from wvsadm.
  if (c.services === undefined && c.control) c = { ...c, services: [] };
  if (!Array.isArray(c.services)) fail("services", "must be a list");
  const engine = c.engine ?? "wasm";
  if (!["wasm", "ts", "passthrough"].includes(engine)) fail("engine", `unknown engine ${engine}`);
  const ports = c.ports.map((p, i): PortPlan => {
    const where = `ports[${i}]`;
    if (typeof p.ifname !== "string" || p.ifname === "") fail(where, "ifname missing");
    const backend = p.backend ?? "af_packet";
    if (backend !== "af_packet" && backend !== "tap") fail(where, `unknown backend ${backend}`);
    if (backend === "tap" && !p.mac) fail(where, "a TAP port needs its own mac");
    let addrs: Prefixed[], floating: Prefixed[];
    try {
      addrs = (p.addrs ?? []).map(parsePrefixed);
      floating = (p.floating ?? []).map(parsePrefixed);
    } catch (e) {
      fail(where, (e as Error).message);
    }
    let mac: Uint8Array | null = null;
    if (p.mac) {
      try {
        mac = parseMac(p.mac);
      } catch (e) {
        fail(where, (e as Error).message);
      }
    }
    if (p.mtu !== undefined && (!Number.isInteger(p.mtu) || p.mtu < 68 || p.mtu > 9000)) {
      fail(where, `bad mtu ${p.mtu}`);
    }
    return {
      ifname: p.ifname,
      backend,
      addrs,
      floating,
      mac,
      mtu: p.mtu ?? null,
      keepOffloads: p.keepOffloads === true,
    };
  });
  const names = new Set(ports.map((p) => p.ifname));
  if (names.size !== ports.length) fail("ports", "an interface is listed twice");
  const services = c.services.map((s, i): ServicePlan => {
    const where = `services[${i}]`;
    const protocol = PROTOS[s.protocol];
    if (protocol === undefined) fail(where, `unknown protocol ${s.protocol}`);
    const addr = ip(s.addr, where);
    const af = addr.length === 4 ? AF_INET : AF_INET6;
    const sched = SCHEDS[s.sched ?? "wlc"];
    if (sched === undefined) fail(where, `unknown scheduler ${s.sched}`);
    if (!Array.isArray(s.dests)) fail(where, "dests must be a list");
    const spec: ServiceSpec = {
      af,
      protocol,
      addr,
      port: port16(s.port, where),
      fwmark: 0,
      sched,
      flags: 0,
      timeout: 0,
      netmask: af === AF_INET ? 0xffffffff : 128,
    };
    const dests = s.dests.map((d, j): DestSpec => {
      const dw = `${where}.dests[${j}]`;
      const daddr = ip(d.addr, dw);
      const fwd = FWDS[d.fwd ?? "route"];
      if (fwd === undefined) fail(dw, `unknown forwarding method ${d.fwd}`);
      if (daddr.length !== addr.length && fwd !== IP_VS_CONN_F_TUNNEL) {
        fail(dw, "address family differs from the service's");
      }
      const weight = d.weight ?? 1;
      if (!Number.isInteger(weight) || weight < 0) fail(dw, `bad weight ${weight}`);
      return {
        af: daddr.length === 4 ? AF_INET : AF_INET6,
        addr: daddr,
        port: port16(d.port ?? 0, dw),
        fwd,
        weight,
        uThreshold: d.uThreshold ?? 0,
        lThreshold: d.lThreshold ?? 0,
        tunType: 0,
        tunPort: 0,
        tunFlags: 0,
      };
    });
    return { spec, dests };
  });
  const gateways = (c.gateways ?? []).map((g, i) => ip(g, `gateways[${i}]`));
  const sysctl: [number, number][] = Object.entries(c.sysctl ?? {}).map(([k, v]) => {
    if (SYSCTLS[k] === undefined) fail("sysctl", `unknown sysctl ${k}`);
    if (!Number.isInteger(v)) fail("sysctl", `bad value for ${k}`);
    return [SYSCTLS[k], v as number];
  });
  if (
    c.priority !== undefined &&
    (!Number.isInteger(c.priority) || c.priority < -20 || c.priority > 19)
  ) {
    fail("priority", `must be an integer in -20..19 (${c.priority})`);
  }
  const spinUs = c.spinUs ?? 0;
  if (!Number.isInteger(spinUs) || spinUs < 0 || spinUs > 10_000) {
    fail("spinUs", `must be an integer in 0..10000 (${c.spinUs})`);
  }
  const t = c.timeouts;
  const batch = c.batch ?? 64;
  if (!Number.isInteger(batch) || batch < 1 || batch > 1024) fail("batch", `bad batch ${batch}`);
  const workers = c.workers ?? null;
  if (workers !== null && (!Number.isInteger(workers) || workers < 0 || workers > 64)) {
    fail("workers", `bad worker count ${workers}`);
  }
  // The ring measured faster (bench/RESULTS.md, "End to end"); TAP ports need recvmmsg-style slots.
  const io = c.io ?? (ports.every((p) => p.backend === "af_packet") ? "ring" : "mmsg");
  if (io !== "mmsg" && io !== "ring" && io !== "xdp") fail("io", `unknown receive method ${io}`);
  if (io !== "mmsg" && ports.some((p) => p.backend !== "af_packet")) {
    fail("io", `io ${io} needs every port on a network interface (no TAP)`);
  }
  if (
    c.rcvbuf !== undefined &&
    (!Number.isInteger(c.rcvbuf) || c.rcvbuf < 65536 || c.rcvbuf > 2 ** 30)
  ) {
    fail("rcvbuf", `bad receive buffer size ${c.rcvbuf}`);
  }
  const ringFrames = c.ringFrames ?? 1024;
  if (!Number.isInteger(ringFrames) || ringFrames < 4 * ports.length || ringFrames > 4096) {
    fail("ringFrames", `bad ring size ${ringFrames}`);
  }
  return {
    engine,
    workers,
    io,
    round: batch,
    rcvbuf: c.rcvbuf ?? 4 << 20,
    engineConfig: {
      maxConns: c.maxConns ?? 65536,
      maxConns6: c.maxConns6 ?? 16384,
      maxServices: capacity(
        c.maxServices,
        Math.max(c.control ? 1024 : 16, services.length),
        "maxServices",
      ),
      maxDests: capacity(
        c.maxDests,
        Math.max(c.control ? 16384 : 64, services.reduce((n, s) => n + s.dests.length, 0)),
        "maxDests",
      ),
      batch: io === "mmsg" ? batch : Math.max(batch, ringFrames),
      seed: 0, // filled in by the caller from a random source
    },
    ports,
    services,
    gateways,
    timeouts: t ? [t.tcp ?? 0, t.tcpfin ?? 0, t.udp ?? 0] : null,
    sysctl,
    sync: c.sync ? planSync(c.sync) : null,
    control: c.control ? planControl(c.control, c.services) : null,
    priority: c.priority ?? null,
    spinUs,
  };
}
