// The one root of mutable engine state (house style G11): every module-level
// mutable value of the engine lives here, as static fields (WebAssembly globals).
// Bulk state (conns, services, dests, counters, ...) lives in linear memory in the
// regions layout.ts carves at init; this file only holds their base addresses,
// the sizes fixed at init, the free-stack tops and the per-frame parse results.
// Time and randomness are inputs: `now` comes with every call, the seed with init.

/** Region bases (byte offsets into linear memory) and sizes, fixed by init(). */
export class Mem {
  static ready: bool = false;
  static layout: usize = 0;
  static ctl: usize = 0;
  static scratch: usize = 0;
  static counters: usize = 0;
  static rxDesc: usize = 0;
  static txDesc: usize = 0;
  static slots: usize = 0;
  static batch: u32 = 0;
  static txCap: u32 = 0;

  static conns: usize = 0;
  static maxConns: u32 = 0;
  static conn6: usize = 0;
  static maxConns6: u32 = 0;
  /** Per-frame lookup hints of the batch loop (conn.ts, "Lookup hints"). */
  static hints: usize = 0;

  static svcs: usize = 0;
  static maxSvcs: u32 = 0;
  static svcFree: usize = 0;
  static svcBuckets: usize = 0;
  static svcBucketMask: u32 = 0;
  static dests: usize = 0;
  static maxDests: u32 = 0;
  static destFree: usize = 0;
  static svcStats: usize = 0;
  static destStats: usize = 0;

  static ports: usize = 0;
  static neigh: usize = 0;
  static neighMask: u32 = 0;
  /** Next hop per dest (neigh.ts neighDest), maxDests × NH_CACHE_SIZE. */
  static nhCache: usize = 0;
  static timeouts: usize = 0;
  static sysctls: usize = 0;

  /** Persistence templates: their own hash chains (conn entries, linked by CN_LINK_IN). */
  static tplBuckets: usize = 0;
  static tplBucketMask: u32 = 0;
  /** Key scratch of the template being looked up: snet (16 bytes), then vaddr (16). */
  static tplKey: usize = 0;
  /** Scheduler table blocks (sh/dh/mh slots, lblc/lblcr buckets), schedBlockWords u32 each. */
  static schedTables: usize = 0;
  static schedTableCount: u32 = 0;
  static schedBlockWords: u32 = 0;
  static schedTableFree: usize = 0;
  /** The Maglev table size M (a prime, IPVS's CONFIG_IP_VS_MH_TAB_INDEX) and its weight bits. */
  static mhSize: u32 = 0;
  static mhBits: u32 = 0;
  /** lblc/lblcr cache entries and lblcr dest-set nodes, with their free stacks. */
  static lblcEntries: usize = 0;
  static lblcMax: u32 = 0;
  static lblcFree: usize = 0;
  static lblcNodes: usize = 0;
  static lblcNodeMax: u32 = 0;
  static lblcNodeFree: usize = 0;
  /** Scheduler indexes (sched/index.ts): blocks, free stack, and the size that earns one. */
  static idxBlocks: usize = 0;
  static idxCount: u32 = 0;
  static idxFree: usize = 0;
  static idxMin: u32 = 0;
}

/** Engine-wide scalars that change at run time. */
export class Eng {
  static seed: u32 = 0;
  /** Clock of the current call, milliseconds (u32, wraps). */
  static nowMs: u32 = 0;
  /** Next IPv4 ID of an outer (tunnel) header; u16, wraps. */
  static ipId: u32 = 0;
  /** Heads of the conn entry and IPv6 block free lists (conn.ts); NIL when empty. */
  static connFree: u32 = 0;
  static conn6Free: u32 = 0;
  /** Free-stack tops: the number of free entries on each LIFO stack (the conn and
   * block lists' lengths, kept for the defense). */
  static connTop: u32 = 0;
  static conn6Top: u32 = 0;
  /** The next slot a budgeted expire() examines (conn.ts connExpire); < maxConns. */
  static expireCursor: u32 = 0;
  static svcTop: u32 = 0;
  static destTop: u32 = 0;
  static neighCount: u32 = 0;
  /** TX descriptors written in the current batch. */
  static nTx: u32 = 0;
  /** Where the lookup hints leave the words they load, so they are not dead loads. */
  static sink: u32 = 0;
  /** Generation of the neighbour table (neigh.ts next-hop cache); never 0. */
  static neighGen: u32 = 1;
  /** Seed of the schedulers' random sources (twos), from the config. */
  static schedSeed: u32 = 0;
  static schedTableTop: u32 = 0;
  static lblcTop: u32 = 0;
  static lblcNodeTop: u32 = 0;
  static idxTop: u32 = 0;
  /** Live services on port 21 and on port 0 (IPVS ftpsvc_counter / nullsvc_counter). */
  static ftpSvcs: u32 = 0;
  static nullSvcs: u32 = 0;
}

/**
 * The frame being processed, as the parser leaves it. Offsets are absolute
 * addresses into linear memory; ports and addresses stay in wire order.
 */
export class Pkt {
  /** RX descriptor index and slot. */
  static rx: u32 = 0;
  static slot: u32 = 0;
  /** Start of the frame (the Ethernet header). */
  static frame: usize = 0;
  /** Offset of the IP header from `frame` (14, or 18 with a VLAN tag). */
  static l3: u32 = 0;
  /** Absolute addresses of the IP and L4 headers. */
  static ip: usize = 0;
  static l4: usize = 0;
  static af: u32 = 0;
  static proto: u32 = 0;
  /** IP total length (IPv4 totlen, IPv6 40 + payload length). */
  static iplen: u32 = 0;
  static l4len: u32 = 0;
  /** Absolute addresses of the source and destination IP addresses. */
  static saddr: usize = 0;
  static daddr: usize = 0;
  /** Ports as loaded from the wire (network byte order in a u16). */
  static sport: u32 = 0;
  static dport: u32 = 0;
  /** TCP flags byte (0 for UDP). */
  static tcpFlags: u32 = 0;
  /** Persistence: the template controlling the new connection (NIL if none). */
  static tpl: u32 = 0xffffffff;
  /** Why a persistent schedule failed (R_NO_DEST or R_CONN_FULL). */
  static err: u32 = 0;
  /** The entry step 10 created. */
  static slotNew: u32 = 0;
  /**
   * Issue 7: how NAT rewrites this packet (xmit; edge.ts PK_*): its L4 ports, the packet an
   * ICMP error quotes, or the address only. PK_L4 (0) except inside the edge paths.
   */
  static kind: u32 = 0;
  /** ICMP errors: the quoted IP header, its L4 header, and the end of the ICMP payload. */
  static innerIp: usize = 0;
  static innerL4: usize = 0;
  static innerEnd: usize = 0;
  static innerProto: u32 = 0;
  /** Set by the MTU check (pmtu.ts): fragment the outermost IPv4 header to this MTU (0: no). */
  static fragMtu: u32 = 0;
  /** A fragment (frag.ts FRAG_FIRST / FRAG_LATER; 0: not one) and its identification (raw). */
  static frag: u32 = 0;
  static fragId: u32 = 0;
  /** The protocol that keys it: IPv4's protocol field, the IPv6 fragment header's next header. */
  static fragProto: u32 = 0;
}

/** Issue 7 (the edges: icmp.ts, frag.ts, defense.ts, app_ftp.ts): run-time state. */
export class Edge {
  /** The token bucket of generated ICMP errors, in thousandths of a message, and its clock. */
  static icmpTokens: u64 = 0;
  static icmpLastMs: u32 = 0;
  /** IPv4 ID of generated ICMP errors (u16, wraps); kept apart from the tunnel's. */
  static icmpId: u32 = 0;
  /** The edge region carved by init (edge.ts lays it out). */
  static region: usize = 0;
  /** Defense (defense.ts): when it last ran (ms), whether it must run at the next batch. */
  static defLastMs: u32 = 0;
  static defDue: bool = true;
  /** drop_packet: drop one new-connection packet every dropRate (0: none); the countdown. */
  static dropRate: i32 = 0;
  static dropCounter: i32 = 0;
  /** drop_entry in effect, and where its scan and the eviction of half-open entries are. */
  static dropEntry: bool = false;
  static dropCursor: u32 = 0;
  static evictCursor: u32 = 0;
  /** todrop_entry's 9 countdowns (i32 each, indexed by in_pkts) in the edge region. */
  static todrop: usize = 0;
  /** proto/tcp.ts DIR_DOS while secure_tcp is in effect, else 0. */
  static tcpDir: u32 = 0;
  /** Fragments (frag.ts): the tracking table, the held-fragment records, their slots. */
  static fragTrack: usize = 0;
  static fragHold: usize = 0;
  static fragHeld: u32 = 0;
  static fragSent: u32 = 0;
  static fragLastMs: u32 = 0;
  /** The current fragment's source and destination as received (16 bytes each). */
  static fragKey: usize = 0;
  /** Application helpers (app.ts): records, their buckets and free stack, scratch text. */
  static appRecs: usize = 0;
  static appBuckets: usize = 0;
  static appFree: usize = 0;
  static appTop: u32 = 0;
  static appText: usize = 0;
  /** Live entries with NO_CPORT (FTP passive data not yet connected): lookups retry port 0. */
  static noCport: u32 = 0;
  /** The CRC32c table of SCTP (proto/sctp.ts), 256 × u32. */
  static crcTable: usize = 0;
}

/** Connection sync (assembly/sync.ts): the settings of syncSetup and the ring. */
export class Sync {
  /** Sync ring (records) and per-entry sync state (SYNC_CONN_SIZE each), carved by init. */
  static ring: usize = 0;
  static cap: u32 = 0;
  static n: u32 = 0;
  static conns: usize = 0;
  /** Master role on: in-direction packets run the sync decision. */
  static master: bool = false;
  static version: u32 = 1;
  static threshold: u32 = 3;
  static period: u32 = 50;
  static refreshMs: u32 = 0;
  static retries: u32 = 0;
  static persistMode: u32 = 0;
}
