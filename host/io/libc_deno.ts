// The libc calls the Deno frame backends need, opened once through Deno.dlopen.
// Deno-specific (--allow-ffi). Pointers to our own structures are passed as
// "buffer" (zero-copy views); structures that themselves hold pointers (iovec,
// msghdr) carry absolute addresses from `addressOf` (toolchain.md §7.1).
// `pollAsync` is the only `nonblocking` symbol: it runs on a helper thread so
// that an idle director still serves timers and signals (baselines.md §3d: about
// 20 µs a call, so it is used only when a non-blocking receive found nothing).

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  pollAsync: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** The libc symbols, opened on first use. */
export function libc(): Libc {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/** errno of the last failed call on this thread (sync calls only). */
export function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/** "<what> failed: <strerror> (errno N)", for the error of the last call. */
export function errnoMessage(what: string, e = errno()): string {
  const p = libc().strerror(e);
  const text = p === null ? "unknown error" : Deno.UnsafePointerView.getCString(p);
  return `${what} failed: ${text} (errno ${e})`;
}

/** Absolute address of byte `offset` of `buf` (stable: buffers never move in V8). */
export function addressOf(buf: ArrayBuffer | Uint8Array, offset = 0): bigint {
  const u8 = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(u8))) + BigInt(offset);
}

/** NUL-terminated C string. */
export function cString(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

export const EAGAIN = 11;
export const EINTR = 4;
export const ENOBUFS = 105;
