// The system calls the frame backends need, as one small interface, so the
// same backends (af_packet.ts, tap.ts, tpacket.ts) run on Deno (sys_deno.ts,
// Deno.dlopen) and on Node (sys_node.ts, koffi). Runtime-agnostic.
// Conventions: calls return what libc returns (-1 on error, then `errno()`
// tells why, on the calling thread); structures are passed as Uint8Array views
// (zero-copy in both FFIs); structures that hold pointers carry absolute
// addresses from `addressOf` (toolchain.md §7).

/** The libc surface of the frame backends (x86_64 Linux ABI). */
export interface Sys {
  readonly runtime: "deno" | "node";
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Uint8Array, len: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, len: Uint8Array): number;
  recvmmsg(fd: number, msgs: Uint8Array, vlen: number, flags: number): number;
  sendmmsg(fd: number, msgs: Uint8Array, vlen: number, flags: number): number;
  send(fd: number, buf: Uint8Array, len: number, flags: number): number;
  sendto(fd: number, buf: Uint8Array | null, len: number, flags: number): number;
  read(fd: number, buf: Uint8Array, len: number): number;
  write(fd: number, buf: Uint8Array, len: number): number;
  open(path: string, flags: number): number;
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  close(fd: number): number;
  /** poll(2); blocks the calling thread up to `timeoutMs`. */
  poll(fds: Uint8Array, nfds: number, timeoutMs: number): number;
  /**
   * sched_yield(2): a thread that spins instead of sleeping lets whatever else is runnable on
   * its CPU (the NAPI kthread that fills its rings) run first.
   */
  schedYield(): number;
  /** poll(2) on a helper thread: the event loop keeps running while it waits. */
  pollAsync(fds: Uint8Array, nfds: number, timeoutMs: number): Promise<number>;
  /**
   * mmap(2) (`addr` 0n lets the kernel choose; `offset` selects what a socket
   * maps, e.g. an AF_XDP ring); returns the address or -1n.
   */
  mmap(
    addr: bigint,
    len: number,
    prot: number,
    flags: number,
    fd: number,
    offset?: bigint,
  ): bigint;
  munmap(addr: bigint, len: number): number;
  /** A view of `len` bytes of foreign memory at `addr` (for example an mmap'ed ring). */
  view(addr: bigint, len: number): ArrayBuffer;
  ifNameToIndex(name: string): number;
  /** bpf(2) through syscall(2) (glibc has no wrapper); `attr` is a `union bpf_attr`. */
  bpf(cmd: number, attr: Uint8Array, size: number): number;
  errno(): number;
  strerror(e: number): string;
  /** Absolute address of byte `offset` of `buf` (stable: buffers never move). */
  addressOf(buf: ArrayBuffer | Uint8Array, offset?: number): bigint;
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;

export const EAGAIN = 11;
export const EINTR = 4;
export const EBUSY = 16;
export const ENOBUFS = 105;

export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0x80000;
export const MSG_DONTWAIT = 0x40;

/** "<what> failed: <strerror> (errno N)", for the error of the last call. */
export function errnoMessage(sys: Sys, what: string, e: number = sys.errno()): string {
  return `${what} failed: ${sys.strerror(e)} (errno ${e})`;
}

/** `r`, or an Error naming `what` and errno when the call failed (r < 0). For set-up, not per frame. */
export function checked(sys: Sys, r: number, what: string): number {
  if (r < 0) throw new Error(errnoMessage(sys, what));
  return r;
}

/** setsockopt with a 4-byte int value; throws as {@linkcode checked}. */
export function setsockoptInt(
  sys: Sys,
  fd: number,
  level: number,
  name: number,
  value: number,
  what: string,
): void {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setInt32(0, value, true);
  checked(sys, sys.setsockopt(fd, level, name, v, 4), `setsockopt(${what})`);
}
