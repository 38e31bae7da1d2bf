// AF_PACKET frame backend: one SOCK_RAW socket per interface, batches moved
// straight between the socket and the engine's frame slots. Runtime-agnostic
// over Sys (sys_deno.ts, sys_node.ts); af_packet_deno.ts and af_packet_node.ts
// bind it. Two receive paths (sends are always one sendmmsg per batch):
//  - recvmmsg whose iovecs point into engine memory: a frame is copied once by
//    the kernel and never by us (toolchain.md §7.1; baselines.md (ii).1:
//    synchronous calls, batch 32-64, PACKET_IGNORE_OUTGOING, QDISC_BYPASS, a big
//    receive buffer). Invariant: message header j always describes host slot j.
//  - a TPACKET_V2 ring mmap'ed (MAP_FIXED) over the engine's own slots: the
//    kernel writes each frame at its slot's HEADROOM in softirq and no receive
//    call is made at all (RxRing below; bench/RESULTS.md "End to end": 16% less
//    CPU per packet and 1.36× the overload rate of recvmmsg). This relies on V8
//    never moving a WebAssembly memory, as AF_XDP rings would.
// Receive never blocks; the director polls when idle. 802.1Q tags the kernel
// moved to PACKET_AUXDATA / tp_vlan_tci are put back into the frame.
// Over 600 lines: both receive paths share one socket's setup, options and
// VLAN/checksum fix-ups; the socket constants and structs are spelled out here.
import { HEADROOM, MAX_FRAME, SLOT_SIZE } from "../engine/abi.gen.ts";
import { completeL4Checksum } from "./csum_fixup.ts";
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
import {
  checked,
  EINTR,
  errnoMessage,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MSG_DONTWAIT,
  PROT_READ,
  PROT_WRITE,
  setsockoptInt,
  SOCK_CLOEXEC,
  SOCK_RAW,
  type Sys,
} from "./sys.ts";

const AF_PACKET = 17;
const ETH_P_ALL = 0x0003;
const SOL_SOCKET = 1;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const SOL_PACKET = 263;
const PACKET_ADD_MEMBERSHIP = 1;
const PACKET_MR_ALLMULTI = 2;
const PACKET_AUXDATA = 8;
const PACKET_RX_RING = 5;
const PACKET_STATISTICS = 6;
const PACKET_VERSION = 10;
const PACKET_RESERVE = 12;
const TPACKET_V2 = 1;
const TP_STATUS_KERNEL = 0;
const TP_STATUS_USER = 1;
const PACKET_FANOUT = 18;
const PACKET_FANOUT_DATA = 22;
const PACKET_QDISC_BYPASS = 20;
const PACKET_IGNORE_OUTGOING = 23;
const MSG_TRUNC = 0x20;
const TP_STATUS_CSUMNOTREADY = 1 << 3;
const TP_STATUS_VLAN_VALID = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID = 1 << 6;
const ETH_P_8021Q = 0x8100;
// sll_pkttype values (linux/if_packet.h).
const PACKET_OTHERHOST = 3;
const PACKET_OUTGOING = 4;

// x86_64 layouts (toolchain.md §7.1).
const MMSG = 64; // struct mmsghdr; msg_len at +56
const IOV = 16;
const NAME = 32; // struct sockaddr_ll is 20 bytes; 32 keeps records aligned
const CTRL = 64; // CMSG_SPACE(sizeof(struct tpacket_auxdata)) = 40

/** PACKET_FANOUT modes (linux/if_packet.h). */
export const FANOUT_HASH = 0;
export const FANOUT_LB = 1;
export const FANOUT_CPU = 2;
export const FANOUT_CBPF = 6;

/**
 * TPACKET_V2 receive ring mapped over engine slots: ring frame k is host slot
 * `firstSlot + k × stride`. Ring frames start on page or half-page boundaries
 * (`stride` × 2048 bytes each), slots wherever the engine put them: ring frame
 * k begins `pad` bytes before its slot, in memory no frame uses (the previous
 * slot's tail, or a skipped slot with stride 2), and PACKET_RESERVE puts the
 * frame at the slot's HEADROOM.
 *
 *   ring frame start F (page-aligned for k even)
 *   | pad                | slot: HEADROOM           | frame ...
 *   |tpacket2_hdr + sll| .......... reserve ........| frame (≤ stride×2048 − pad − HEADROOM)
 */
export interface RxRing {
  firstSlot: number;
  frames: number;
  /** Slot start − ring frame start. */
  pad: number;
  /** 1: every slot, 2048-byte ring frames; 2: every other slot, 4096-byte ones. */
  stride: 1 | 2;
}

/** Bytes in front of a frame in a TPACKET_V2 ring frame with no reserve: header + sockaddr_ll, aligned. */
const TPACKET2_NETOFF = 80;
/** An Ethernet frame of a 1500-byte MTU, untagged. */
const FULL_FRAME = 1514;
/** tpacket2_hdr fields. */
const T2_STATUS = 0, T2_LEN = 4, T2_SNAPLEN = 8, T2_MAC = 12, T2_VLAN_TCI = 24, T2_VLAN_TPID = 26;
/** sockaddr_ll follows the 32-byte tpacket2_hdr; sll_pkttype is its byte 10. */
const T2_PKTTYPE = 32 + 10;

/** The largest frame a ring frame holds after `pad` bytes and HEADROOM. */
export function ringMaxFrame(ring: RxRing): number {
  return Math.min(MAX_FRAME, ring.stride * SLOT_SIZE - ring.pad - HEADROOM);
}

/**
 * Splits the host slots into one RX ring per port. Every slot is used when
 * slots sit close enough after a half-page boundary for a full frame to fit
 * (stride 1); otherwise every other slot (stride 2, 4096-byte ring frames,
 * always possible). Nothing is mapped below slot 0 or past the host slots.
 * Returns null when a port would get fewer than 2 frames.
 */
export function ringPlan(sys: Sys, area: FrameArea, ports: number): RxRing[] | null {
  const slots = sys.addressOf(area.memory, area.slots);
  const end = slots + BigInt(area.batch * SLOT_SIZE);
  for (const stride of [1, 2] as const) {
    const frameSize = stride * SLOT_SIZE;
    for (let first = 0; first < 4; first++) {
      const at = slots + BigInt(first * SLOT_SIZE);
      const pad = Number(at % BigInt(frameSize));
      const start = at - BigInt(pad);
      if (pad + HEADROOM + FULL_FRAME > frameSize || start < slots || start % 4096n !== 0n) {
        continue;
      }
      // Whole pages per ring (one block = one page), the same for every port.
      const perPage = 4096 / frameSize;
      const pages = Math.floor(Number(end - start) / 4096 / ports);
      if (pages * perPage < 2) return null;
      const frames = pages * perPage;
      return Array.from({ length: ports }, (_, i) => ({
        firstSlot: first + i * frames * stride,
        frames,
        pad,
        stride,
      }));
    }
  }
  return null;
}

export interface AfPacketOptions {
  /** Receive through a TPACKET_V2 ring over these engine slots instead of recvmmsg. */
  rxRing?: RxRing;
  /**
   * Join fanout group `group` (several workers on one interface). With
   * FANOUT_CBPF, `program` (host/io/fanout_bpf.ts) picks the worker; it is set
   * for the whole group, so any member may set it.
   */
  fanout?: { group: number; mode: number; program?: Uint8Array };
  /** Leave GRO/LRO as they are (default: turn them off, see disableReceiveOffloads). */
  keepOffloads?: boolean;
  /** Socket buffer sizes in bytes (SO_RCVBUFFORCE / SO_SNDBUFFORCE). */
  rcvbuf?: number;
  sndbuf?: number;
}

const SIOCETHTOOL = 0x8946;
const ETHTOOL_GFLAGS = 0x25;
const ETHTOOL_SFLAGS = 0x26;
const ETHTOOL_GGRO = 0x2b;
const ETHTOOL_SGRO = 0x2c;
const ETH_FLAG_LRO = 1 << 15;

function ethtool(sys: Sys, fd: number, ifname: string, cmd: number, data = 0): number | null {
  const val = new Uint8Array(8);
  const dv = new DataView(val.buffer);
  dv.setUint32(0, cmd, true);
  dv.setUint32(4, data, true);
  const ifr = new Uint8Array(40);
  ifr.set(new TextEncoder().encode(ifname));
  new DataView(ifr.buffer).setBigUint64(16, sys.addressOf(val), true);
  return sys.ioctl(fd, SIOCETHTOOL, ifr) < 0 ? null : dv.getUint32(4, true);
}

/**
 * Turns off GRO and LRO on `ifname` and returns the names of what it changed.
 * Merged receive frames can exceed a slot (MAX_FRAME): the engine would drop
 * them as bad_desc and TCP would stall on bulk transfers. Best effort: a
 * device that cannot change a feature keeps it, and the RX counter
 * `rxOversize` shows the cost.
 */
export function disableReceiveOffloads(sys: Sys, fd: number, ifname: string): string[] {
  const changed: string[] = [];
  if (
    ethtool(sys, fd, ifname, ETHTOOL_GGRO) === 1 &&
    ethtool(sys, fd, ifname, ETHTOOL_SGRO, 0) !== null
  ) {
    changed.push("gro");
  }
  const flags = ethtool(sys, fd, ifname, ETHTOOL_GFLAGS);
  if (
    flags !== null && flags & ETH_FLAG_LRO &&
    ethtool(sys, fd, ifname, ETHTOOL_SFLAGS, flags & ~ETH_FLAG_LRO) !== null
  ) {
    changed.push("lro");
  }
  return changed;
}

/** The interface index of `ifname` in the current network namespace. */
export function ifIndex(sys: Sys, ifname: string): number {
  const i = sys.ifNameToIndex(ifname);
  if (i === 0) throw new Error(`Cannot open ${ifname}: no such interface`);
  return i;
}

/** Sets the classic BPF program of the fanout group `fd` belongs to (PACKET_FANOUT_DATA). */
export function setFanoutProgram(sys: Sys, fd: number, program: Uint8Array): void {
  const fprog = new Uint8Array(16);
  const dv = new DataView(fprog.buffer);
  dv.setUint16(0, program.length / 8, true);
  dv.setBigUint64(8, sys.addressOf(program), true);
  checked(
    sys,
    sys.setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, fprog, 16),
    "setsockopt(PACKET_FANOUT_DATA)",
  );
}

/**
 * Frames not to hand to the engine: our own output, and other hosts' unicast
 * (promiscuous ports, bridges). A frame with a VLAN tag no local VLAN device
 * claims is also marked PACKET_OTHERHOST by the kernel (__netif_receive_skb_core),
 * whatever its destination: those are kept, the director works on trunks.
 */
function filtered(pkttype: number, status: number): boolean {
  return pkttype === PACKET_OUTGOING ||
    (pkttype === PACKET_OTHERHOST && (status & TP_STATUS_VLAN_VALID) === 0);
}

function ringAddress(sys: Sys, area: FrameArea, ring: RxRing): bigint {
  return sys.addressOf(area.memory, area.slots + ring.firstSlot * SLOT_SIZE - ring.pad);
}

function ringBytes(ring: RxRing): number {
  return ring.frames * ring.stride * SLOT_SIZE;
}

/**
 * Switches `fd` to TPACKET_V2 and maps its receive ring over the engine's
 * slots with MAP_FIXED: the kernel then writes each frame straight into a
 * slot, at HEADROOM (PACKET_RESERVE), and no receive call is needed.
 */
function mapRxRing(sys: Sys, fd: number, area: FrameArea, ring: RxRing): void {
  const addr = ringAddress(sys, area, ring);
  if (addr % 4096n !== 0n || ringBytes(ring) % 4096 !== 0) {
    throw new Error("Cannot map an RX ring: it must start a page and fill whole pages");
  }
  setsockoptInt(sys, fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2, "PACKET_VERSION");
  // Untagged frames start at TPACKET2_NETOFF − 14 + reserve: make that pad + HEADROOM.
  const reserve = ring.pad + HEADROOM + 14 - TPACKET2_NETOFF;
  setsockoptInt(sys, fd, SOL_PACKET, PACKET_RESERVE, reserve, "PACKET_RESERVE");
  const req = new Uint8Array(16); // struct tpacket_req
  const dv = new DataView(req.buffer);
  dv.setUint32(0, 4096, true); // tp_block_size
  dv.setUint32(4, ringBytes(ring) / 4096, true); // tp_block_nr
  dv.setUint32(8, ring.stride * SLOT_SIZE, true); // tp_frame_size
  dv.setUint32(12, ring.frames, true); // tp_frame_nr
  checked(
    sys,
    sys.setsockopt(fd, SOL_PACKET, PACKET_RX_RING, req, 16),
    "setsockopt(PACKET_RX_RING)",
  );
  const at = sys.mmap(addr, ringBytes(ring), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd);
  if (at !== addr) throw new Error(errnoMessage(sys, "mmap(RX ring over engine memory)"));
}

/** Puts ordinary zeroed memory back where a ring was mapped (the engine still owns those addresses). */
function unmapRxRing(sys: Sys, area: FrameArea, ring: RxRing): void {
  const addr = ringAddress(sys, area, ring);
  sys.mmap(
    addr,
    ringBytes(ring),
    PROT_READ | PROT_WRITE,
    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
    -1,
  );
}

/** Opens a packet socket on `ifname` whose batches live in `area`. */
export function openAfPacket(
  sys: Sys,
  ifname: string,
  area: FrameArea,
  opts: AfPacketOptions = {},
): FramePort & { offloadsTurnedOff: string[] } {
  const c = sys;
  const index = ifIndex(sys, ifname);
  // Protocol 0 at creation: nothing is queued until bind() names the interface.
  const fd = checked(
    sys,
    c.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0),
    `socket(AF_PACKET) for ${ifname}`,
  );
  try {
    // Our own transmissions would otherwise come back as PACKET_OUTGOING (pitfall 8);
    // recvBatch also filters them, for kernels before 4.20.
    try {
      setsockoptInt(sys, fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING");
    } catch { /* filtered by pkttype below */ }
    setsockoptInt(sys, fd, SOL_PACKET, PACKET_AUXDATA, 1, "PACKET_AUXDATA");
    try {
      setsockoptInt(sys, fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS");
    } catch { /* an optimisation only */ }
    if (opts.rxRing) mapRxRing(sys, fd, area, opts.rxRing);
    setsockoptInt(sys, fd, SOL_SOCKET, SO_RCVBUFFORCE, opts.rcvbuf ?? 4 << 20, "SO_RCVBUFFORCE");
    setsockoptInt(sys, fd, SOL_SOCKET, SO_SNDBUFFORCE, opts.sndbuf ?? 4 << 20, "SO_SNDBUFFORCE");
    // Solicited-node multicast (IPv6 neighbour solicitations for VIPs) must pass a real NIC's filter.
    const mreq = new Uint8Array(16);
    const mv = new DataView(mreq.buffer);
    mv.setInt32(0, index, true);
    mv.setUint16(4, PACKET_MR_ALLMULTI, true);
    checked(
      sys,
      c.setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, 16),
      "setsockopt(PACKET_ADD_MEMBERSHIP)",
    );
    const sll = new Uint8Array(20);
    const sv = new DataView(sll.buffer);
    sv.setUint16(0, AF_PACKET, true);
    sv.setUint16(2, ETH_P_ALL, false);
    sv.setInt32(4, index, true);
    checked(sys, c.bind(fd, sll, sll.length), `bind(${ifname})`);
    if (opts.fanout) {
      const v = (opts.fanout.group & 0xffff) | (opts.fanout.mode << 16);
      setsockoptInt(sys, fd, SOL_PACKET, PACKET_FANOUT, v, "PACKET_FANOUT");
      if (opts.fanout.program) setFanoutProgram(sys, fd, opts.fanout.program);
    }
  } catch (e) {
    if (opts.rxRing) unmapRxRing(sys, area, opts.rxRing);
    c.close(fd);
    throw e;
  }
  const port = new AfPacketPort(sys, ifname, fd, area, opts.rxRing ?? null);
  if (!opts.keepOffloads) port.offloadsTurnedOff = disableReceiveOffloads(sys, fd, ifname);
  return port;
}

class AfPacketPort implements FramePort {
  readonly ifname: string;
  readonly kind = "af_packet" as const;
  readonly fd: number;
  readonly stats: PortStats = emptyPortStats();
  /** Receive offloads this port turned off when it opened (for the log). */
  offloadsTurnedOff: string[] = [];
  #sys: Sys;
  #area: FrameArea;
  #mem: Uint8Array;
  #memDv: DataView;
  #memBase: bigint;
  /** The same as a number (user-space addresses are below 2^47): no BigInt per frame sent. */
  #memAt: number;
  #rx: Uint8Array; // [mmsghdr × batch][iovec × batch][sockaddr_ll × batch][cmsg × batch]
  #rxDv: DataView;
  #rxBase: bigint;
  #tx: Uint8Array; // [mmsghdr × txCap][iovec × txCap]
  #txDv: DataView;
  #closed = false;
  /** RX ring state: next frame to read, and the frames handed out by the last call. */
  #ring: RxRing | null;
  #ringHead = 0;
  #ringHeld = 0;
  #statBuf = new Uint8Array(12);

  constructor(sys: Sys, ifname: string, fd: number, area: FrameArea, ring: RxRing | null) {
    this.#sys = sys;
    this.#ring = ring;
    this.ifname = ifname;
    this.fd = fd;
    this.#area = area;
    this.#mem = new Uint8Array(area.memory);
    this.#memDv = new DataView(area.memory);
    this.#memBase = sys.addressOf(this.#mem);
    this.#memAt = Number(this.#memBase);
    const b = area.batch;
    this.#rx = new Uint8Array(b * (MMSG + IOV + NAME + CTRL));
    this.#rxDv = new DataView(this.#rx.buffer);
    this.#rxBase = sys.addressOf(this.#rx);
    for (let j = 0; j < b; j++) {
      const h = j * MMSG;
      const iov = b * MMSG + j * IOV;
      this.#rxDv.setBigUint64(
        iov,
        this.#memBase + BigInt(area.slots + j * SLOT_SIZE + HEADROOM),
        true,
      );
      this.#rxDv.setBigUint64(iov + 8, BigInt(MAX_FRAME), true);
      this.#rxDv.setBigUint64(h, this.#rxBase + BigInt(this.#nameAt(j)), true);
      this.#rxDv.setBigUint64(h + 16, this.#rxBase + BigInt(iov), true);
      this.#rxDv.setBigUint64(h + 24, 1n, true);
      this.#rxDv.setBigUint64(h + 32, this.#rxBase + BigInt(this.#ctrlAt(j)), true);
    }
    this.#tx = new Uint8Array(area.txCap * (MMSG + IOV));
    this.#txDv = new DataView(this.#tx.buffer);
    const txBase = sys.addressOf(this.#tx);
    for (let k = 0; k < area.txCap; k++) {
      const h = k * MMSG;
      this.#txDv.setBigUint64(h + 16, txBase + BigInt(area.txCap * MMSG + k * IOV), true);
      this.#txDv.setBigUint64(h + 24, 1n, true);
    }
  }

  #nameAt(j: number): number {
    return this.#area.batch * (MMSG + IOV) + j * NAME;
  }

  #ctrlAt(j: number): number {
    return this.#area.batch * (MMSG + IOV + NAME) + j * CTRL;
  }

  recvBatch(cur: RxCursor, limit: number, port: number): number {
    if (this.#ring) return this.#ringRecv(this.#ring, cur, limit, port);
    const first = cur.slot;
    const vlen = Math.min(limit, this.#area.batch) - first;
    if (vlen <= 0 || this.#closed) return 0;
    const dv = this.#rxDv;
    for (let j = first; j < first + vlen; j++) {
      const h = j * MMSG;
      dv.setUint32(h + 8, NAME, true); // msg_namelen and msg_controllen are value-result
      dv.setBigUint64(h + 40, BigInt(CTRL), true);
    }
    const got = this.#sys.recvmmsg(
      this.fd,
      this.#rx.subarray(first * MMSG),
      vlen,
      MSG_DONTWAIT | MSG_TRUNC,
    );
    if (got <= 0) return 0; // EAGAIN: nothing waiting; other errors show up again on the next call
    const area = this.#area;
    const mdv = this.#memDv;
    let written = 0;
    for (let j = first; j < first + got; j++) {
      let len = dv.getUint32(j * MMSG + 56, true);
      const frameOff = area.slots + j * SLOT_SIZE + HEADROOM;
      const aux = this.#aux(j);
      const status = aux < 0 ? 0 : dv.getUint32(aux, true);
      if (filtered(this.#rx[this.#nameAt(j) + 10], status)) {
        this.stats.rxFiltered++;
        continue;
      }
      if (status & TP_STATUS_VLAN_VALID && len + 4 <= MAX_FRAME && len >= 12) {
        // The kernel took the 802.1Q tag off (VLAN offload) and left it in the aux data: put it back,
        // so the engine sees the frame as it was on the wire and its output keeps the tag.
        const tpid = status & TP_STATUS_VLAN_TPID_VALID
          ? dv.getUint16(aux + 18, true)
          : ETH_P_8021Q;
        const tci = dv.getUint16(aux + 16, true);
        this.#mem.copyWithin(frameOff + 16, frameOff + 12, frameOff + len);
        mdv.setUint16(frameOff + 12, tpid);
        mdv.setUint16(frameOff + 14, tci);
        len += 4;
        this.stats.rxVlanRestored++;
      }
      if (len > MAX_FRAME) {
        this.stats.rxOversize++;
        len = 0xffff; // the engine drops it as bad_desc and counts it
      } else if (status & TP_STATUS_CSUMNOTREADY) {
        if (completeL4Checksum(this.#mem, frameOff, len)) this.stats.rxCsumFixed++;
      }
      putRxDesc(mdv, area, cur.desc + written, j, len, port);
      written++;
    }
    this.stats.rxFrames += written;
    cur.slot = first + got;
    cur.desc += written;
    return written;
  }

  /**
   * Ring receive: frames the kernel has marked TP_STATUS_USER, in ring order,
   * become RX descriptors of their own slots (no copy, no call). The frames of
   * the previous call go back to the kernel first: by now the director has sent
   * their TX frames and run the slow path on them (FramePort's invariant).
   */
  #ringRecv(ring: RxRing, cur: RxCursor, limit: number, port: number): number {
    const area = this.#area;
    const mdv = this.#memDv;
    const mem = this.#mem;
    const base = area.slots + ring.firstSlot * SLOT_SIZE - ring.pad;
    const frameSize = ring.stride * SLOT_SIZE;
    const macoff = ring.pad + HEADROOM;
    const maxFrame = ringMaxFrame(ring);
    for (let k = 0; k < this.#ringHeld; k++) {
      const f = (this.#ringHead - this.#ringHeld + k + ring.frames) % ring.frames;
      mdv.setUint32(base + f * frameSize + T2_STATUS, TP_STATUS_KERNEL, true);
    }
    this.#ringHeld = 0;
    if (this.#closed) return 0;
    const max = Math.min(limit, area.batch);
    let written = 0;
    while (cur.desc < max && this.#ringHeld < ring.frames) {
      const at = base + this.#ringHead * frameSize;
      const status = mdv.getUint32(at + T2_STATUS, true);
      if ((status & TP_STATUS_USER) === 0) break;
      const slot = ring.firstSlot + this.#ringHead * ring.stride;
      this.#ringHead = (this.#ringHead + 1) % ring.frames;
      this.#ringHeld++;
      cur.ring++;
      if (filtered(mem[at + T2_PKTTYPE], status)) {
        this.stats.rxFiltered++;
        continue;
      }
      let len = mdv.getUint32(at + T2_SNAPLEN, true);
      const truncated = mdv.getUint32(at + T2_LEN, true) > len;
      const frameOff = at + macoff;
      const mac = mdv.getUint16(at + T2_MAC, true);
      // A frame whose link header is not 14 bytes (a tag the device kept) starts elsewhere.
      if (mac !== macoff) mem.copyWithin(frameOff, at + mac, at + mac + len);
      if (status & TP_STATUS_VLAN_VALID && len + 4 <= maxFrame && len >= 12) {
        const tpid = status & TP_STATUS_VLAN_TPID_VALID
          ? mdv.getUint16(at + T2_VLAN_TPID, true)
          : ETH_P_8021Q;
        mem.copyWithin(frameOff + 16, frameOff + 12, frameOff + len);
        mdv.setUint16(frameOff + 12, tpid);
        mdv.setUint16(frameOff + 14, mdv.getUint16(at + T2_VLAN_TCI, true));
        len += 4;
        this.stats.rxVlanRestored++;
      }
      if (truncated || len > maxFrame) {
        this.stats.rxOversize++;
        len = 0xffff;
      } else if (status & TP_STATUS_CSUMNOTREADY) {
        if (completeL4Checksum(mem, frameOff, len)) this.stats.rxCsumFixed++;
      }
      putRxDesc(mdv, area, cur.desc, slot, len, port);
      cur.desc++;
      written++;
    }
    this.stats.rxFrames += written;
    return written;
  }

  /** Adds the drops since the last call (PACKET_STATISTICS resets them as it reads). */
  sampleKernelDrops(): void {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, 12, true);
    if (this.#sys.getsockopt(this.fd, SOL_PACKET, PACKET_STATISTICS, this.#statBuf, len) < 0) {
      return;
    }
    this.stats.rxKernelDrops += new DataView(this.#statBuf.buffer).getUint32(4, true);
  }

  /**
   * Offset in the RX area of the `struct tpacket_auxdata` of RX header j, or -1.
   * Layout: tp_status u32 @0, tp_len @4, tp_snaplen @8, tp_mac u16 @12, tp_net @14,
   * tp_vlan_tci @16, tp_vlan_tpid @18.
   */
  #aux(j: number): number {
    const dv = this.#rxDv;
    const controlLen = Number(dv.getBigUint64(j * MMSG + 40, true));
    const base = this.#ctrlAt(j);
    for (let at = 0; at + 16 <= controlLen;) {
      const cmsgLen = Number(dv.getBigUint64(base + at, true));
      if (cmsgLen < 16) break;
      if (
        dv.getInt32(base + at + 8, true) === SOL_PACKET &&
        dv.getInt32(base + at + 12, true) === PACKET_AUXDATA
      ) {
        return base + at + 16;
      }
      at += (cmsgLen + 7) & ~7;
    }
    return -1;
  }

  sendBatch(idx: Uint32Array, n: number): number {
    if (n <= 0 || this.#closed) return 0;
    const area = this.#area;
    const mdv = this.#memDv;
    const dv = this.#txDv;
    const count = Math.min(n, area.txCap);
    for (let k = 0; k < count; k++) {
      const len = txFrameLen(mdv, area, idx[k]);
      const iov = area.txCap * MMSG + k * IOV;
      const at = this.#memAt + txFrameAt(mdv, area, idx[k]);
      dv.setUint32(iov, at >>> 0, true);
      dv.setUint32(iov + 4, Math.floor(at / 2 ** 32), true);
      dv.setUint32(iov + 8, len, true);
      dv.setUint32(iov + 12, 0, true);
    }
    let done = 0;
    let ok = 0;
    while (done < count) {
      const r = this.#sys.sendmmsg(this.fd, this.#tx.subarray(done * MMSG), count - done, 0);
      if (r > 0) {
        done += r;
        ok += r;
        continue;
      }
      if (r < 0 && this.#sys.errno() === EINTR) continue;
      // One frame failed (ENOBUFS, ENETDOWN, a frame too long): skip it, keep the rest.
      this.stats.txErrors++;
      done++;
    }
    this.stats.txFrames += ok;
    return ok;
  }

  sendFrame(frame: Uint8Array): boolean {
    if (this.#closed) return false;
    const ok = this.#sys.send(this.fd, frame, frame.length, 0) === frame.length;
    if (ok) this.stats.txFrames++;
    else this.stats.txErrors++;
    return ok;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ring) unmapRxRing(this.#sys, this.#area, this.#ring);
    this.#sys.close(this.fd);
  }
}
