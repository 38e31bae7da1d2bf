// The one root of the reference engine's mutable state (house style G11): memory and its
// views, counters, tables, ports, next hops, timeouts, sysctls, the TUN IP ID, and the
// scratch record of the frame being processed. Mirrors assembly/state.ts.
// Memory holds only what the host shares (descriptors and frame slots, ARCHITECTURE.md
// "Memory"); everything else is typed arrays owned here. Runtime-agnostic.
import type { EngineConfig } from "../engine.ts";
import {
  FRAG_HOLD,
  L_BATCH,
  L_END,
  L_MAX_CONNS,
  L_MAX_CONNS6,
  L_MAX_DESTS,
  L_MAX_SVCS,
  L_MH_SIZE,
  L_RX_DESC,
  L_SCHED_TABLES,
  L_SLOT_COUNT,
  L_SLOTS,
  L_SYNC_CAP,
  L_SYNC_RING,
  L_TX_CAP,
  L_TX_DESC,
  L_WORDS,
  NEIGH_MAX,
  RXD_SIZE,
  SLOT_SIZE,
  SYS_CONN_REUSE_MODE,
  SYS_COUNT,
  SYS_IP_UNPRIVILEGED_PORT_START,
  SYS_LBLC_EXPIRATION,
  SYS_LBLCR_EXPIRATION,
  SYS_PMTU_DISC,
  T_COUNT,
  T_NEW,
  TCP_S_COUNT,
  TXD_SIZE,
} from "../abi.gen.ts";
import { ConnTable } from "./conn.ts";
import { DestTable } from "./dest.ts";
import { NeighTable, PortTable } from "./neigh.ts";
import { TCP_TIMEOUTS } from "./proto/tcp.ts";
import { UDP_DEFAULT_TIMEOUT, UDP_TIMEOUT_SLOT } from "./proto/udp.ts";
import { ServiceTable } from "./service.ts";
import { TemplateChains } from "./persist.ts";
import { SchedContext } from "./sched/context.ts";
import { SchedIndex } from "./sched/index.ts";
import { schedConfig } from "../sched_config.ts";
import { createCounters } from "./stats.ts";
import { SyncState } from "./sync.ts";
import { EdgeState } from "./edge_state.ts";

/** Timeout of a freshly created entry, seconds (replaced by its first state's timeout). */
const NEW_TIMEOUT = 3;

// Why local consts: V8 does not constant-fold imported bindings. Every use of an imported
// `const` loads its module cell, and a call through an imported function is not inlined.
// A module-local `const` (immutable context slot) folds and inlines. So the packet-path
// modules copy what they use into locals (`const { R_NONE, ... } = abi;`). Measured on the
// descriptor + Ethernet path alone (deno 2.9.6, 64-frame batches): 12 ns/frame with imported
// constants, 4.6 ns with local ones; one imported helper call: 7.1 vs 4.7 ns.

/**
 * The frame being processed, as the parser leaves it. Offsets are absolute byte offsets
 * into memory. Addresses are 4 little-endian u32 words of wire bytes (IPv4: word 0, the
 * others zero); ports are wire-order u16 loads. One instance, reused for every frame.
 */
export class Packet {
  slot = 0;
  /** Start of the frame (its Ethernet header). */
  base = 0;
  /** Offset of the IP header from `base` (14, or 18 with a VLAN tag). */
  l3 = 0;
  ip = 0;
  th = 0;
  af = 0;
  proto = 0;
  /** IP total length: IPv4 totlen, IPv6 40 + payload length. */
  iplen = 0;
  tcpFlags = 0;
  s0 = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;
  d0 = 0;
  d1 = 0;
  d2 = 0;
  d3 = 0;
  sport = 0;
  dport = 0;
  /** RX descriptor index of the frame and the TX descriptor its own output would take. */
  rx = 0;
  tx = 0;
  /** Issue 7: how NAT rewrites this packet (edge.ts PK_*); PK_L4 outside the edge paths. */
  kind = 0;
  /** ICMP errors: the quoted IP header, its L4 header, the end of the ICMP payload. */
  innerIp = 0;
  innerL4 = 0;
  innerEnd = 0;
  innerProto = 0;
  /** Set by the MTU check (pmtu.ts): fragment the outermost IPv4 header to this MTU (0: no). */
  fragMtu = 0;
  /** A fragment (frag.ts FRAG_FIRST / FRAG_LATER; 0: none), its id (raw) and keying protocol. */
  frag = 0;
  fragId = 0;
  fragProto = 0;
}

function count(v: number | undefined, name: string, min: number, max: number): number {
  if (v === undefined || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(
      `Cannot create engine: ${name} must be an integer in ${min}..${max} (${v})`,
    );
  }
  return v;
}

export class EngineState {
  readonly memory: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly dv: DataView;
  readonly layout: Uint32Array;
  readonly batch: number;
  readonly rxDesc: number;
  readonly txDesc: number;
  readonly slots: number;
  readonly counters = createCounters();
  readonly svcs: ServiceTable;
  readonly dests: DestTable;
  readonly conns: ConnTable;
  readonly ports = new PortTable();
  readonly neigh: NeighTable;
  /** Timeouts in seconds (the interface's unit) and in ms (the packet path's), by T_*. */
  readonly timeoutSec = new Float64Array(T_COUNT);
  readonly timeoutMs = new Uint32Array(T_COUNT);
  readonly sysctl = new Int32Array(SYS_COUNT);
  /** Next IPv4 ID of an outer (tunnel) header; u16, wraps. */
  ipId = 0;
  readonly pkt = new Packet();
  /** What schedulers read: packet, clock, table blocks, locality caches (sched/context.ts). */
  readonly sched: SchedContext;
  /** Persistence template chains (persist.ts). */
  readonly templates: TemplateChains;
  /** Connection sync: settings, per-entry history, and the ring in `memory` (sync.ts). */
  readonly sync: SyncState;
  /** Issue 7: ICMP generation, fragments, defense, the FTP helper (edge.ts). */
  readonly edge = new EdgeState();

  constructor(config: EngineConfig) {
    const batch = count(config.batch, "batch", 1, 4096);
    const maxConns = count(config.maxConns, "maxConns", 1, 1 << 24);
    const maxConns6 = Math.min(
      count(config.maxConns6 ?? maxConns, "maxConns6", 0, 1 << 24),
      maxConns,
    );
    const maxSvcs = count(config.maxServices, "maxServices", 1, 1 << 16);
    const maxDests = count(config.maxDests, "maxDests", 1, 1 << 20);
    const seed = Number.isFinite(config.seed) ? config.seed >>> 0 : 0;

    // Memory: RX descriptors, TX descriptors (2 × batch), then 2 × batch frame slots.
    // Issue 7: FRAG_HOLD more slots (and TX descriptors) for held fragments (frag.ts).
    const txCap = 2 * batch + FRAG_HOLD;
    const slotCount = 2 * batch + FRAG_HOLD;
    this.rxDesc = 0;
    this.txDesc = batch * RXD_SIZE;
    this.slots = (this.txDesc + txCap * TXD_SIZE + 63) & ~63;
    const syncRing = (this.slots + slotCount * SLOT_SIZE + 63) & ~63;
    const end = syncRing + SyncState.ringBytes(batch);
    this.memory = new ArrayBuffer(end);
    this.u8 = new Uint8Array(this.memory);
    this.dv = new DataView(this.memory);
    this.batch = batch;
    this.layout = new Uint32Array(L_WORDS);
    this.layout[L_RX_DESC] = this.rxDesc;
    this.layout[L_TX_DESC] = this.txDesc;
    this.layout[L_BATCH] = batch;
    this.layout[L_TX_CAP] = txCap;
    this.layout[L_SLOTS] = this.slots;
    this.layout[L_SLOT_COUNT] = slotCount;
    this.layout[L_MAX_CONNS] = maxConns;
    this.layout[L_MAX_CONNS6] = maxConns6;
    this.layout[L_MAX_SVCS] = maxSvcs;
    this.layout[L_MAX_DESTS] = maxDests;
    this.layout[L_END] = end;
    this.sync = new SyncState(syncRing, batch, maxConns);
    this.layout[L_SYNC_RING] = syncRing;
    this.layout[L_SYNC_CAP] = this.sync.cap;

    this.svcs = new ServiceTable(maxSvcs);
    this.dests = new DestTable(maxDests, this.svcs);
    this.conns = new ConnTable(maxConns, maxConns6, seed, this.dests, this.counters);
    this.neigh = new NeighTable(NEIGH_MAX);
    const sc = schedConfig(config);
    this.sched = new SchedContext(this.pkt, this.sysctl, sc);
    this.sched.index = new SchedIndex(sc.schedIndexes, sc.schedIndexMin, this.svcs, this.dests);
    this.dests.index = this.sched.index;
    this.templates = new TemplateChains(this, maxConns);
    this.conns.templates = this.templates;
    this.layout[L_MH_SIZE] = sc.mhSize;
    this.layout[L_SCHED_TABLES] = sc.schedTables;

    for (let s = 0; s < TCP_S_COUNT; s++) this.setTimeout(s, TCP_TIMEOUTS[s]);
    this.setTimeout(UDP_TIMEOUT_SLOT, UDP_DEFAULT_TIMEOUT);
    this.setTimeout(T_NEW, NEW_TIMEOUT);
    this.sysctl[SYS_CONN_REUSE_MODE] = 1;
    this.sysctl[SYS_PMTU_DISC] = 1;
    this.sysctl[SYS_LBLC_EXPIRATION] = 86400;
    this.sysctl[SYS_LBLCR_EXPIRATION] = 86400;
    this.sysctl[SYS_IP_UNPRIVILEGED_PORT_START] = 1024;
    this.edge.reset(this.sysctl, maxConns);
  }

  setTimeout(slot: number, seconds: number): void {
    this.timeoutSec[slot] = seconds;
    this.timeoutMs[slot] = seconds * 1000;
  }
}
