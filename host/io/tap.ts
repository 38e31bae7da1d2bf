// TAP frame backend: /dev/net/tun with IFF_TAP|IFF_NO_PI, one read or write per
// frame. Runtime-agnostic over Sys; tap_deno.ts and tap_node.ts bind it. For
// tests and labs only: a TAP has no batched calls, so it costs a syscall per
// frame (baselines.md (ii).5). The kernel side
// of the TAP is the peer: our frames arrive there as if received from a wire,
// and what the kernel sends into it comes to us. The director's MAC on a TAP
// port is therefore not the TAP's own MAC (that one belongs to the kernel side).
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
import { errnoMessage, type Sys } from "./sys.ts";

const O_RDWR = 2;
const O_NONBLOCK = 0x800;
const O_CLOEXEC = 0x80000;
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFNAMSIZ = 16;

/**
 * Creates (or attaches to) TAP device `ifname` in the current network
 * namespace. The device goes away with the descriptor unless made persistent.
 */
export function openTap(sys: Sys, ifname: string, area: FrameArea): FramePort {
  if (ifname.length >= IFNAMSIZ) {
    throw new Error(`Cannot open TAP ${ifname}: name longer than 15 bytes`);
  }
  const c = sys;
  const fd = c.open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw new Error(errnoMessage(sys, "open(/dev/net/tun)"));
  const ifr = new Uint8Array(40);
  ifr.set(new TextEncoder().encode(ifname));
  new DataView(ifr.buffer).setUint16(IFNAMSIZ, IFF_TAP | IFF_NO_PI, true);
  if (c.ioctl(fd, TUNSETIFF, ifr) < 0) {
    const msg = errnoMessage(sys, `ioctl(TUNSETIFF ${ifname})`);
    c.close(fd);
    throw new Error(msg);
  }
  const end = ifr.indexOf(0);
  const name = new TextDecoder().decode(ifr.subarray(0, end < 0 ? IFNAMSIZ : end));
  return new TapPort(sys, name, fd, area);
}

class TapPort implements FramePort {
  readonly ifname: string;
  readonly kind = "tap" as const;
  readonly fd: number;
  readonly stats: PortStats = emptyPortStats();
  #sys: Sys;
  #area: FrameArea;
  #mem: Uint8Array;
  #dv: DataView;
  #closed = false;

  constructor(sys: Sys, ifname: string, fd: number, area: FrameArea) {
    this.#sys = sys;
    this.ifname = ifname;
    this.fd = fd;
    this.#area = area;
    this.#mem = new Uint8Array(area.memory);
    this.#dv = new DataView(area.memory);
  }

  recvBatch(cur: RxCursor, limit: number, port: number): number {
    const area = this.#area;
    const end = Math.min(limit, area.batch);
    let written = 0;
    while (!this.#closed && cur.slot < end) {
      const at = area.slots + cur.slot * SLOT_SIZE + HEADROOM;
      // A frame longer than a slot is truncated by the read; a TAP's MTU keeps them shorter.
      const len = this.#sys.read(this.fd, this.#mem.subarray(at, at + MAX_FRAME), MAX_FRAME);
      if (len <= 0) break; // EAGAIN: drained
      putRxDesc(this.#dv, area, cur.desc, cur.slot, len, port);
      cur.slot++;
      cur.desc++;
      written++;
    }
    this.stats.rxFrames += written;
    return written;
  }

  sendBatch(idx: Uint32Array, n: number): number {
    const area = this.#area;
    let ok = 0;
    for (let k = 0; k < n && !this.#closed; k++) {
      const at = txFrameAt(this.#dv, area, idx[k]);
      const len = txFrameLen(this.#dv, area, idx[k]);
      if (this.#sys.write(this.fd, this.#mem.subarray(at, at + len), len) === len) {
        ok++;
      } else this.stats.txErrors++;
    }
    this.stats.txFrames += ok;
    return ok;
  }

  sendFrame(frame: Uint8Array): boolean {
    if (this.#closed) return false;
    const ok = this.#sys.write(this.fd, frame, frame.length) === frame.length;
    if (ok) this.stats.txFrames++;
    else this.stats.txErrors++;
    return ok;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sys.close(this.fd);
  }
}
