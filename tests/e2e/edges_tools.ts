// Helpers for the issue 7 end-to-end tests (edges_e2e_test.ts): programs that run in the
// lab namespaces. Deno-specific. The kernel here has no ipip module, so a real server of a
// TUN service decapsulates in user space: a raw socket takes IPIP packets addressed to it
// and hands the inner packet back to its own stack (IPPROTO_RAW, delivered through lo to
// the VIP held on lo), as a tunl0 device would. Everything stops with its namespace.
import { type Netns, type Spawned } from "./netns.ts";
import { PYTHON } from "./topology.ts";

const DECAP = `
import socket, sys
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
w = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
print("decapsulating", flush=True)
n = 0
while True:
    pkt = r.recv(65535)
    hl = (pkt[0] & 15) * 4
    inner = pkt[hl:]
    if len(inner) < 20 or inner[0] >> 4 != 4:
        continue
    w.sendto(inner, (socket.inet_ntoa(inner[16:20]), 0))
    n += 1
    if n % 100 == 1:
        print("inner", n, len(inner), flush=True)
`;

/** Starts the user-space IPIP decapsulator in `ns`; resolves when it listens. */
export async function startDecap(net: Netns, ns: string): Promise<Spawned> {
  for (const k of ["all", "default", "lo", "eth0"]) {
    await net.sysctl(ns, `net.ipv4.conf.${k}.rp_filter`, 0);
  }
  const s = net.spawn(ns, [PYTHON, "-u", "-c", DECAP]);
  await s.out.waitFor(/decapsulating/, 10_000);
  return s;
}

const SINK = `
import hashlib, socket, sys, threading
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(64)
print("sink listening", flush=True)
def serve(c):
    h = hashlib.sha256(); n = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        h.update(d); n += len(d)
    c.sendall(("%d %s\\n" % (n, h.hexdigest())).encode())
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/** A TCP sink on `port`: reads to EOF, answers "<bytes> <sha256>". */
export async function startSink(net: Netns, ns: string, port: number): Promise<Spawned> {
  const s = net.spawn(ns, [PYTHON, "-u", "-c", SINK, String(port)]);
  await s.out.waitFor(/sink listening/, 10_000);
  return s;
}

const UPLOAD = `
import hashlib, os, socket, sys
data = bytes((i * 7 + (i >> 9)) & 255 for i in range(int(sys.argv[3])))
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
c.sendall(data)
c.shutdown(socket.SHUT_WR)
reply = b""
while not reply.endswith(b"\\n"):
    d = c.recv(256)
    if not d:
        break
    reply += d
print(reply.decode().strip(), "%d %s" % (len(data), hashlib.sha256(data).hexdigest()))
`;

/** Uploads `n` bytes to addr:port from `ns`; returns [sink's "<n> <sha>", ours]. */
export async function upload(
  net: Netns,
  ns: string,
  addr: string,
  port: number,
  n: number,
): Promise<[string, string]> {
  const r = await net.exec(ns, [PYTHON, "-c", UPLOAD, addr, String(port), String(n)], {
    timeoutMs: 40_000,
  });
  const w = r.stdout.trim().split(" ");
  return [`${w[0]} ${w[1]}`, `${w[2]} ${w[3]}`];
}

const PING = `
import os, socket, struct, sys, time
def csum(b):
    if len(b) % 2: b += b"\\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(2)
ok = 0
for seq in range(int(sys.argv[2])):
    body = struct.pack("!HH", os.getpid() & 0xffff, seq) + b"wvs" * 8
    msg = struct.pack("!BBH", 8, 0, 0) + body
    msg = struct.pack("!BBH", 8, 0, csum(msg)) + body
    s.sendto(msg, (sys.argv[1], 0))
    try:
        while True:
            d = s.recv(2048)
            hl = (d[0] & 15) * 4
            if d[hl] == 0 and d[hl + 4:hl + 8] == body[:4]:
                ok += 1
                break
    except socket.timeout:
        pass
print("replies", ok)
`;

/** Sends `n` ICMP echo requests to `addr` from `ns` (raw socket); returns the replies seen. */
export async function ping(net: Netns, ns: string, addr: string, n = 2): Promise<number> {
  const r = await net.exec(ns, [PYTHON, "-c", PING, addr, String(n)], {
    timeoutMs: n * 3000 + 5000,
  });
  return Number(/replies (\d+)/.exec(r.stdout)?.[1] ?? -1);
}

const ECHO = `
import socket, sys, threading
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
print("echo listening", flush=True)
def serve(c):
    while True:
        d = c.recv(4096)
        if not d:
            break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/** A TCP echo server on `port`. */
export async function startEcho(net: Netns, ns: string, port: number): Promise<Spawned> {
  const s = net.spawn(ns, [PYTHON, "-u", "-c", ECHO, String(port)]);
  await s.out.waitFor(/echo listening/, 10_000);
  return s;
}

const PROBE = `
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print("connected", flush=True)
ok = stalls = bad = 0
err = ""
def trip():
    c.sendall(b"ping\\n")
    got = b""
    while len(got) < 5:
        try:
            d = c.recv(16)
        except socket.timeout:
            # Frames lost before the director reads them: TCP retransmits; keep waiting.
            global stalls
            stalls += 1
            continue
        if not d:
            raise EOFError("closed by peer")
        got += d
end = time.time() + float(sys.argv[3])
try:
    while time.time() < end:
        trip()
        ok += 1
        time.sleep(0.05)
    # After the load: the connection must still be there (not evicted, not reset).
    trip()
    trip()
    ok += 2
except Exception as e:
    bad += 1
    err = repr(e)
print("probe", ok, stalls, bad, err, flush=True)
`;

/**
 * An established TCP connection to addr:port that round-trips a line every 50 ms for
 * `seconds`, then twice more; resolves once connected, then `done` gives [round trips,
 * stalls (5 s without an answer, waited out), failures (reset or closed), error].
 */
export async function startProbe(
  net: Netns,
  ns: string,
  addr: string,
  port: number,
  seconds: number,
): Promise<{ done: Promise<[number, number, number, string]> }> {
  const s = net.spawn(ns, [PYTHON, "-u", "-c", PROBE, addr, String(port), String(seconds)]);
  await s.out.waitFor(/connected/, 10_000);
  const done = s.out.waitFor(/^probe /, (seconds + 60) * 1000).then((l) => {
    const [, ok, stalls, bad, ...err] = l.split(" ");
    return [Number(ok), Number(stalls), Number(bad), err.join(" ")] as [
      number,
      number,
      number,
      string,
    ];
  });
  return { done };
}
