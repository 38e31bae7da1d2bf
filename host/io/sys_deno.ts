// Sys (host/io/sys.ts) through Deno.dlopen("libc.so.6"). Deno-specific
// (--allow-ffi). Sync symbols use V8's fast-call path (about 7 ns a call,
// baselines.md §3d); `pollAsync` is the only `nonblocking` one (about 20 µs,
// for idle waits only). The libc is opened once per thread (each Worker has
// its own module instance).
import type { Sys } from "./sys.ts";

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  sendto: {
    parameters: ["i32", "buffer", "usize", "i32", "pointer", "u32"],
    result: "isize",
  },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  sched_yield: { parameters: [], result: "i32" },
  pollAsync: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  // long syscall(long, ...): x86_64 passes the variadic integers in registers like fixed ones.
  syscall: { parameters: ["i64", "i64", "buffer", "u32"], result: "i64" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

/** __NR_bpf on x86_64. */
const SYS_BPF = 321n;

function cString(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

let sys: Sys | undefined;

/** The Deno Sys of this thread, opened on first use. */
export function denoSys(): Sys {
  if (sys) return sys;
  const c = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  const errnoPtr = c.__errno_location();
  sys = {
    runtime: "deno",
    socket: (d, t, p) => c.socket(d, t, p),
    bind: (fd, a, l) => c.bind(fd, a, l),
    setsockopt: (fd, lv, n, v, l) => c.setsockopt(fd, lv, n, v, l),
    getsockopt: (fd, lv, n, v, l) => c.getsockopt(fd, lv, n, v, l),
    recvmmsg: (fd, m, n, f) => c.recvmmsg(fd, m, n, f, null),
    sendmmsg: (fd, m, n, f) => c.sendmmsg(fd, m, n, f),
    send: (fd, b, l, f) => Number(c.send(fd, b, BigInt(l), f)),
    sendto: (fd, b, l, f) => Number(c.sendto(fd, b, BigInt(l), f, null, 0)),
    read: (fd, b, l) => Number(c.read(fd, b, BigInt(l))),
    write: (fd, b, l) => Number(c.write(fd, b, BigInt(l))),
    open: (p, f) => c.open(cString(p), f),
    ioctl: (fd, r, a) => c.ioctl(fd, BigInt(r), a),
    close: (fd) => c.close(fd),
    poll: (f, n, t) => c.poll(f, BigInt(n), t),
    schedYield: () => c.sched_yield(),
    pollAsync: (f, n, t) => c.pollAsync(f, BigInt(n), t),
    mmap(addr, len, prot, flags, fd, offset = 0n) {
      const p = c.mmap(Deno.UnsafePointer.create(addr), BigInt(len), prot, flags, fd, offset);
      const v = BigInt(Deno.UnsafePointer.value(p));
      return v === 0xffffffffffffffffn ? -1n : v;
    },
    munmap: (addr, len) => c.munmap(Deno.UnsafePointer.create(addr), BigInt(len)),
    view: (addr, len) =>
      Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.create(addr)!, len),
    ifNameToIndex: (n) => c.if_nametoindex(cString(n)),
    bpf: (cmd, attr, size) => Number(c.syscall(SYS_BPF, BigInt(cmd), attr, size)),
    errno: () => (errnoPtr === null ? 0 : new Deno.UnsafePointerView(errnoPtr).getInt32()),
    strerror(e) {
      const p = c.strerror(e);
      return p === null ? "unknown error" : Deno.UnsafePointerView.getCString(p);
    },
    addressOf(buf, offset = 0) {
      const u8 = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
      return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(u8))) + BigInt(offset);
    },
  };
  return sys;
}
