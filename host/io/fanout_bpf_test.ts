// clientHashProgram() run through a small classic-BPF interpreter (the subset
// the program uses, with the kernel's SKF_NET_OFF and SKF_AD_PROTOCOL
// semantics): both directions of a NAT connection must land on the same worker.
import assert from "node:assert/strict";
import { Frame } from "../../tests/fixtures/packet_builder.ts";
import { parseIp } from "../director/inet.ts";
import { clientHashProgram, SOCK_FILTER_SIZE } from "./fanout_bpf.ts";

/** Runs `prog` on Ethernet frame `f` as the kernel's fanout would; null = the load failed (kernel: 0). */
function run(prog: Uint8Array, f: Uint8Array): number {
  const dv = new DataView(prog.buffer, prog.byteOffset);
  const net = f[12] === 0x81 && f[13] === 0x00 ? 18 : 14;
  const proto = (f[net - 2] << 8) | f[net - 1];
  const mem = new Uint32Array(16);
  let a = 0, x = 0;
  const load = (off: number, size: number): number | null => {
    let at: number;
    if (off === -0x1000) return proto;
    if (off >= -0x100000 && off < -0x1000) at = net + off + 0x100000;
    else at = net + off; // skb->data is the network header at the fanout hook
    if (at < 0 || at + size > f.length) return null;
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + f[at + i];
    return v >>> 0;
  };
  for (let pc = 0; pc < prog.length / SOCK_FILTER_SIZE; pc++) {
    const code = dv.getUint16(pc * 8, true);
    const jt = dv.getUint8(pc * 8 + 2), jf = dv.getUint8(pc * 8 + 3);
    const k = dv.getUint32(pc * 8 + 4, true);
    const cls = code & 7;
    const size = [4, 2, 1][(code >> 3) & 3];
    if (cls === 0) {
      const mode = code & 0xe0;
      if (mode === 0x60) a = mem[k];
      else {
        const v = load(mode === 0x40 ? (x + (k | 0)) | 0 : k | 0, size);
        if (v === null) return 0;
        a = v;
      }
    } else if (cls === 2) mem[k] = a;
    else if (cls === 4) {
      const src = code & 8 ? x : k;
      switch (code & 0xf0) {
        case 0x20:
          a = Math.imul(a, src) >>> 0;
          break;
        case 0x50:
          a = (a & src) >>> 0;
          break;
        case 0x60:
          a = (a << src) >>> 0;
          break;
        case 0x70:
          a = a >>> src;
          break;
        case 0xa0:
          a = (a ^ src) >>> 0;
          break;
        default:
          throw new Error(`alu ${code}`);
      }
    } else if (cls === 5) {
      if ((code & 0xf0) === 0) pc += k;
      else pc += a === k ? jt : jf;
    } else if (cls === 6) return code & 0x10 ? a : k;
    else if (cls === 7) {
      if (code & 0x80) a = x;
      else x = a;
    } else throw new Error(`class ${cls}`);
  }
  throw new Error("fell off the program");
}

const RS = ["198.18.1.1", "198.18.1.2", "2001:2:0:1::1"].map(parseIp);
const prog = clientHashProgram(RS);

Deno.test("clientHashProgram() steers both directions of a NAT connection to one worker", async (t) => {
  await t.step("IPv4 TCP, 200 client ports", () => {
    const seen = new Set<number>();
    for (let p = 30000; p < 30200; p++) {
      const inbound = Frame.eth({}).ipv4({ src: "198.18.0.1", dst: "198.18.0.100" })
        .tcp({ sport: p, dport: 80, flags: "S" }).build();
      const outbound = Frame.eth({}).ipv4({ src: "198.18.1.2", dst: "198.18.0.1" })
        .tcp({ sport: 8080, dport: p, flags: "SA" }).build();
      const h = run(prog, inbound);
      assert.equal(run(prog, outbound), h);
      seen.add(h % 2);
    }
    assert.equal(seen.size, 2, "two workers both get flows");
  });
  await t.step("IPv6 UDP", () => {
    const inbound = Frame.eth({}).ipv6({ src: "2001:2::1", dst: "2001:2::100" })
      .udp({ sport: 5353, dport: 53 }).build();
    const outbound = Frame.eth({}).ipv6({ src: "2001:2:0:1::1", dst: "2001:2::1" })
      .udp({ sport: 53, dport: 5353 }).build();
    assert.equal(run(prog, outbound), run(prog, inbound));
  });
  await t.step("an IPv4 header with options moves the ports", () => {
    const a = Frame.eth({}).ipv4({ src: "198.18.0.1", dst: "198.18.0.100" })
      .udp({ sport: 1234, dport: 53 }).build();
    const b = Frame.eth({}).ipv4({
      src: "198.18.0.1",
      dst: "198.18.0.100",
      options: Uint8Array.of(1, 1, 1, 0),
    }).udp({ sport: 1234, dport: 53 }).build();
    assert.equal(b[14], 0x46, "IHL 6");
    assert.equal(run(prog, b), run(prog, a));
  });
});

Deno.test("clientHashProgram() sends ARP, ICMP and neighbour discovery to worker 0", () => {
  const arp = new Uint8Array(60);
  arp[12] = 0x08;
  arp[13] = 0x06;
  assert.equal(run(prog, arp), 0);
  const icmp = Frame.eth({}).ipv4({ src: "198.18.0.1", dst: "198.18.0.100" })
    .raw(1, Uint8Array.of(8, 0, 0, 0, 0, 1, 0, 1)).build();
  assert.equal(run(prog, icmp), 0);
});

Deno.test("clientHashProgram() refuses more real servers than a classic program holds", () => {
  const many = Array.from({ length: 3000 }, (_, i) => Uint8Array.of(10, 0, i >> 8, i & 0xff));
  assert.throws(() => clientHashProgram(many), /max 4096/);
});
