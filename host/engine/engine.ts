// The seam: the interface both packet engines implement (WASM core and pure TS).
// Runtime-agnostic. Tests, benches, replay and the director target only this.
// Frames travel through the RX/TX descriptor arrays and frame slots whose
// layout is defined once in assembly/abi.ts (see ARCHITECTURE.md, "Memory").

/** Address family as in IPVS: 2 = IPv4, 10 = IPv6. */
export type Af = 2 | 10;

/** Sizes fixed at init; memory never grows after it. */
export interface EngineConfig {
  /** Maximum live connections (entries), IPv4 and IPv6 together. */
  maxConns: number;
  /** Maximum live IPv6 connections (each also needs a 48-byte address block). */
  maxConns6?: number;
  maxServices: number;
  maxDests: number;
  /** Frames per batch: RX descriptors, and the number of host frame slots. */
  batch: number;
  /** Seed of the connection-table hash (keep it secret on a real director). */
  seed: number;
}

/** A director port (interface): its MAC, MTU and tunnel source addresses. */
export interface PortSpec {
  mac: Uint8Array; // 6 bytes
  mtu: number;
  /** Source address for IPv4 outer headers (TUN); 4 bytes, or absent. */
  addr4?: Uint8Array;
  /** Source address for IPv6 outer headers (TUN); 16 bytes, or absent. */
  addr6?: Uint8Array;
}

/** A virtual service as the engine sees it (already validated by host/ctl). */
export interface ServiceSpec {
  af: Af;
  /** IPPROTO_TCP/UDP/SCTP; for fwmark services the protocol is 0. */
  protocol: number;
  /** 4 or 16 bytes, network order; all zero for fwmark services. */
  addr: Uint8Array;
  /** Host order; 0 for fwmark services. */
  port: number;
  fwmark: number;
  /** SCHED_* id from the ABI. */
  sched: number;
  /** IP_VS_SVC_F_* flags. */
  flags: number;
  /** Persistence timeout, seconds. */
  timeout: number;
  /** IPv4 netmask as a u32 in host order, or IPv6 prefix length. */
  netmask: number;
}

/** A real server (dest) of a service. */
export interface DestSpec {
  af: Af;
  addr: Uint8Array;
  /** Host order; 0 keeps the client's destination port. */
  port: number;
  /** IP_VS_CONN_F_MASQ / TUNNEL / DROUTE. */
  fwd: number;
  weight: number;
  uThreshold: number;
  lThreshold: number;
  tunType: number;
  tunPort: number;
  tunFlags: number;
}

/** A connection entry, as `dumpConns()` reports it (slot order). */
export interface ConnDump {
  index: number;
  af: Af;
  protocol: number;
  caddr: string;
  cport: number;
  vaddr: string;
  vport: number;
  daddr: string;
  dport: number;
  state: number;
  flags: number;
  /** Absolute expiry, engine milliseconds (u32, wraps). */
  expires: number;
  /** Current timeout, milliseconds. */
  timeout: number;
  dest: number;
  svc: number;
  inPkts: number;
}

/** Connection counts and flags of one dest, as IPVS keeps them. */
export interface DestCounts {
  activeConns: number;
  inactConns: number;
  persistConns: number;
  flags: number;
}

/** Per-service or per-dest statistics (IPVS's five counters). */
export interface Stats {
  conns: number;
  inPkts: number;
  outPkts: number;
  inBytes: number;
  outBytes: number;
}

/**
 * The packet engine. Control operations return an index (>= 0) or a negated
 * errno (-EEXIST, -ENOENT, -ENOMEM, -EINVAL); they never throw. The data path
 * (`processBatch`, `expire`) never throws and never allocates.
 */
export interface Engine {
  readonly kind: "wasm" | "ts";
  /** The memory holding descriptors and frame slots (re-read after init only). */
  readonly memory: ArrayBuffer;
  /** Region table (L_* indices from the ABI) giving byte offsets into `memory`. */
  readonly layout: Uint32Array;

  setSysctl(index: number, value: number): void;
  /** `ipvsadm --set tcp tcpfin udp` (seconds; 0 leaves a value unchanged). */
  setTimeouts(tcp: number, tcpfin: number, udp: number): void;
  /** Current timeouts in seconds, indexed by T_* slot. */
  timeouts(): number[];
  setPort(port: number, spec: PortSpec): number;
  /** Next hop for `addr` (null = default route of the family). */
  setNeigh(af: Af, addr: Uint8Array | null, mac: Uint8Array, port: number): number;

  addService(spec: ServiceSpec): number;
  editService(svc: number, spec: ServiceSpec): number;
  delService(svc: number): number;
  addDest(svc: number, spec: DestSpec): number;
  editDest(dest: number, spec: DestSpec): number;
  delDest(dest: number): number;
  /** Dest indices of a service in IPVS list order (newest first). */
  destList(svc: number): number[];

  /**
   * Processes RX descriptors [0, n) with the clock at `now` (microseconds),
   * writes verdicts back into them, and returns the number of TX descriptors
   * written from index 0.
   */
  processBatch(n: number, now: number): number;
  /** Expires idle connections; returns how many were freed. */
  expire(now: number): number;

  /** Global counters, indexed by C_* (reason r at C_REASON_BASE + r). */
  counters(): number[];
  svcStats(svc: number): Stats;
  destStats(dest: number): Stats;
  destCounts(dest: number): DestCounts;
  dumpConns(): ConnDump[];
}
