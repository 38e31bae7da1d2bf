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
  /**
   * Scheduler table blocks: one per service using sh, dh, mh, lblc or lblcr (adding one
   * more such service gives -ENOMEM). Default min(maxServices, 64).
   */
  schedTables?: number;
  /** Maglev table size M, one of IPVS's primes (MH_TABLE_SIZES); default 4093. */
  mhTableSize?: number;
  /** lblc/lblcr cache entries, engine-wide (default 16384), and lblcr set members (2×). */
  lblcEntries?: number;
  lblcNodes?: number;
  /** Seed of the schedulers' random draws (twos); default `seed`. */
  schedSeed?: number;
  /**
   * Scheduler indexes (lc, wlc, sed, nq, fo, ovf, twos decide in O(1)/O(log n) instead of
   * walking the list) for services with at least `schedIndexMin` (default 32) and at most
   * 1024 dests, one per service while they last (default min(maxServices, 64)). Decisions
   * are the same with or without; only the cost differs.
   */
  schedIndexes?: number;
  schedIndexMin?: number;
}

/** IPVS's possible MH table sizes, by CONFIG_IP_VS_MH_TAB_INDEX 8..17. */
export const MH_TABLE_SIZES: readonly number[] = [
  251,
  509,
  1021,
  2039,
  4093,
  8191,
  16381,
  32749,
  65521,
  131071,
];

/** What the control plane reads back about a dest (scheduler tables are computed from it). */
export interface DestInfo {
  svc: number;
  af: Af;
  /** 4 or 16 bytes, network order. */
  addr: Uint8Array;
  /** Host order. */
  port: number;
  weight: number;
  /** The latest non-zero weight (set on add, and by edits to a non-zero weight). */
  lastWeight: number;
  /** IP_VS_DEST_F_AVAILABLE | IP_VS_DEST_F_OVERLOAD. */
  flags: number;
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

/** Engine.expire's budget as both engines take it: whole slots, at most u32; 0 (or NaN) is all. */
export function expireSlots(budget: number): number {
  return budget >= 1 ? Math.min(Math.floor(budget), 0xffff_ffff) : 0;
}

/**
 * The expire() budget owed after `elapsedMs` when the table of `maxConns` slots is to be
 * covered once every `lapMs`: ceil(maxConns × elapsed / lap) slots, at least 1; 0 (the
 * whole table) at the first window or once a lap or more has passed.
 */
export function expireWindow(maxConns: number, elapsedMs: number, lapMs: number): number {
  const owed = Math.max(1, Math.ceil((maxConns * elapsedMs) / lapMs));
  return owed < maxConns ? owed : 0;
}

/** Statistics of nothing: the start of a sum, or what a missing entry reports. */
export const ZERO_STATS: Readonly<Stats> = Object.freeze({
  conns: 0,
  inPkts: 0,
  outPkts: 0,
  inBytes: 0,
  outBytes: 0,
});

/**
 * Master-side parameters of connection sync (ip_vs_sync.c; the sysctls of spec §9). The host
 * validates them (threshold < period unless period is 0; retries 0..3).
 */
export interface SyncParams {
  /** The master role: in-direction packets run IPVS's sync decision (spec §7.5). */
  master: boolean;
  /** sync_version: 0 sends IPv4 entries only, and a controller only after its entry. */
  version: 0 | 1;
  /** sync_threshold "threshold period" (default 3 50). */
  threshold: number;
  period: number;
  /** sync_refresh_period, seconds (default 0), and sync_retries (0..3). */
  refreshPeriod: number;
  retries: number;
  /** sync_persist_mode: 1 sends templates only for connections under persistence. */
  persistMode: number;
}

/** A connection as a sync message describes it (host/sync/wire.ts SyncConn is one). */
export interface SyncConnSpec {
  af: Af;
  protocol: number;
  /** IP_VS_CONN_F_* as sent; the backup keeps IP_VS_CONN_F_BACKUP_MASK of them. */
  flags: number;
  state: number;
  /** Host order. */
  cport: number;
  vport: number;
  dport: number;
  fwmark: number;
  /** Seconds; 0 takes the backup's timeout for the state. */
  timeout: number;
  /** 4 or 16 bytes, network order. */
  caddr: Uint8Array;
  vaddr: Uint8Array;
  daddr: Uint8Array;
  /**
   * Sequence data (v1 option 1, v0's trailing block; a missing side reads as zeros): the
   * FTP helper's adjustment, kept by a NAT FTP control connection.
   */
  inSeq?: SyncSeqSpec;
  outSeq?: SyncSeqSpec;
}

/** One direction of sequence adjustment (struct ip_vs_seq); u32 values, deltas two's complement. */
export interface SyncSeqSpec {
  initSeq: number;
  delta: number;
  previousDelta: number;
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
  /**
   * Expires idle connections at `now` (microseconds); returns how many were freed.
   * `budget` bounds the work: at most that many slots of the table are examined, from a
   * cursor that persists between calls and wraps, so calls of `budget` slots every P ms
   * cover a table of maxConns slots once every maxConns × P / budget ms. 0 (the default)
   * examines the whole table. Both engines free the same slots in the same order.
   */
  expire(now: number, budget?: number): number;

  /** Global counters, indexed by C_* (reason r at C_REASON_BASE + r). */
  counters(): number[];
  svcStats(svc: number): Stats;
  destStats(dest: number): Stats;
  destCounts(dest: number): DestCounts;
  dumpConns(): ConnDump[];

  /**
   * Writes slot changes into a service's sh, dh or mh table: `changes` holds (slot, dest)
   * pairs, dest -1 (or NO_DEST) for an empty slot. The tables are computed by the control
   * plane (host/ctl/tables.ts); deleting a dest empties its slots. Checks every pair first:
   * returns the number of pairs written, -ESRCH, or -EINVAL (no slot table, a slot out of
   * range, a dest not listed in the service).
   */
  setSchedSlots(svc: number, changes: ArrayLike<number>): number;
  /** A service's sh/dh/mh slot table (dest index or -1 per slot); empty for other schedulers. */
  schedTable(svc: number): Int32Array;
  /** A dest's identity and weights (a trashed one lacks AVAILABLE), or null for a free slot. */
  destInfo(dest: number): DestInfo | null;
  /**
   * Runs the service's scheduler `n` times on synthetic new-connection keys (benchmarks,
   * distribution tests; sched/probe.ts): returns the last dest chosen, or -1.
   */
  schedProbe(svc: number, n: number, seed: number): number;

  /** Connection sync, master side: parameters and role (all off until called). */
  setSync(p: SyncParams): void;
  /**
   * Takes the sync records written since the last call (after a batch): returns how many
   * SYNC_REC_SIZE records start at layout[L_SYNC_RING]; valid until the next processBatch.
   */
  syncDrain(): number;
  /**
   * Connection sync, backup side (spec §7.6): creates or updates the connection or
   * persistence template `c` describes, bound to the matching dest of the matching service,
   * with its sequence data if any, and the clock at `now` µs. Returns the entry index, or
   * -EINVAL (not an entry this engine keeps: bad family, protocol or state, a template
   * with a client port), -ENOENT (no matching service or dest: nothing made), -EEXIST (a
   * stale message about an entry already replaced) or -ENOMEM.
   */
  syncConn(c: SyncConnSpec, now: number): number;
}
