// Sys (host/io/sys.ts) through koffi 3.3.4 (npm, prebuilt N-API addon; no
// compiler). Node-specific: the same frame backends as on Deno
// (af_packet.ts, tap.ts, poll.ts) run on Node with this. koffi passes a
// TypedArray as a `void *` by pointer, without copying (toolchain.md §7.2),
// so batches still land in engine memory. Synchronous calls cost about 330 ns
// here against Deno's 7 ns fast calls; per batch of 64 that is ~5 ns a frame.
import koffi from "koffi";
import type { Sys } from "./sys.ts";

// deno-lint-ignore no-explicit-any
type Fn = (...args: any[]) => any;

let sys: Sys | undefined;

/** The Node Sys, opened on first use. */
export function nodeSys(): Sys {
  if (sys) return sys;
  const lib = koffi.load("libc.so.6");
  const f = (proto: string): Fn => lib.func(proto) as Fn;
  const socket = f("int socket(int, int, int)");
  const bind = f("int bind(int, void *, uint32_t)");
  const setsockopt = f("int setsockopt(int, int, int, void *, uint32_t)");
  const getsockopt = f("int getsockopt(int, int, int, void *, void *)");
  const recvmmsg = f("int recvmmsg(int, void *, unsigned int, int, void *)");
  const sendmmsg = f("int sendmmsg(int, void *, unsigned int, int)");
  const send = f("intptr_t send(int, void *, size_t, int)");
  const sendto = f("intptr_t sendto(int, void *, size_t, int, void *, uint32_t)");
  const read = f("intptr_t read(int, void *, size_t)");
  const write = f("intptr_t write(int, void *, size_t)");
  const open = f("int open(const char *, int)");
  const ioctl = f("int ioctl(int, unsigned long, void *)");
  const close = f("int close(int)");
  const poll = f("int poll(void *, uint64_t, int)");
  const schedYield = f("int sched_yield(void)");
  const mmap = f("void *mmap(void *, size_t, int, int, int, int64_t)");
  const munmap = f("int munmap(void *, size_t)");
  const ifNameToIndex = f("unsigned int if_nametoindex(const char *)");
  const syscall = f("long syscall(long, long, void *, unsigned int)");
  const strerror = f("const char *strerror(int)");
  const ptr = (v: unknown): bigint => (v === null ? 0n : BigInt(koffi.address(v as never)));
  sys = {
    runtime: "node",
    socket: (d, t, p) => socket(d, t, p),
    bind: (fd, a, l) => bind(fd, a, l),
    setsockopt: (fd, lv, n, v, l) => setsockopt(fd, lv, n, v, l),
    getsockopt: (fd, lv, n, v, l) => getsockopt(fd, lv, n, v, l),
    recvmmsg: (fd, m, n, fl) => recvmmsg(fd, m, n, fl, null),
    sendmmsg: (fd, m, n, fl) => sendmmsg(fd, m, n, fl),
    send: (fd, b, l, fl) => Number(send(fd, b, l, fl)),
    sendto: (fd, b, l, fl) => Number(sendto(fd, b, l, fl, null, 0)),
    read: (fd, b, l) => Number(read(fd, b, l)),
    write: (fd, b, l) => Number(write(fd, b, l)),
    open: (p, fl) => open(p, fl),
    ioctl: (fd, r, a) => ioctl(fd, r, a),
    close: (fd) => close(fd),
    poll: (fds, n, t) => poll(fds, n, t),
    schedYield: () => schedYield(),
    pollAsync: (fds, n, t) =>
      new Promise((resolve, reject) =>
        // deno-lint-ignore no-explicit-any
        (poll as any).async(fds, n, t, (e: Error | null, r: number) => (e ? reject(e) : resolve(r)))
      ),
    mmap(addr, len, prot, flags, fd, offset = 0n) {
      const p = mmap(addr === 0n ? null : addr, len, prot, flags, fd, offset);
      const v = typeof p === "bigint" ? p : ptr(p);
      return v === 0xffffffffffffffffn ? -1n : v;
    },
    munmap: (addr, len) => munmap(addr, len),
    view: (addr, len) => koffi.view(addr as never, len) as ArrayBuffer,
    ifNameToIndex: (n) => ifNameToIndex(n),
    // __NR_bpf on x86_64.
    bpf: (cmd, attr, size) => Number(syscall(321, cmd, attr, size)),
    errno: () => koffi.errno(),
    strerror: (e) => String(strerror(e)),
    addressOf(buf, offset = 0) {
      const u8 = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
      return ptr(u8) + BigInt(offset);
    },
  };
  return sys;
}
