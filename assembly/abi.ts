// The one ABI source shared by the WASM core and the TypeScript host.
// Every memory offset, descriptor field, verdict, drop reason, counter index and
// IPVS flag value that both sides must agree on is defined here, once.
// `_tools/gen_abi.ts` turns this file into `host/engine/abi.gen.ts`; a test fails
// when that generated file is stale. Grammar kept deliberately simple for the
// generator: one `export const NAME: type = expr;` per line, where expr uses
// integer literals, names defined above, + - * << | and parentheses.

// ---- Frame slots -------------------------------------------------------------
// Frames live in fixed slots. A received frame starts HEADROOM bytes into its
// slot, so TUN encapsulation can prepend an outer header in place (no copy).
export const SLOT_SIZE: u32 = 2048;
export const HEADROOM: u32 = 128;
export const MAX_FRAME: u32 = SLOT_SIZE - HEADROOM;

// ---- RX descriptor (host -> engine), 16 bytes --------------------------------
//  0       4     6      8       12       13       14
//  +-------+-----+------+-------+--------+--------+------+
//  | slot  | len | port | mark  | verdict| reason | pad  |
//  +-------+-----+------+-------+--------+--------+------+
// verdict and reason are written back by the engine.
export const RXD_SIZE: u32 = 16;
export const RXD_SLOT: u32 = 0;
export const RXD_LEN: u32 = 4;
export const RXD_PORT: u32 = 6;
export const RXD_MARK: u32 = 8;
export const RXD_VERDICT: u32 = 12;
export const RXD_REASON: u32 = 13;

// ---- TX descriptor (engine -> host), 16 bytes --------------------------------
//  0       4     6     8      10    12
//  +-------+-----+-----+------+-----+--------+
//  | slot  | off | len | port | pad | rx idx |
//  +-------+-----+-----+------+-----+--------+
// off is the frame start inside the slot (HEADROOM, or less after encapsulation);
// rx idx names the RX descriptor of this batch that produced the frame.
export const TXD_SIZE: u32 = 16;
export const TXD_SLOT: u32 = 0;
export const TXD_OFF: u32 = 4;
export const TXD_LEN: u32 = 6;
export const TXD_PORT: u32 = 8;
export const TXD_RX: u32 = 12;

// ---- Layout table ------------------------------------------------------------
// The engine carves its memory at init and publishes the regions the host uses
// as a table of u32 words (byte offsets into memory), indexed by these names.
export const L_RX_DESC: u32 = 0;
export const L_TX_DESC: u32 = 1;
export const L_BATCH: u32 = 2;
export const L_TX_CAP: u32 = 3;
export const L_SLOTS: u32 = 4;
export const L_SLOT_COUNT: u32 = 5;
export const L_CTL: u32 = 6;
export const L_COUNTERS: u32 = 7;
export const L_CONNS: u32 = 8;
export const L_MAX_CONNS: u32 = 9;
export const L_CONN6: u32 = 10;
export const L_MAX_CONNS6: u32 = 11;
// Conn hash buckets: bucket i's head word is at L_BUCKETS + i × CONN_SIZE (the
// heads live in the entries), for i < L_BUCKET_COUNT (= maxConns).
export const L_BUCKETS: u32 = 12;
export const L_BUCKET_COUNT: u32 = 13;
export const L_SVCS: u32 = 14;
export const L_MAX_SVCS: u32 = 15;
export const L_DESTS: u32 = 16;
export const L_MAX_DESTS: u32 = 17;
export const L_SVC_STATS: u32 = 18;
export const L_DEST_STATS: u32 = 19;
export const L_END: u32 = 20;
// WASM only: where destListInto() writes dest indices (u32 each, maxDests words).
export const L_SCRATCH: u32 = 21;
// Scheduler tables (sh, dh, mh slots; lblc/lblcr buckets): the MH table size M and the
// number of table blocks the engine was built with (EngineConfig schedTables, mhTableSize).
export const L_MH_SIZE: u32 = 22;
export const L_SCHED_TABLES: u32 = 23;
export const L_WORDS: u32 = 32;

// ---- Verdicts (per RX frame) -------------------------------------------------
export const V_NONE: u32 = 0;
export const V_TX: u32 = 1;
export const V_DROP: u32 = 2;
export const V_PASS: u32 = 3;

// ---- Reasons (u8, written with the verdict; each has a counter) --------------
// Drops: the frame is malformed or cannot be forwarded.
export const R_NONE: u32 = 0;
export const R_BAD_DESC: u32 = 1;
export const R_TRUNC_L2: u32 = 2;
export const R_TRUNC_L3: u32 = 3;
export const R_BAD_IP_VERSION: u32 = 4;
export const R_BAD_IHL: u32 = 5;
export const R_BAD_TOTLEN: u32 = 6;
export const R_BAD_IP_CSUM: u32 = 7;
export const R_IP6_EXT_CHAIN: u32 = 8;
export const R_TRUNC_L4: u32 = 9;
export const R_BAD_TCP_DOFF: u32 = 10;
export const R_BAD_UDP_LEN: u32 = 11;
export const R_FRAGMENT: u32 = 12;
export const R_TTL_EXCEEDED: u32 = 13;
export const R_NO_DEST: u32 = 14;
export const R_DEST_UNAVAILABLE: u32 = 15;
export const R_CONN_FULL: u32 = 16;
export const R_NO_NEIGH: u32 = 17;
export const R_MTU_EXCEEDED: u32 = 18;
export const R_NO_TUN_SRC: u32 = 19;
// Passes: not ours to balance; the host decides (local stack, ARP, ...).
export const R_NOT_IP: u32 = 20;
export const R_NOT_VIP: u32 = 21;
export const R_TCP_NO_SYN: u32 = 22;
export const R_NOT_L4: u32 = 23;
// A TCP or UDP packet from source port 20 (FTP data) that matches no entry: IPVS never
// schedules it (ip_vs_schedule), it goes to the local stack.
export const R_FTP_DATA: u32 = 24;
// Issue 7 (the edges). Not all passes sit after R_NOT_IP any more: REASON_PASS below says
// which reasons are passes.
// An ICMP error about a connection whose ICMP checksum does not verify (ip_vs_in_icmp drops it).
export const R_ICMP_BAD_CSUM: u32 = 25;
// Pass: an ICMP error that matches no connection, or whose quoted packet cannot be read
// (IPVS accepts it to the local stack).
export const R_ICMP_UNRELATED: u32 = 26;
// Defense (defense.ts): drop_packet dropped this new-connection packet (ip_vs_todrop).
export const R_DROP_PACKET: u32 = 27;
// Fragments (frag.ts): a non-first fragment that came before its first fragment is held in
// an engine slot, not lost: it leaves (as a TX of the batch that brings the first fragment)
// or is freed after FRAG_TIMEOUT. Counted with the drops because its RX slot is done with.
export const R_FRAG_HELD: u32 = 28;
// A TCP checksum the engine had to check does not verify: a segment with payload on an FTP
// control connection, which the helper may rewrite (IPVS tcp_csum_check drops it too).
export const R_BAD_L4_CSUM: u32 = 29;
// Pass: an SCTP packet that matches no entry and does not start with an INIT chunk (with
// sloppy_sctp 0): IPVS schedules SCTP on INIT only (sctp_conn_schedule).
export const R_SCTP_NO_INIT: u32 = 30;
// Pass: an ICMP error quoting an IPIP / IPv6-in-IP packet that is not one of the director's
// own tunnel packets on a live TUN entry (icmp_tunnel.ts), or whose client packet cannot be
// read: as R_ICMP_UNRELATED, it goes to the local stack (IPVS returns NF_ACCEPT).
export const R_ICMP_TUN_UNRELATED: u32 = 31;
// An ICMP error about one of the director's own tunnel packets (spec §4.7): consumed, never
// forwarded; the message to the client it may cause is an extra TX (icmp_tunnel.ts).
export const R_ICMP_TUNNEL: u32 = 32;
export const R_COUNT: u32 = 33;
// Pass reasons as a bit set over reason codes < 32 (R_NOT_IP .. R_FTP_DATA, R_ICMP_UNRELATED,
// R_SCTP_NO_INIT, R_ICMP_TUN_UNRELATED); no pass reason may be 32 or more.
export const REASON_PASS_MASK: u32 = (1 << R_NOT_IP) | (1 << R_NOT_VIP) | (1 << R_TCP_NO_SYN) | (1 << R_NOT_L4) | (1 << R_FTP_DATA) | (1 << R_ICMP_UNRELATED) | (1 << R_SCTP_NO_INIT) | (1 << R_ICMP_TUN_UNRELATED);

// ---- Global counters (u64 each, at L_COUNTERS) -------------------------------
export const C_RX: u32 = 0;
export const C_TX: u32 = 1;
export const C_DROP: u32 = 2;
export const C_PASS: u32 = 3;
export const C_CONN_NEW: u32 = 4;
export const C_CONN_EXPIRED: u32 = 5;
export const C_CONN_REUSED: u32 = 6;
export const C_CONNS: u32 = 7;
export const C_CONNS6: u32 = 8;
export const C_IN_PKTS: u32 = 9;
export const C_OUT_PKTS: u32 = 10;
export const C_IN_BYTES: u32 = 11;
export const C_OUT_BYTES: u32 = 12;
// Issue 7: ICMP errors the engine generated (port unreachable, time exceeded, fragmentation
// needed / packet too big), and those it had to leave out (rate limit, no route back, no
// source address, a source that must not get one); connections dropped by defense
// (drop_entry, and the table-full eviction of half-open entries).
export const C_ICMP_SENT: u32 = 13;
export const C_ICMP_SUPPRESSED: u32 = 14;
export const C_CONN_DROPPED: u32 = 15;
// Tunnel errors (icmp_tunnel.ts): fragmentation needed / packet too big about our own tunnel
// packets that lowered or refreshed a dest's path MTU (pmtu.ts pmtuLearn).
export const C_PMTU_LEARNED: u32 = 16;
export const C_REASON_BASE: u32 = 17;
export const C_COUNT: u32 = C_REASON_BASE + R_COUNT;

// ---- Per-service and per-dest stats (u64 each, STATS_WORDS per object) ------
export const S_CONNS: u32 = 0;
export const S_IN_PKTS: u32 = 1;
export const S_OUT_PKTS: u32 = 2;
export const S_IN_BYTES: u32 = 3;
export const S_OUT_BYTES: u32 = 4;
export const STATS_WORDS: u32 = 5;

// ---- IPVS connection flags (include/uapi/linux/ip_vs.h) ----------------------
export const IP_VS_CONN_F_FWD_MASK: u32 = 0x0007;
export const IP_VS_CONN_F_MASQ: u32 = 0x0000;
export const IP_VS_CONN_F_LOCALNODE: u32 = 0x0001;
export const IP_VS_CONN_F_TUNNEL: u32 = 0x0002;
export const IP_VS_CONN_F_DROUTE: u32 = 0x0003;
export const IP_VS_CONN_F_BYPASS: u32 = 0x0004;
export const IP_VS_CONN_F_SYNC: u32 = 0x0020;
export const IP_VS_CONN_F_HASHED: u32 = 0x0040;
export const IP_VS_CONN_F_NOOUTPUT: u32 = 0x0080;
export const IP_VS_CONN_F_INACTIVE: u32 = 0x0100;
export const IP_VS_CONN_F_OUT_SEQ: u32 = 0x0200;
export const IP_VS_CONN_F_IN_SEQ: u32 = 0x0400;
export const IP_VS_CONN_F_NO_CPORT: u32 = 0x0800;
export const IP_VS_CONN_F_TEMPLATE: u32 = 0x1000;
export const IP_VS_CONN_F_ONE_PACKET: u32 = 0x2000;

// ---- IPVS service flags ------------------------------------------------------
export const IP_VS_SVC_F_PERSISTENT: u32 = 0x0001;
export const IP_VS_SVC_F_HASHED: u32 = 0x0002;
export const IP_VS_SVC_F_ONEPACKET: u32 = 0x0004;
export const IP_VS_SVC_F_SCHED1: u32 = 0x0008;
export const IP_VS_SVC_F_SCHED2: u32 = 0x0010;
export const IP_VS_SVC_F_SCHED3: u32 = 0x0020;
// The scheduler flags' meanings for sh and mh (ipvsadm -b sh-fallback,sh-port,...).
export const IP_VS_SVC_F_SCHED_SH_FALLBACK: u32 = IP_VS_SVC_F_SCHED1;
export const IP_VS_SVC_F_SCHED_SH_PORT: u32 = IP_VS_SVC_F_SCHED2;
export const IP_VS_SVC_F_SCHED_MH_FALLBACK: u32 = IP_VS_SVC_F_SCHED1;
export const IP_VS_SVC_F_SCHED_MH_PORT: u32 = IP_VS_SVC_F_SCHED2;

// ---- IPVS dest flags ---------------------------------------------------------
export const IP_VS_DEST_F_AVAILABLE: u32 = 0x0001;
export const IP_VS_DEST_F_OVERLOAD: u32 = 0x0002;

// ---- Tunnel types (per dest) -------------------------------------------------
export const IP_VS_CONN_F_TUNNEL_TYPE_IPIP: u32 = 0;
export const IP_VS_CONN_F_TUNNEL_TYPE_GUE: u32 = 1;
export const IP_VS_CONN_F_TUNNEL_TYPE_GRE: u32 = 2;

// ---- Address families and protocols ------------------------------------------
export const AF_INET: u32 = 2;
export const AF_INET6: u32 = 10;
export const IPPROTO_IP: u32 = 0;
export const IPPROTO_ICMP: u32 = 1;
export const IPPROTO_IPIP: u32 = 4;
export const IPPROTO_TCP: u32 = 6;
export const IPPROTO_UDP: u32 = 17;
export const IPPROTO_IPV6: u32 = 41;
export const IPPROTO_GRE: u32 = 47;
export const IPPROTO_ESP: u32 = 50;
export const IPPROTO_AH: u32 = 51;
export const IPPROTO_ICMPV6: u32 = 58;
export const IPPROTO_SCTP: u32 = 132;

// ---- TCP states (ip_vs_proto_tcp.c numbering; names in STATE_NAMES) ----------
export const TCP_S_NONE: u32 = 0;
export const TCP_S_ESTABLISHED: u32 = 1;
export const TCP_S_SYN_SENT: u32 = 2;
export const TCP_S_SYN_RECV: u32 = 3;
export const TCP_S_FIN_WAIT: u32 = 4;
export const TCP_S_TIME_WAIT: u32 = 5;
export const TCP_S_CLOSE: u32 = 6;
export const TCP_S_CLOSE_WAIT: u32 = 7;
export const TCP_S_LAST_ACK: u32 = 8;
export const TCP_S_LISTEN: u32 = 9;
export const TCP_S_SYNACK: u32 = 10;
export const TCP_S_COUNT: u32 = 11;
export const UDP_S_NORMAL: u32 = 0;
// SCTP states (ip_vs_proto_sctp.c numbering; proto/sctp.ts holds the table): only
// ESTABLISHED counts as active.
export const SCTP_S_NONE: u32 = 0;
export const SCTP_S_INIT1: u32 = 1;
export const SCTP_S_INIT: u32 = 2;
export const SCTP_S_COOKIE_SENT: u32 = 3;
export const SCTP_S_COOKIE_REPLIED: u32 = 4;
export const SCTP_S_COOKIE_WAIT: u32 = 5;
export const SCTP_S_COOKIE: u32 = 6;
export const SCTP_S_COOKIE_ECHOED: u32 = 7;
export const SCTP_S_ESTABLISHED: u32 = 8;
export const SCTP_S_SHUTDOWN_SENT: u32 = 9;
export const SCTP_S_SHUTDOWN_RECEIVED: u32 = 10;
export const SCTP_S_SHUTDOWN_ACK_SENT: u32 = 11;
export const SCTP_S_REJECTED: u32 = 12;
export const SCTP_S_CLOSED: u32 = 13;
export const SCTP_S_COUNT: u32 = 14;
// Persistence template states (the `state` of an entry with IP_VS_CONN_F_TEMPLATE).
export const IP_VS_CTPL_S_NONE: u32 = 0;
export const IP_VS_CTPL_S_ASSURED: u32 = 1;
// A template whose timer fires while it still controls connections is kept and retried
// with this timeout, seconds (ip_vs_conn.c ip_vs_conn_expire).
export const TEMPLATE_RETRY: u32 = 60;

// ---- Timeout slots (seconds, settable; index into the engine's timeout table) -
export const T_TCP_BASE: u32 = 0;
export const T_UDP: u32 = TCP_S_COUNT;
export const T_NEW: u32 = TCP_S_COUNT + 1;
export const T_COUNT: u32 = TCP_S_COUNT + 2;

// ---- Schedulers (registry ids) -----------------------------------------------
export const SCHED_RR: u32 = 0;
export const SCHED_WRR: u32 = 1;
export const SCHED_WLC: u32 = 2;
export const SCHED_LC: u32 = 3;
export const SCHED_SED: u32 = 4;
export const SCHED_NQ: u32 = 5;
export const SCHED_FO: u32 = 6;
export const SCHED_OVF: u32 = 7;
export const SCHED_LBLC: u32 = 8;
export const SCHED_LBLCR: u32 = 9;
export const SCHED_DH: u32 = 10;
export const SCHED_SH: u32 = 11;
export const SCHED_MH: u32 = 12;
export const SCHED_TWOS: u32 = 13;
export const SCHED_COUNT: u32 = 14;
export const NO_DEST: u32 = 0xffffffff;

// ---- Sysctls (index into the engine's sysctl table) --------------------------
export const SYS_CONN_REUSE_MODE: u32 = 0;
export const SYS_EXPIRE_NODEST_CONN: u32 = 1;
export const SYS_SLOPPY_TCP: u32 = 2;
export const SYS_PMTU_DISC: u32 = 3;
export const SYS_EXPIRE_QUIESCENT_TEMPLATE: u32 = 4;
// lblc_expiration and lblcr_expiration, seconds (default 86400).
export const SYS_LBLC_EXPIRATION: u32 = 5;
export const SYS_LBLCR_EXPIRATION: u32 = 6;
// net.ipv4.ip_unprivileged_port_start (default 1024): the FTP fallback of the service
// lookup takes destination port 20 and ports at or above it.
export const SYS_IP_UNPRIVILEGED_PORT_START: u32 = 7;
// net.ipv4.icmp_msgs_per_sec / icmp_msgs_burst (defaults 1000 / 50): one token bucket for
// every ICMP and ICMPv6 error the engine generates; 0 messages per second = no limit.
export const SYS_ICMP_MSGS_PER_SEC: u32 = 8;
export const SYS_ICMP_MSGS_BURST: u32 = 9;
// Defense strategies (ip_vs_ctl.c; spec §4.9, §3.4), driven by table pressure instead of free
// memory: "memory is short" when fewer than amemthresh entries are free below the connection
// limit. amemthresh in entries (default maxConns / 16), am_droprate (10); drop_entry,
// drop_packet, secure_tcp 0 off, 1 automatic (off now), 2 automatic (on now), 3 always.
// conn_max: most live entries (0 = the table size, maxConns).
export const SYS_AMEMTHRESH: u32 = 10;
export const SYS_AM_DROPRATE: u32 = 11;
export const SYS_DROP_ENTRY: u32 = 12;
export const SYS_DROP_PACKET: u32 = 13;
export const SYS_SECURE_TCP: u32 = 14;
export const SYS_CONN_MAX: u32 = 15;
// The FTP helper's port (ip_vs_ftp "ports", one here; default 21, 0 = off): NAT connections
// to this virtual port get PORT/EPRT and 227/229 handling (app_ftp.ts).
export const SYS_FTP_PORT: u32 = 16;
// sloppy_sctp (default 0): any SCTP packet but ABORT may create an entry, not only INIT.
export const SYS_SLOPPY_SCTP: u32 = 17;
export const SYS_COUNT: u32 = 18;

// ---- Errno values returned (negated) by control operations -------------------
export const ENOENT: u32 = 2;
export const ESRCH: u32 = 3;
export const ENOMEM: u32 = 12;
export const EBUSY: u32 = 16;
export const EEXIST: u32 = 17;
export const EINVAL: u32 = 22;
export const ERANGE: u32 = 34;

// ---- Control mailbox (at L_CTL): the host writes a record, then calls an op --
// Service record.
export const CTL_AF: u32 = 0;
export const CTL_PROTO: u32 = 1;
export const CTL_SCHED: u32 = 2;
export const CTL_FWD: u32 = 3;
export const CTL_PORT: u32 = 4;
export const CTL_FLAGS: u32 = 8;
export const CTL_FWMARK: u32 = 12;
export const CTL_TIMEOUT: u32 = 16;
export const CTL_NETMASK: u32 = 20;
export const CTL_WEIGHT: u32 = 24;
export const CTL_UTHRESH: u32 = 28;
export const CTL_LTHRESH: u32 = 32;
export const CTL_TUN_TYPE: u32 = 36;
export const CTL_TUN_PORT: u32 = 38;
export const CTL_TUN_FLAGS: u32 = 40;
// setPort: MTU (u32), and which tunnel source addresses CTL_FLAGS says are present.
export const CTL_MTU: u32 = 44;
export const CTL_ADDR: u32 = 48;
export const CTL_MAC: u32 = 64;
export const CTL_ADDR2: u32 = 80;
export const CTL_SIZE: u32 = 128;
// Field widths: AF, PROTO, SCHED, FWD, TUN_TYPE are u8; PORT and TUN_PORT are u16 in
// network byte order (as on the wire); TUN_FLAGS is u16; the rest are u32 little-endian
// (WEIGHT signed). Addresses are network order, IPv4 in the first 4 bytes.
// setPort: MAC at CTL_MAC, MTU at CTL_MTU, IPv4 source at CTL_ADDR, IPv6 source at
// CTL_ADDR2, presence bits PORT_F_* in CTL_FLAGS.
// setNeigh: address at CTL_ADDR (ignored for a default route), MAC at CTL_MAC.
export const PORT_F_ADDR4: u32 = 1;
export const PORT_F_ADDR6: u32 = 2;

// ---- Ports and neighbours -----------------------------------------------------
// Director ports (interfaces) are numbered [0, PORT_MAX); each has a MAC, an MTU
// (PORT_MTU_DEFAULT until set) and optional tunnel source addresses. The neighbour
// table maps (af, addr) to (MAC, port) and holds at most NEIGH_MAX entries, plus one
// default route per family.
export const PORT_MAX: u32 = 16;
export const PORT_MTU_DEFAULT: u32 = 1500;
export const NEIGH_MAX: u32 = 4096;

// ---- Connection entry (64 bytes, one cache line; at L_CONNS) ------------------
// One hash node per entry, keyed on the client side (af, proto, caddr, cport), so
// the in and the out lookup of a connection walk chains of the same table
// (conn.ts); CN_LINK_IN is that node's link (templates use it in their own table).
// The table has one bucket per entry, and bucket i's head is stored in entry i
// (CN_BUCKET): no separate bucket array, 64 bytes per connection in all
// (ARCHITECTURE.md, "Connection table memory"). For IPv6 entries the three address
// words hold each address's last 32 bits (a cheap first compare) and CN_EXT
// indexes the 48-byte IPv6 address block. The link word of a free entry (used = 0)
// chains the free list.
//  0 caddr  4 vaddr  8 daddr  12 cport 14 vport 16 dport 18 proto 19 af
// 20 flags 24 dest 28 expires(ms) 32 timeout(ms) 36 link 40 control 44 in-pkts
// 48 n-control 50 state 51 used 52 ext 56 svc 60 bucket head (of bucket i)
// Bytes 12-19 (ports, proto, af) are compared as one masked u64 by the lookups.
export const CONN_SIZE: u32 = 64;
export const CN_CADDR: u32 = 0;
export const CN_VADDR: u32 = 4;
export const CN_DADDR: u32 = 8;
export const CN_CPORT: u32 = 12;
export const CN_VPORT: u32 = 14;
export const CN_DPORT: u32 = 16;
export const CN_PROTO: u32 = 18;
export const CN_AF: u32 = 19;
export const CN_FLAGS: u32 = 20;
export const CN_DEST: u32 = 24;
export const CN_EXPIRES: u32 = 28;
export const CN_TIMEOUT: u32 = 32;
export const CN_LINK_IN: u32 = 36;
export const CN_CONTROL: u32 = 40;
export const CN_IN_PKTS: u32 = 44;
export const CN_N_CONTROL: u32 = 48;
export const CN_STATE: u32 = 50;
export const CN_USED: u32 = 51;
export const CN_EXT: u32 = 52;
export const CN_SVC: u32 = 56;
export const CN_BUCKET: u32 = 60;
// IPv6 address block: caddr, vaddr, daddr, 16 bytes each. The first word of a
// free block chains the block free list.
export const CONN6_SIZE: u32 = 48;

// ---- Connection sync (ip_vs_sync.c; assembly/sync.ts, host/sync/) ---------------
// Master: with the master role on (syncSetup), every packet handled in the in
// direction runs IPVS's sync decision (spec §7.5); an entry that must be sent is
// copied as one record into the sync ring (L_SYNC_RING, L_SYNC_CAP records), which
// the host takes after the batch with syncDrain(). Backup: the host writes one
// record of the same layout into the CTL mailbox and calls syncConn(now), which
// creates or updates the entry (spec §7.6). Record, SYNC_REC_SIZE bytes; ports and
// addresses in network order (IPv4 in the first 4 address bytes), the rest LE:
//  0 af u8 | 1 proto u8 | 2 state u16 | 4 flags u32 | 8 cport | 10 vport | 12 dport
// 14 options u8 (SR_OPT_*) | 15 pad | 16 fwmark u32 | 20 timeout (s) u32 | 24 caddr
// 40 vaddr | 56 daddr | 72 in_seq {init_seq, delta, previous_delta} u32 × 3 | 84 out_seq
// The seq words are the FTP helper's adjustment (app.ts), valid with SR_OPT_SEQ (the v1
// option 1, spec §7.3); the record fits the CTL mailbox.
export const L_SYNC_RING: u32 = 24;
export const L_SYNC_CAP: u32 = 25;
export const SYNC_REC_SIZE: u32 = 96;
export const SR_AF: u32 = 0;
export const SR_PROTO: u32 = 1;
export const SR_STATE: u32 = 2;
export const SR_FLAGS: u32 = 4;
export const SR_CPORT: u32 = 8;
export const SR_VPORT: u32 = 10;
export const SR_DPORT: u32 = 12;
export const SR_FWMARK: u32 = 16;
export const SR_TIMEOUT: u32 = 20;
export const SR_CADDR: u32 = 24;
export const SR_VADDR: u32 = 40;
export const SR_DADDR: u32 = 56;
export const SR_OPTS: u32 = 14;
export const SR_IN_SEQ: u32 = 72;
export const SR_OUT_SEQ: u32 = 84;
export const SR_OPT_SEQ: u32 = 1;
// Ring records per RX frame: the entry and up to three controllers (so it never fills).
export const SYNC_RING_PER_FRAME: u32 = 4;
// Flags a backup takes from a message, and the ones it updates on an existing entry.
export const IP_VS_CONN_F_BACKUP_MASK: u32 = 0x1f87;
export const IP_VS_CONN_F_BACKUP_UPD_MASK: u32 = 0x0700;
export const IP_VS_CONN_F_SEQ_MASK: u32 = 0x0600;
// sysctl sync_threshold "3 50", and a backup's timeout for templates without one.
export const SYNC_THRESHOLD_DEFAULT: u32 = 3;
export const SYNC_PERIOD_DEFAULT: u32 = 50;
export const SYNC_TEMPLATE_TIMEOUT: u32 = 180;

// ---- Fragments (issue 7: frag.ts) ------------------------------------------------
// Fragment tracking, not reassembly: the first fragment (offset 0) goes through the pipeline
// with its L4 header; its outcome is remembered under (af, src, dst, id, protocol) for
// FRAG_TIMEOUT seconds in a FRAG_TRACK-entry, 4-way set-associative table, and the other
// fragments of the datagram follow it: to the same real server (TX), or passed or dropped.
// Fragments that come before their first one wait in FRAG_HOLD engine-owned frame slots,
// after the 2 × batch others (L_SLOT_COUNT = 2 × batch + FRAG_HOLD, L_TX_CAP as many).
export const FRAG_TRACK: u32 = 1024;
export const FRAG_HOLD: u32 = 64;
export const FRAG_TIMEOUT: u32 = 30;

// ---- Application helpers (issue 7: app.ts, app_ftp.ts) ---------------------------
// FTP control connections that carry helper state (passive request, sequence deltas) at
// once; a later one gets no rewriting until one is free again.
export const APP_MAX: u32 = 1024;
