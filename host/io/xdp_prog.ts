// The XDP side of the AF_XDP backend (af_xdp.ts): a 6-instruction eBPF program
// that hands every frame of a receive queue to the XDP socket bound to it, and
// the raw bpf(2) commands that create its XSKMAP, load it and attach it with a
// BPF link (no libbpf, no clang: baselines.md §3f). Runtime-agnostic. (Over Sys.)
// Everything is redirected, ARP and neighbour discovery included: the director
// answers those itself from the frames it receives. A queue with no socket in
// the map falls back to XDP_PASS (the kernel stack), which bpf_redirect_map
// takes from the low bits of its flags argument (Linux ≥ 5.3).
// The link, the program and the map live as long as their descriptors: a
// crashed director leaves nothing attached.
import { checked, errnoMessage, type Sys } from "./sys.ts";

// bpf(2) commands, map and program types, attach types (linux/bpf.h).
const BPF_MAP_CREATE = 0;
const BPF_MAP_UPDATE_ELEM = 2;
const BPF_PROG_LOAD = 5;
const BPF_LINK_CREATE = 28;
const BPF_MAP_TYPE_XSKMAP = 17;
const BPF_PROG_TYPE_XDP = 6;
const BPF_XDP = 37;
const BPF_PSEUDO_MAP_FD = 1;
const BPF_FUNC_REDIRECT_MAP = 51;
/** XDP actions (enum xdp_action). */
export const XDP_PASS = 2;
/** Attach flags (linux/if_link.h). */
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;
/** struct xdp_md: rx_queue_index is the fifth u32. */
const XDP_MD_RX_QUEUE_INDEX = 16;

/**
 * Bytes of a `union bpf_attr` we pass: more than any command here uses, less
 * than the kernel's size; the kernel requires the unused tail to be zero.
 */
const ATTR_SIZE = 128;
/** Size of one eBPF instruction (struct bpf_insn). */
export const BPF_INSN_SIZE = 8;

/** One `struct bpf_insn`: code, dst_reg (low nibble) | src_reg (high nibble), off, imm. */
function insn(
  dv: DataView,
  i: number,
  code: number,
  dst: number,
  src: number,
  off: number,
  imm: number,
): void {
  const at = i * BPF_INSN_SIZE;
  dv.setUint8(at, code);
  dv.setUint8(at + 1, (src << 4) | dst);
  dv.setInt16(at + 2, off, true);
  dv.setInt32(at + 4, imm, true);
}

/**
 * The redirect program for XSKMAP `mapFd`:
 *
 *   r2 = *(u32 *)(r1 + 16)        ; ctx->rx_queue_index: the map key
 *   r1 = map mapFd                ; ld_imm64, two slots
 *   r3 = XDP_PASS                 ; the action when no socket sits at the key
 *   call bpf_redirect_map
 *   exit                          ; r0 = XDP_REDIRECT or XDP_PASS
 *
 * @param mapFd descriptor of an XSKMAP (the verifier resolves it at load)
 * @returns the instructions, 6 × 8 bytes
 * @example
 * ```ts
 * import { redirectProgram } from "./xdp_prog.ts";
 * console.assert(redirectProgram(3).length === 48);
 * ```
 */
export function redirectProgram(mapFd: number): Uint8Array {
  const b = new Uint8Array(6 * BPF_INSN_SIZE);
  const dv = new DataView(b.buffer);
  insn(dv, 0, 0x61, 2, 1, XDP_MD_RX_QUEUE_INDEX, 0); // BPF_LDX | BPF_MEM | BPF_W
  insn(dv, 1, 0x18, 1, BPF_PSEUDO_MAP_FD, 0, mapFd); // BPF_LD | BPF_IMM | BPF_DW
  insn(dv, 2, 0x00, 0, 0, 0, 0); // its upper 32 bits
  insn(dv, 3, 0xb7, 3, 0, 0, XDP_PASS); // BPF_ALU64 | BPF_MOV | BPF_K
  insn(dv, 4, 0x85, 0, 0, 0, BPF_FUNC_REDIRECT_MAP); // BPF_JMP | BPF_CALL
  insn(dv, 5, 0x95, 0, 0, 0, 0); // BPF_JMP | BPF_EXIT
  return b;
}

function bpf(sys: Sys, cmd: number, attr: Uint8Array, what: string): number {
  return checked(sys, sys.bpf(cmd, attr, attr.length), what);
}

/** Creates an XSKMAP of `entries` slots (one per receive queue); returns its descriptor. */
export function createXskMap(sys: Sys, entries: number): number {
  const attr = new Uint8Array(ATTR_SIZE);
  const dv = new DataView(attr.buffer);
  dv.setUint32(0, BPF_MAP_TYPE_XSKMAP, true);
  dv.setUint32(4, 4, true); // key: queue index
  dv.setUint32(8, 4, true); // value: socket descriptor
  dv.setUint32(12, entries, true);
  attr.set(new TextEncoder().encode("wvs_xsks"), 28); // map_name, for bpftool
  return bpf(sys, BPF_MAP_CREATE, attr, "bpf(MAP_CREATE, XSKMAP)");
}

/** Puts XDP socket `xskFd` at queue `queue` of XSKMAP `mapFd`. */
export function setXsk(sys: Sys, mapFd: number, queue: number, xskFd: number): void {
  // Key and value live outside the attr: pitfall 10, the attr tail must stay zero.
  const kv = new Uint8Array(8);
  const kdv = new DataView(kv.buffer);
  kdv.setUint32(0, queue, true);
  kdv.setUint32(4, xskFd, true);
  const attr = new Uint8Array(ATTR_SIZE);
  const dv = new DataView(attr.buffer);
  dv.setUint32(0, mapFd, true);
  dv.setBigUint64(8, sys.addressOf(kv, 0), true);
  dv.setBigUint64(16, sys.addressOf(kv, 4), true);
  bpf(sys, BPF_MAP_UPDATE_ELEM, attr, `bpf(MAP_UPDATE_ELEM, xsks[${queue}])`);
}

/**
 * Loads XDP program `insns`; returns its descriptor. On refusal the error
 * carries the verifier's log.
 */
export function loadXdpProgram(sys: Sys, insns: Uint8Array, name = "wvs_xsk"): number {
  const license = new TextEncoder().encode("GPL\0");
  const attr = new Uint8Array(ATTR_SIZE);
  const dv = new DataView(attr.buffer);
  dv.setUint32(0, BPF_PROG_TYPE_XDP, true);
  dv.setUint32(4, insns.length / BPF_INSN_SIZE, true);
  dv.setBigUint64(8, sys.addressOf(insns), true);
  dv.setBigUint64(16, sys.addressOf(license), true);
  attr.set(new TextEncoder().encode(name.slice(0, 15)), 48); // prog_name
  const r = sys.bpf(BPF_PROG_LOAD, attr, attr.length);
  if (r >= 0) return r;
  const e = sys.errno();
  // Again with the verifier's log, only to explain the refusal.
  const log = new Uint8Array(4096);
  dv.setUint32(24, 1, true); // log_level
  dv.setUint32(28, log.length, true);
  dv.setBigUint64(32, sys.addressOf(log), true);
  sys.bpf(BPF_PROG_LOAD, attr, attr.length);
  const text = new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0)))).trim();
  throw new Error(errnoMessage(sys, "bpf(PROG_LOAD, XDP)", e) + (text ? `: ${text}` : ""));
}

/**
 * Attaches XDP program `progFd` to interface `ifindex` with a BPF link
 * (`flags`: XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE); returns the link's
 * descriptor, whose close detaches the program, or −errno (the caller may try
 * another mode; EBUSY means another program is attached already).
 */
export function attachXdp(sys: Sys, progFd: number, ifindex: number, flags: number): number {
  const attr = new Uint8Array(ATTR_SIZE);
  const dv = new DataView(attr.buffer);
  dv.setUint32(0, progFd, true);
  dv.setUint32(4, ifindex, true);
  dv.setUint32(8, BPF_XDP, true);
  dv.setUint32(12, flags, true);
  const r = sys.bpf(BPF_LINK_CREATE, attr, attr.length);
  return r < 0 ? -sys.errno() : r;
}
