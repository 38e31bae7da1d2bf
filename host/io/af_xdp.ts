// AF_XDP frame backend: one XDP socket per interface (receive queue 0), fed by
// the redirect program of xdp_prog.ts. Runtime-agnostic. (System calls through
// Sys; the Deno binding is af_xdp_deno.ts.) Design (issue 5; the feasibility probe is
// baselines.md §3f):
//  - UMEM = the engine's own host slots, not a region of its own: the engine's
//    memory never grows after init (host/engine/frames.ts), so there is no
//    room to add one. Each port registers the page-aligned span around its
//    share of the host slots (xdpPlan) with unaligned chunks, so a fill address
//    can sit anywhere: slot + HEADROOM − XDP_PACKET_HEADROOM, and the kernel
//    then writes each frame exactly where the engine expects it (slot +
//    HEADROOM). Received frames are never copied by us; RX descriptors name
//    their slot. V8 does not move a wasm memory (undocumented; the RX ring
//    backend relies on it too), and the kernel pins the pages while the
//    socket lives.
//  - A port's share is RX chunks (in FILL or RX ring, or held for one round)
//    and TX chunks. A round's RX slots go back to FILL at the next receive:
//    by then the director has sent the round's TX frames and run its slow path
//    on them (FramePort's invariant).
//  - TX: each TX frame is copied (one memmove, same memory) into a free TX
//    chunk of the sending port, wherever the engine built it (an RX slot of
//    any port, or an engine-owned slot), and the chunk returns on its
//    COMPLETION entry. One socket per interface, each with its own UMEM, so
//    forwarding to another port needs no XDP_SHARED_UMEM; and since no RX slot
//    is referenced after the send, zero-copy drivers (which DMA from the chunk
//    after sendto returns) and IFF_TX_SKB_NO_LINEAR devices are safe too.
//  - Kicks: copy mode transmits only inside sendto() (at most 32 descriptors a
//    call, xsk.c TX_BATCH_SIZE, then EAGAIN), so sendBatch kicks with
//    sendto(MSG_DONTWAIT) until the TX ring is consumed; zero-copy kicks only
//    when the kernel sets XDP_RING_NEED_WAKEUP. Receive never blocks; the
//    director's idle poll(POLLIN) on the socket wakes when the RX ring fills.
//  - Mode: native XDP where the driver has it (veth does), else generic XDP;
//    zero-copy where the driver offers it, else copy (veth: copy). A refusal
//    throws "Cannot open <if> for AF_XDP: <step> failed: <errno text>".
// Veths: no program is needed on the peer (that pitfall concerns XDP_REDIRECT
// into a veth, ndo_xdp_xmit; here native XDP runs on our own veth, which gives
// it NAPI, and transmission takes the skb path). Attaching turns TSO off on the
// peer and caps its MTU (3506 here), so no GSO super-frame reaches the UMEM.
// The data-plane thread needs priority over the device's NAPI: otherwise, under
// overload, NAPI copies frames into the UMEM only to drop them on an empty FILL
// ring (with sched autogroups, `nice` must apply to the session's group:
// bench/RESULTS.md, "AF_XDP").
// Limits: receive queue 0 only (an interface with more queues is refused with a
// hint); frames up to 1792 bytes (a 2048-byte chunk less the kernel's 256 bytes
// of XDP headroom); a VLAN tag a NIC strips before XDP is lost. XDP gives no
// checksum status, so frames a local stack sent over a veth CHECKSUM_PARTIAL
// (pitfall 7) are recognised by their checksum field (csum_fixup.ts
// looksPartial: one header parse per frame) and completed. Ring indices use
// Atomics (the kernel updates them concurrently); entries use native byte
// order (x86_64 Linux, like sys.ts).
import { HEADROOM, MAX_FRAME, SLOT_SIZE } from "../engine/abi.gen.ts";
import {
  emptyPortStats,
  type FrameArea,
  type FramePort,
  type PortStats,
  putRxDesc,
  type RxCursor,
  txFrameAt,
  txFrameLen,
} from "./frame_io.ts";
import { completeL4Checksum, looksPartial } from "./csum_fixup.ts";
import { hwAddr, rxQueues } from "./netdev.ts";
import {
  checked,
  EAGAIN,
  EBUSY,
  ENOBUFS,
  errnoMessage,
  MAP_SHARED,
  MSG_DONTWAIT,
  PROT_READ,
  PROT_WRITE,
  setsockoptInt,
  SOCK_CLOEXEC,
  SOCK_RAW,
  type Sys,
} from "./sys.ts";
import {
  attachXdp,
  createXskMap,
  loadXdpProgram,
  redirectProgram,
  setXsk,
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_SKB_MODE,
} from "./xdp_prog.ts";

const AF_XDP = 44;
const SOL_XDP = 283;
// Socket options (linux/if_xdp.h).
const XDP_MMAP_OFFSETS = 1;
const XDP_RX_RING = 2;
const XDP_TX_RING = 3;
const XDP_UMEM_REG = 4;
const XDP_UMEM_FILL_RING = 5;
const XDP_UMEM_COMPLETION_RING = 6;
const XDP_STATISTICS = 7;
const XDP_OPTIONS = 8;
const XDP_OPTIONS_ZEROCOPY = 1;
const XDP_UMEM_UNALIGNED_CHUNK_FLAG = 1;
// Bind flags.
const XDP_COPY = 1 << 1;
const XDP_USE_NEED_WAKEUP = 1 << 3;
const XDP_RING_NEED_WAKEUP = 1;
// mmap offsets of the four rings.
const PGOFF_RX_RING = 0n;
const PGOFF_TX_RING = 0x80000000n;
const PGOFF_FILL_RING = 0x100000000n;
const PGOFF_COMPLETION_RING = 0x180000000n;
const MAP_POPULATE = 0x8000;
/** The kernel writes a frame this far into its chunk (include/uapi/linux/bpf.h). */
const XDP_PACKET_HEADROOM = 256;
/** UMEM chunk size: frames of up to 2048 − 256 bytes, more than MAX_FRAME. */
const CHUNK = 2048;
const PAGE = 4096;
/** Unaligned-mode descriptors carry the frame's offset in their top 16 bits (xsk_buff_pool.h). */
const OFFSET_SHIFT = 48;
/** struct xdp_desc: u64 addr, u32 len, u32 options; as u32 words. */
const DESC_WORDS = 4;
// Kick outcomes that mean "call again" (EAGAIN: more than a batch, or completion ring full).
/** Kicks without progress before sendBatch leaves the rest to the next kick. */
const KICK_TRIES = 4;

/** A port's share of the host slots: RX chunks then TX chunks, each count a power of two. */
export interface XskSlots {
  firstSlot: number;
  rx: number;
  tx: number;
}

function floorPow2(n: number): number {
  return n < 1 ? 0 : 2 ** Math.floor(Math.log2(n));
}

/**
 * Splits the host slots `[0, batch)` evenly between `ports` XDP sockets, each
 * share half RX chunks, half TX chunks (ring sizes must be powers of two).
 * Returns null when a port would get fewer than 4 RX chunks.
 */
export function xdpPlan(area: FrameArea, ports: number): XskSlots[] | null {
  const share = floorPow2(Math.floor(area.batch / ports));
  if (share < 8) return null;
  return Array.from({ length: ports }, (_, i) => ({
    firstSlot: i * share,
    rx: share / 2,
    tx: share / 2,
  }));
}

export interface AfXdpOptions {
  /** Generic XDP (skb) even where the driver has native XDP (default: native, else generic). */
  generic?: boolean;
  /** Bind in copy mode even where the driver offers zero-copy. */
  copy?: boolean;
  /**
   * The director's MAC on this port: unicast frames to any other are filtered (default: the
   * interface's own, SIOCGIFHWADDR). The port's configured `mac` when it overrides sysfs.
   */
  mac?: Uint8Array;
}

/** How the kernel carries this port's frames, for the log. */
export interface XdpMode {
  xdp: "native" | "generic";
  zeroCopy: boolean;
}

/** Kernel counters of an XDP socket (struct xdp_statistics). */
export interface XskStats {
  rxDropped: number;
  rxInvalidDescs: number;
  txInvalidDescs: number;
  rxRingFull: number;
  rxFillRingEmpty: number;
  txRingEmpty: number;
}

/** One mmap'ed ring: producer and consumer words, flags, and the entries. */
interface Ring {
  addr: bigint;
  bytes: number;
  producer: Uint32Array;
  consumer: Uint32Array;
  flags: Uint32Array;
  /** Entries as u32 words: 2 per u64 address, DESC_WORDS per descriptor. */
  words: Uint32Array;
  mask: number;
  /** Our side's index (producer or consumer), mirrored into the ring on publish. */
  head: number;
}

/** Maps one ring (`entry` bytes each) at page offset `pgoff` of socket `fd`. */
function mapRing(
  sys: Sys,
  fd: number,
  offsets: DataView,
  which: number,
  entries: number,
  entry: number,
  pgoff: bigint,
  what: string,
): Ring {
  const o = which * 32; // struct xdp_ring_offset: producer, consumer, desc, flags (u64 each)
  const producer = Number(offsets.getBigUint64(o, true));
  const consumer = Number(offsets.getBigUint64(o + 8, true));
  const desc = Number(offsets.getBigUint64(o + 16, true));
  const flags = Number(offsets.getBigUint64(o + 24, true));
  const bytes = desc + entries * entry;
  const addr = sys.mmap(0n, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
  if (addr === -1n) throw new Error(errnoMessage(sys, `mmap(${what} ring)`));
  const buf = sys.view(addr, bytes);
  return {
    addr,
    bytes,
    producer: new Uint32Array(buf, producer, 1),
    consumer: new Uint32Array(buf, consumer, 1),
    flags: new Uint32Array(buf, flags, 1),
    words: new Uint32Array(buf, desc, (entries * entry) / 4),
    mask: entries - 1,
    head: 0,
  };
}

/**
 * Opens an XDP socket on `ifname`, receive queue 0, over the host slots
 * `slots` of `area`, and attaches the redirect program. Needs CAP_NET_ADMIN,
 * CAP_BPF (root) and pinnable memory (RLIMIT_MEMLOCK or CAP_IPC_LOCK).
 */
export function openAfXdp(
  sys: Sys,
  ifname: string,
  area: FrameArea,
  slots: XskSlots,
  opts: AfXdpOptions = {},
): FramePort & { mode: XdpMode; kernelStats(): XskStats } {
  const fds: number[] = [];
  const rings: Ring[] = [];
  const fail = (e: unknown): never => {
    for (const r of rings) sys.munmap(r.addr, r.bytes);
    for (const fd of fds.reverse()) sys.close(fd);
    throw new Error(`Cannot open ${ifname} for AF_XDP: ${(e as Error).message}`);
  };
  try {
    const index = sys.ifNameToIndex(ifname);
    if (index === 0) throw new Error("no such interface");
    const queues = rxQueues(sys, ifname);
    if (queues > 1) {
      throw new Error(
        `it has ${queues} receive queues and io xdp serves queue 0 only ` +
          `(ethtool -L ${ifname} rx 1, or combined 1; or use io ring)`,
      );
    }
    const mac = opts.mac ?? hwAddr(sys, ifname);
    const umem = umemSpan(sys, area, slots);
    const fd = checked(sys, sys.socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0), "socket(AF_XDP)");
    fds.push(fd);
    const reg = new Uint8Array(32); // struct xdp_umem_reg
    const rv = new DataView(reg.buffer);
    rv.setBigUint64(0, sys.addressOf(area.memory, umem.start), true);
    rv.setBigUint64(8, BigInt(umem.bytes), true);
    rv.setUint32(16, CHUNK, true);
    rv.setUint32(20, 0, true); // headroom
    rv.setUint32(24, XDP_UMEM_UNALIGNED_CHUNK_FLAG, true);
    checked(sys, sys.setsockopt(fd, SOL_XDP, XDP_UMEM_REG, reg, reg.length), "XDP_UMEM_REG");
    setsockoptInt(sys, fd, SOL_XDP, XDP_UMEM_FILL_RING, slots.rx, "XDP_UMEM_FILL_RING");
    setsockoptInt(sys, fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, slots.tx, "XDP_UMEM_COMPLETION_RING");
    setsockoptInt(sys, fd, SOL_XDP, XDP_RX_RING, slots.rx, "XDP_RX_RING");
    setsockoptInt(sys, fd, SOL_XDP, XDP_TX_RING, slots.tx, "XDP_TX_RING");
    const off = new Uint8Array(128); // struct xdp_mmap_offsets: rx, tx, fr, cr
    const offLen = new Uint8Array(4);
    new DataView(offLen.buffer).setUint32(0, off.length, true);
    checked(sys, sys.getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, off, offLen), "XDP_MMAP_OFFSETS");
    const ov = new DataView(off.buffer);
    const rx = mapRing(sys, fd, ov, 0, slots.rx, 16, PGOFF_RX_RING, "RX");
    rings.push(rx);
    const tx = mapRing(sys, fd, ov, 1, slots.tx, 16, PGOFF_TX_RING, "TX");
    rings.push(tx);
    const fill = mapRing(sys, fd, ov, 2, slots.rx, 8, PGOFF_FILL_RING, "FILL");
    rings.push(fill);
    const comp = mapRing(sys, fd, ov, 3, slots.tx, 8, PGOFF_COMPLETION_RING, "COMPLETION");
    rings.push(comp);
    const sxdp = new Uint8Array(16); // struct sockaddr_xdp
    const sv = new DataView(sxdp.buffer);
    sv.setUint16(0, AF_XDP, true);
    sv.setUint16(2, XDP_USE_NEED_WAKEUP | (opts.copy ? XDP_COPY : 0), true);
    sv.setUint32(4, index, true);
    sv.setUint32(8, 0, true); // queue
    const port = new AfXdpPort(sys, ifname, fd, area, slots, umem.start, { rx, tx, fill, comp });
    port.mac = mac;
    checked(sys, sys.bind(fd, sxdp, sxdp.length), `bind(AF_XDP, ${ifname} queue 0)`);
    const mapFd = createXskMap(sys, 1);
    fds.push(mapFd);
    setXsk(sys, mapFd, 0, fd);
    const progFd = loadXdpProgram(sys, redirectProgram(mapFd));
    fds.push(progFd);
    let xdp: XdpMode["xdp"] = "native";
    let link = opts.generic ? -1 : attachXdp(sys, progFd, index, XDP_FLAGS_DRV_MODE);
    // EBUSY: another program is attached already; generic mode would be refused the same way.
    if (link < 0 && -link !== EBUSY) {
      xdp = "generic";
      link = attachXdp(sys, progFd, index, XDP_FLAGS_SKB_MODE);
    }
    if (link < 0) {
      const busy = -link === EBUSY ? " (another XDP program is attached)" : "";
      throw new Error(errnoMessage(sys, `bpf(LINK_CREATE, XDP ${xdp})`, -link) + busy);
    }
    fds.push(link);
    const optv = new Uint8Array(4);
    const optLen = new Uint8Array(4);
    new DataView(optLen.buffer).setUint32(0, 4, true);
    const zc = sys.getsockopt(fd, SOL_XDP, XDP_OPTIONS, optv, optLen) === 0 &&
      (new DataView(optv.buffer).getUint32(0, true) & XDP_OPTIONS_ZEROCOPY) !== 0;
    port.mode = { xdp, zeroCopy: zc };
    port.ownedFds = fds.filter((f) => f !== fd);
    return port;
  } catch (e) {
    return fail(e);
  }
}

/**
 * The UMEM of a port: the page-aligned span from its first fill address
 * (slot + HEADROOM − XDP_PACKET_HEADROOM, which may reach into the slot
 * before) to past its last slot, as byte offsets in the engine memory.
 */
export function umemSpan(sys: Sys, area: FrameArea, s: XskSlots): { start: number; bytes: number } {
  const base = sys.addressOf(area.memory);
  const page = BigInt(PAGE);
  const first = base +
    BigInt(area.slots + s.firstSlot * SLOT_SIZE + HEADROOM - XDP_PACKET_HEADROOM);
  const end = base + BigInt(area.slots + (s.firstSlot + s.rx + s.tx) * SLOT_SIZE);
  const start = Number(first - first % page - base);
  const stop = Math.min(Number((end + page - 1n) / page * page - base), area.memory.byteLength);
  if (start < 0 || end - base > BigInt(stop)) {
    throw new Error("the engine's host slots cannot hold a UMEM (memory not page-aligned)");
  }
  return { start, bytes: stop - start };
}

class AfXdpPort implements FramePort {
  readonly ifname: string;
  readonly kind = "af_xdp" as const;
  readonly fd: number;
  readonly stats: PortStats = emptyPortStats();
  mode: XdpMode = { xdp: "native", zeroCopy: false };
  /** The interface's MAC: unicast to anyone else is filtered (a promiscuous port, a bridge). */
  mac: Uint8Array | null = null;
  /** Map, program and link descriptors, closed with the socket. */
  ownedFds: number[] = [];
  #sys: Sys;
  #area: FrameArea;
  #slots: XskSlots;
  #mem: Uint8Array;
  #memDv: DataView;
  /** Engine-memory offset of UMEM address 0. */
  #umem: number;
  #rx: Ring;
  #tx: Ring;
  #fill: Ring;
  #comp: Ring;
  /** RX slots handed to the engine last round, returned to FILL at the next one. */
  #held: Uint32Array;
  #heldCount = 0;
  /** Free TX chunk slots (a stack). */
  #txFree: Uint32Array;
  #txFreeCount: number;
  #kickEmpty = new Uint8Array(0);
  /** One zeroed struct mmsghdr (no buffers) for RX wakeups. */
  #wakeMsg = new Uint8Array(64);
  #closed = false;

  constructor(
    sys: Sys,
    ifname: string,
    fd: number,
    area: FrameArea,
    slots: XskSlots,
    umem: number,
    r: { rx: Ring; tx: Ring; fill: Ring; comp: Ring },
  ) {
    this.#sys = sys;
    this.ifname = ifname;
    this.fd = fd;
    this.#area = area;
    this.#slots = slots;
    this.#mem = new Uint8Array(area.memory);
    this.#memDv = new DataView(area.memory);
    this.#umem = umem;
    this.#rx = r.rx;
    this.#tx = r.tx;
    this.#fill = r.fill;
    this.#comp = r.comp;
    this.#held = new Uint32Array(slots.rx);
    this.#txFree = new Uint32Array(slots.tx);
    for (let i = 0; i < slots.tx; i++) this.#txFree[i] = slots.firstSlot + slots.rx + i;
    this.#txFreeCount = slots.tx;
    // Every RX chunk starts in the FILL ring.
    for (let i = 0; i < slots.rx; i++) this.#held[i] = slots.firstSlot + i;
    this.#heldCount = slots.rx;
    this.#refill();
  }

  /** UMEM address of the chunk whose frame lands at `slot`'s HEADROOM. */
  #fillAddr(slot: number): number {
    return this.#area.slots + slot * SLOT_SIZE + HEADROOM - XDP_PACKET_HEADROOM - this.#umem;
  }

  /** Puts the held RX slots back into the FILL ring (it has room for all of them). */
  #refill(): void {
    const f = this.#fill;
    const w = f.words;
    for (let i = 0; i < this.#heldCount; i++) {
      const at = ((f.head + i) & f.mask) * 2;
      w[at] = this.#fillAddr(this.#held[i]);
      w[at + 1] = 0;
    }
    if (this.#heldCount === 0) return;
    f.head = (f.head + this.#heldCount) >>> 0;
    this.#heldCount = 0;
    Atomics.store(f.producer, 0, f.head);
    // Zero-copy drivers may sleep until told the FILL ring has chunks again:
    // a zero-length recvmsg is the RX wakeup (xsk_recvmsg → ndo_xsk_wakeup).
    if (this.mode.zeroCopy && Atomics.load(f.flags, 0) & XDP_RING_NEED_WAKEUP) {
      this.#sys.recvmmsg(this.fd, this.#wakeMsg, 1, MSG_DONTWAIT);
    }
  }

  /** Takes finished transmissions off the COMPLETION ring: their TX chunks are free again. */
  #reap(): void {
    const c = this.#comp;
    const end = Atomics.load(c.producer, 0);
    if (end === c.head) return;
    const first = this.#area.slots - this.#umem + HEADROOM;
    for (; c.head !== end; c.head = (c.head + 1) >>> 0) {
      const addr = c.words[(c.head & c.mask) * 2];
      this.#txFree[this.#txFreeCount++] = (addr - first) / SLOT_SIZE;
    }
    Atomics.store(c.consumer, 0, c.head);
  }

  recvBatch(cur: RxCursor, limit: number, port: number): number {
    // Closed first: close() unmapped the FILL ring that #refill writes.
    if (this.#closed) return 0;
    this.#refill();
    const r = this.#rx;
    const end = Atomics.load(r.producer, 0);
    const avail = (end - r.head) >>> 0;
    const n = Math.min(avail, Math.max(0, Math.min(limit, this.#area.batch) - cur.desc));
    if (n === 0) return 0;
    const area = this.#area;
    const mem = this.#mem;
    const mdv = this.#memDv;
    const w = r.words;
    const mac = this.mac;
    const firstRx = this.#slots.firstSlot;
    let written = 0;
    for (let k = 0; k < n; k++) {
      const d = ((r.head + k) & r.mask) * DESC_WORDS;
      const hi = w[d + 1];
      // Unaligned mode: the chunk's base in the low 48 bits, the frame's offset in it on top.
      const at = this.#umem + w[d] + (hi & 0xffff) * 0x100000000 + (hi >>> (OFFSET_SHIFT - 32));
      let len = w[d + 2];
      const slot = Math.floor((at - area.slots) / SLOT_SIZE);
      if (slot < firstRx || slot >= firstRx + this.#slots.rx) {
        this.stats.rxOversize++; // a descriptor outside our chunks: never seen, never trusted
        continue;
      }
      this.#held[this.#heldCount++] = slot;
      cur.ring++;
      const frameOff = area.slots + slot * SLOT_SIZE + HEADROOM;
      if (at !== frameOff) mem.copyWithin(frameOff, at, at + len);
      if (
        mac !== null && (mem[frameOff] & 1) === 0 &&
        (mem[frameOff] !== mac[0] || mem[frameOff + 1] !== mac[1] ||
          mem[frameOff + 2] !== mac[2] || mem[frameOff + 3] !== mac[3] ||
          mem[frameOff + 4] !== mac[4] || mem[frameOff + 5] !== mac[5])
      ) {
        this.stats.rxFiltered++;
        continue;
      }
      if (len > MAX_FRAME) {
        this.stats.rxOversize++;
        len = 0xffff; // the engine drops it as bad_desc and counts it
      } else if (looksPartial(mem, frameOff, len) && completeL4Checksum(mem, frameOff, len)) {
        this.stats.rxCsumFixed++; // CHECKSUM_PARTIAL from a local stack over veth
      }
      putRxDesc(mdv, area, cur.desc, slot, len, port);
      cur.desc++;
      written++;
    }
    r.head = (r.head + n) >>> 0;
    Atomics.store(r.consumer, 0, r.head);
    this.stats.rxFrames += written;
    return written;
  }

  /** Copies a frame (at offset `from`, or `src`) into a free TX chunk and queues it. */
  #queue(from: number, len: number, src: Uint8Array | null): boolean {
    if (this.#txFreeCount === 0 || len > MAX_FRAME) return false;
    const slot = this.#txFree[--this.#txFreeCount];
    const to = this.#area.slots + slot * SLOT_SIZE + HEADROOM;
    if (src) this.#mem.set(src, to);
    else this.#mem.copyWithin(to, from, from + len);
    const t = this.#tx;
    const d = (t.head & t.mask) * DESC_WORDS;
    t.words[d] = to - this.#umem;
    t.words[d + 1] = 0;
    t.words[d + 2] = len;
    t.words[d + 3] = 0;
    t.head = (t.head + 1) >>> 0;
    return true;
  }

  /**
   * Publishes the queued TX descriptors and kicks the kernel until it has
   * taken them all (copy mode sends inside sendto, 32 a call) or stops
   * making progress; what is left goes out with the next kick.
   */
  #kick(): void {
    const t = this.#tx;
    Atomics.store(t.producer, 0, t.head);
    if (this.mode.zeroCopy && !(Atomics.load(t.flags, 0) & XDP_RING_NEED_WAKEUP)) return;
    let stuck = 0;
    let seen = Atomics.load(t.consumer, 0);
    while (seen !== t.head && stuck < KICK_TRIES) {
      const r = this.#sys.sendto(this.fd, this.#kickEmpty, 0, MSG_DONTWAIT);
      if (r < 0) {
        const e = this.#sys.errno();
        if (e !== EAGAIN && e !== EBUSY && e !== ENOBUFS) {
          this.stats.txErrors++;
          return;
        }
        this.#reap(); // EAGAIN may mean a full COMPLETION ring
      }
      const now = Atomics.load(t.consumer, 0);
      stuck = now === seen ? stuck + 1 : 0;
      seen = now;
    }
  }

  sendBatch(idx: Uint32Array, n: number): number {
    if (n <= 0 || this.#closed) return 0;
    this.#reap();
    const area = this.#area;
    const mdv = this.#memDv;
    let ok = 0;
    for (let k = 0; k < n; k++) {
      if (this.#queue(txFrameAt(mdv, area, idx[k]), txFrameLen(mdv, area, idx[k]), null)) ok++;
      else this.stats.txErrors++;
    }
    if (ok > 0) this.#kick();
    this.stats.txFrames += ok;
    return ok;
  }

  sendFrame(frame: Uint8Array): boolean {
    if (this.#closed) return false;
    this.#reap();
    const ok = this.#queue(0, frame.length, frame);
    if (ok) {
      this.#kick();
      this.stats.txFrames++;
    } else this.stats.txErrors++;
    return ok;
  }

  /**
   * The kernel's drops for this socket: rx_dropped (no FILL buffer, among others) and
   * rx_ring_full. rx_fill_ring_empty_descs is left out: its frames are in rx_dropped too.
   */
  sampleKernelDrops(): void {
    const k = this.kernelStats();
    this.stats.rxKernelDrops = k.rxDropped + k.rxRingFull;
  }

  /** The kernel's counters for this socket (XDP_STATISTICS). */
  kernelStats(): XskStats {
    const b = new Uint8Array(48);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length, true);
    this.#sys.getsockopt(this.fd, SOL_XDP, XDP_STATISTICS, b, len);
    const dv = new DataView(b.buffer);
    const at = (i: number) => Number(dv.getBigUint64(i * 8, true));
    return {
      rxDropped: at(0),
      rxInvalidDescs: at(1),
      txInvalidDescs: at(2),
      rxRingFull: at(3),
      rxFillRingEmpty: at(4),
      txRingEmpty: at(5),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // The link first: no more redirects to a socket that is going away.
    for (const fd of [...this.ownedFds].reverse()) this.#sys.close(fd);
    for (const r of [this.#rx, this.#tx, this.#fill, this.#comp]) {
      this.#sys.munmap(r.addr, r.bytes);
    }
    this.#sys.close(this.fd);
  }
}
