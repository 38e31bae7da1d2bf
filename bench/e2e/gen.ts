// The end-to-end benchmarks' packet generator: 64-byte UDP frames (60 bytes
// without FCS) to VIP:port, source port cycling over `flows` values, sent with
// sendmmsg on an AF_PACKET socket (baselines.md §2 "gen.c", rewritten in Deno).
// Deno-specific (FFI), root only. Bounded: it stops after `--duration` seconds
// or `--count` frames, whichever comes first. ENOBUFS/EAGAIN (the veth peer is
// saturated, exactly the regime measured) are counted, never fatal (pitfall 1).
// `--rate` paces batches against the clock for the fixed-rate runs.
//
//   deno run -A bench/e2e/gen.ts --if eth0 --src-mac 02:00:00:00:00:01 \
//     --dst-mac 02:00:00:00:00:fe --src 198.18.0.1 --dst 198.18.0.100 --dport 9000 \
//     --duration 8 [--rate 100000] [--flows 1024] [--batch 64]
// Prints one JSON line: {"sent":…,"errors":…,"seconds":…}.
import { parseArgs } from "node:util";
import { parseIp, parseMac } from "../../host/director/inet.ts";
import { ifIndex } from "../../host/io/af_packet_deno.ts";
import { errnoMessage } from "../../host/io/sys.ts";
import { denoSys } from "../../host/io/sys_deno.ts";

const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOL_PACKET = 263;
const PACKET_QDISC_BYPASS = 20;
const SOL_SOCKET = 1;
const SO_SNDBUFFORCE = 32;
const MSG_DONTWAIT = 0x40;
const FRAME_LEN = 60;

function sum16(b: Uint8Array, from: number, to: number, acc = 0): number {
  for (let i = from; i < to; i += 2) acc += (b[i] << 8) | (b[i + 1] ?? 0);
  return acc;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** One 60-byte Ethernet/IPv4/UDP frame with valid IP and UDP checksums. */
export function udpFrame(
  dstMac: Uint8Array,
  srcMac: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  sport: number,
  dport: number,
): Uint8Array {
  const f = new Uint8Array(FRAME_LEN);
  const dv = new DataView(f.buffer);
  f.set(dstMac, 0);
  f.set(srcMac, 6);
  dv.setUint16(12, 0x0800);
  const ip = 14;
  const ipLen = FRAME_LEN - ip;
  f[ip] = 0x45;
  dv.setUint16(ip + 2, ipLen);
  dv.setUint16(ip + 6, 0x4000); // DF
  f[ip + 8] = 64;
  f[ip + 9] = 17;
  f.set(src, ip + 12);
  f.set(dst, ip + 16);
  dv.setUint16(ip + 10, ~fold(sum16(f, ip, ip + 20)) & 0xffff);
  const udp = ip + 20;
  const udpLen = ipLen - 20;
  dv.setUint16(udp, sport);
  dv.setUint16(udp + 2, dport);
  dv.setUint16(udp + 4, udpLen);
  for (let i = udp + 8; i < FRAME_LEN; i++) f[i] = i & 0xff;
  const pseudo = sum16(f, ip + 12, ip + 20) + 17 + udpLen;
  const c = ~fold(sum16(f, udp, udp + udpLen, pseudo)) & 0xffff;
  dv.setUint16(udp + 6, c === 0 ? 0xffff : c);
  return f;
}

function setInt(fd: number, level: number, name: number, value: number): number {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setInt32(0, value, true);
  return denoSys().setsockopt(fd, level, name, v, 4);
}

function main(): void {
  const { values: a } = parseArgs({
    args: Deno.args,
    options: {
      if: { type: "string" },
      "src-mac": { type: "string" },
      "dst-mac": { type: "string" },
      src: { type: "string" },
      dst: { type: "string" },
      dport: { type: "string", default: "9000" },
      sport: { type: "string", default: "10000" },
      flows: { type: "string", default: "1024" },
      duration: { type: "string", default: "8" },
      count: { type: "string", default: "1000000000" },
      rate: { type: "string", default: "0" },
      batch: { type: "string", default: "64" },
    },
  });
  if (!a.if || !a["src-mac"] || !a["dst-mac"] || !a.src || !a.dst) {
    console.error("usage: gen.ts --if IF --src-mac M --dst-mac M --src IP --dst IP [...]");
    Deno.exit(2);
  }
  const flows = Number(a.flows);
  const batch = Number(a.batch);
  const rate = Number(a.rate);
  const count = Number(a.count);
  const durationMs = Number(a.duration) * 1000;
  const c = denoSys();
  const fd = c.socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) throw new Error(errnoMessage(c, "socket(AF_PACKET)"));
  setInt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1);
  setInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20);
  const sll = new Uint8Array(20);
  const sv = new DataView(sll.buffer);
  sv.setUint16(0, AF_PACKET, true);
  sv.setInt32(4, ifIndex(a.if), true);
  if (c.bind(fd, sll, 20) < 0) throw new Error(errnoMessage(c, "bind"));

  // All frames in one buffer; the message array covers `flows + batch` entries so
  // that a batch starting at any flow reads a contiguous run of headers.
  const frames = new Uint8Array(flows * 64);
  const [dm, sm, s, d] = [
    parseMac(a["dst-mac"]),
    parseMac(a["src-mac"]),
    parseIp(a.src),
    parseIp(a.dst),
  ];
  for (let i = 0; i < flows; i++) {
    frames.set(udpFrame(dm, sm, s, d, Number(a.sport) + i, Number(a.dport)), i * 64);
  }
  const n = flows + batch;
  const msgs = new Uint8Array(n * 64 + n * 16);
  const mv = new DataView(msgs.buffer);
  const msgBase = c.addressOf(msgs);
  const frameBase = c.addressOf(frames);
  for (let k = 0; k < n; k++) {
    const iov = n * 64 + k * 16;
    mv.setBigUint64(iov, frameBase + BigInt((k % flows) * 64), true);
    mv.setBigUint64(iov + 8, BigInt(FRAME_LEN), true);
    mv.setBigUint64(k * 64 + 16, msgBase + BigInt(iov), true);
    mv.setBigUint64(k * 64 + 24, 1n, true);
  }

  let sent = 0;
  let paced = 0; // frames offered: sent plus refused, the pacing clock's count
  let errors = 0;
  let flow = 0;
  const t0 = performance.now();
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let now = t0;
  while (paced < count && now - t0 < durationMs) {
    if (rate > 0) {
      const due = t0 + (paced / rate) * 1000;
      if (due > now + 0.05) Atomics.wait(sleeper, 0, 0, due - now);
    }
    const want = Math.min(batch, count - paced);
    const r = c.sendmmsg(fd, msgs.subarray(flow * 64), want, MSG_DONTWAIT);
    if (r > 0) {
      sent += r;
      paced += r;
      flow = (flow + r) % flows;
    } else {
      // The kernel refused the first frame (ENOBUFS): skip it, so a fixed rate stays fixed.
      errors++;
      paced++;
      flow = (flow + 1) % flows;
    }
    now = performance.now();
  }
  c.close(fd);
  console.log(JSON.stringify({ sent, errors, seconds: (performance.now() - t0) / 1000 }));
}

if (import.meta.main) main();
