// The frame backend seam: how frames get from an interface into the engine's RX
// slots and from its TX descriptors back onto the wire. Runtime-agnostic; the
// backends are host/io/af_packet.ts, af_xdp.ts and tap.ts (bound by their _deno files).
// Invariants: a backend writes frames only at `slots + slot × SLOT_SIZE + HEADROOM`
// of slots [0, batch) and never keeps a reference to a slot across calls; the
// caller sends a batch's TX frames before the next receive reuses the slots.
import {
  L_BATCH,
  L_RX_DESC,
  L_SLOTS,
  L_TX_CAP,
  L_TX_DESC,
  RXD_LEN,
  RXD_MARK,
  RXD_PORT,
  RXD_SIZE,
  RXD_SLOT,
  RXD_VERDICT,
  SLOT_SIZE,
  TXD_LEN,
  TXD_OFF,
  TXD_SIZE,
  TXD_SLOT,
} from "../engine/abi.gen.ts";
import type { Engine } from "../engine/engine.ts";

/** Byte offsets of the descriptor arrays and slots inside the engine memory. */
export interface FrameArea {
  memory: ArrayBuffer;
  rxDesc: number;
  txDesc: number;
  slots: number;
  /** Host slots and RX descriptors per batch. */
  batch: number;
  txCap: number;
}

/** The frame area of an engine (its memory never grows after init). */
export function frameArea(engine: Engine): FrameArea {
  const l = engine.layout;
  return {
    memory: engine.memory,
    rxDesc: l[L_RX_DESC],
    txDesc: l[L_TX_DESC],
    slots: l[L_SLOTS],
    batch: l[L_BATCH],
    txCap: l[L_TX_CAP],
  };
}

/**
 * Progress through one batch, shared by every port: host slots are consumed
 * from `slot`, RX descriptors written from `desc`. A backend may consume a
 * slot without writing a descriptor (a frame it filtered out).
 */
export interface RxCursor {
  slot: number;
  desc: number;
  /**
   * Frames taken by ring ports, which receive into slots of their own (a
   * TPACKET ring mapped over them) and leave `slot` alone; filtered ones count.
   */
  ring: number;
}

/** Counters of one port, as the director's log and stats line show them. */
export interface PortStats {
  rxFrames: number;
  txFrames: number;
  /** Received but not handed to the engine (our own output, other hosts' unicast). */
  rxFiltered: number;
  /** Longer than a slot (for example GSO super-frames); handed over as bad_desc. */
  rxOversize: number;
  /** Checksums completed on frames the kernel left CHECKSUM_PARTIAL. */
  rxCsumFixed: number;
  /** 802.1Q tags put back from PACKET_AUXDATA (the kernel strips them on receive). */
  rxVlanRestored: number;
  txErrors: number;
  /**
   * Frames the kernel dropped before we read them (the socket's queue or ring was full, an
   * XDP socket's FILL ring empty), as of the last `sampleKernelDrops()`.
   */
  rxKernelDrops: number;
}

export function emptyPortStats(): PortStats {
  return {
    rxFrames: 0,
    txFrames: 0,
    rxFiltered: 0,
    rxOversize: 0,
    rxCsumFixed: 0,
    rxVlanRestored: 0,
    txErrors: 0,
    rxKernelDrops: 0,
  };
}

/** One attached interface. Data-path methods never throw; they count. */
export interface FramePort {
  readonly ifname: string;
  readonly kind: "af_packet" | "af_xdp" | "tap" | "memory";
  /** A descriptor to poll for input, or -1 when the port has none (in-memory ports). */
  readonly fd: number;
  /**
   * Receives without blocking into host slots [cur.slot, limit), writing RX
   * descriptors from cur.desc with port index `port`; advances the cursor and
   * returns how many descriptors it wrote. A ring port uses its own slots,
   * stops at `limit` descriptors, and counts its frames in `cur.ring`.
   */
  recvBatch(cur: RxCursor, limit: number, port: number): number;
  /** Sends the frames of TX descriptors idx[0, n); returns how many left. */
  sendBatch(idx: Uint32Array, n: number): number;
  /** Sends one frame built outside engine memory (ARP, neighbour discovery). */
  sendFrame(frame: Uint8Array): boolean;
  readonly stats: PortStats;
  /** Brings `stats.rxKernelDrops` up to date from the kernel (a system call; not per batch). */
  sampleKernelDrops?(): void;
  close(): void;
}

/**
 * Fills RX descriptor `desc` for a frame of `len` bytes in `slot`, received on
 * `port` with no mark, and clears its verdict, reason and padding.
 */
export function putRxDesc(
  dv: DataView,
  area: FrameArea,
  desc: number,
  slot: number,
  len: number,
  port: number,
): void {
  const d = area.rxDesc + desc * RXD_SIZE;
  dv.setUint32(d + RXD_SLOT, slot, true);
  dv.setUint16(d + RXD_LEN, len, true);
  dv.setUint16(d + RXD_PORT, port, true);
  dv.setUint32(d + RXD_MARK, 0, true);
  dv.setUint32(d + RXD_VERDICT, 0, true);
}

/** Byte offset in memory of the first byte of TX frame `i`. */
export function txFrameAt(dv: DataView, area: FrameArea, i: number): number {
  const d = area.txDesc + i * TXD_SIZE;
  return area.slots + dv.getUint32(d + TXD_SLOT, true) * SLOT_SIZE +
    dv.getUint16(d + TXD_OFF, true);
}

/** Length in bytes of TX frame `i`. */
export function txFrameLen(dv: DataView, area: FrameArea, i: number): number {
  return dv.getUint16(area.txDesc + i * TXD_SIZE + TXD_LEN, true);
}
