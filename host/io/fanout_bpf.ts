// The classic BPF program that steers frames between the director's workers
// (PACKET_FANOUT_CBPF). Runtime-agnostic: it only builds the bytes of a
// `struct sock_filter[]` (linux/filter.h). The kernel runs it per frame and
// sends the frame to socket `result % workers` of the interface's fanout group.
//
// Why not PACKET_FANOUT_HASH: NAT rewrites the destination, so a connection's
// two directions have different 5-tuples (client→VIP:vport, real→client) and
// the kernel's flow hash puts them on different workers, whose connection
// shards do not know each other's entries. This program hashes what both
// directions share, the client's address and port: the source of a frame from
// anyone but a NAT real server, the destination of a frame from one.
// Everything that is not TCP or UDP (ARP, neighbour discovery, ICMP) goes to
// worker 0, the primary, which answers and resolves neighbours for all.
//
// Loads use SKF_NET_OFF (offsets from the network header, wherever skb->data
// is) and SKF_AD_PROTOCOL (the ethertype after any VLAN tag was taken off).
// IPv6 ports are read right after the fixed header (no extension headers; a
// frame that has them is still steered consistently, by its first 4 bytes there).

// Instruction classes, sizes, modes and operations (linux/bpf_common.h).
const LD = 0x00, ST = 0x02, ALU = 0x04, JMP = 0x05, RET = 0x06, MISC = 0x07;
const W = 0x00, H = 0x08, B = 0x10;
const ABS = 0x20, IND = 0x40, MEM = 0x60;
const MUL = 0x20, AND = 0x50, LSH = 0x60, RSH = 0x70, XOR = 0xa0;
const JA = 0x00, JEQ = 0x10;
const K = 0x00, X = 0x08, A = 0x10;
const TAX = 0x00, TXA = 0x80;

const SKF_AD_OFF = -0x1000;
const SKF_AD_PROTOCOL = 0;
const SKF_NET_OFF = -0x100000;
/** Knuth's multiplicative hash constant (2^32 / golden ratio). */
const GOLDEN = 0x9e3779b1;
/** The kernel's limit on a classic program (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;
/** Size of one `struct sock_filter`. */
export const SOCK_FILTER_SIZE = 8;

interface Insn {
  code: number;
  jt?: string | number;
  jf?: string | number;
  k?: number | string;
  label?: string;
}

/** A tiny assembler: jump targets are labels, resolved to the u8 offsets (or `ja`'s u32). */
class Asm {
  readonly insns: Insn[] = [];
  #labels = new Map<string, number>();

  at(label: string): this {
    this.#labels.set(label, this.insns.length);
    return this;
  }

  op(code: number, k: number | string = 0, jt: string | number = 0, jf: string | number = 0): this {
    this.insns.push({ code, k, jt, jf });
    return this;
  }

  /** Little-endian `struct sock_filter` array. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.insns.length * SOCK_FILTER_SIZE);
    const dv = new DataView(out.buffer);
    const target = (v: string | number | undefined, pc: number): number => {
      if (v === undefined) return 0;
      if (typeof v === "number") return v;
      const at = this.#labels.get(v);
      if (at === undefined) throw new Error(`Cannot assemble fanout program: no label ${v}`);
      return at - pc - 1;
    };
    this.insns.forEach((ins, pc) => {
      const isJa = ins.code === (JMP | JA);
      const jt = isJa ? 0 : target(ins.jt, pc);
      const jf = isJa ? 0 : target(ins.jf, pc);
      if (jt < 0 || jt > 255 || jf < 0 || jf > 255) {
        throw new Error(`Cannot assemble fanout program: jump out of range at ${pc}`);
      }
      const k = typeof ins.k === "string" ? target(ins.k, pc) : ins.k ?? 0;
      dv.setUint16(pc * 8, ins.code, true);
      dv.setUint8(pc * 8 + 2, jt);
      dv.setUint8(pc * 8 + 3, jf);
      dv.setUint32(pc * 8 + 4, k >>> 0, true);
    });
    return out;
  }
}

/**
 * The steering program for a director whose NAT real servers are `rs`
 * (4- and 16-byte addresses). Frames from them are hashed by destination,
 * all other TCP/UDP by source; everything else returns 0.
 *
 * @param rs the addresses of every MASQ dest
 * @returns the program as `struct sock_filter[]` bytes (8 per instruction)
 * @example
 * ```ts
 * import { clientHashProgram } from "./fanout_bpf.ts";
 * const prog = clientHashProgram([Uint8Array.of(198, 18, 1, 1)]);
 * console.log(prog.length / 8 <= 4096); // true
 * ```
 */
export function clientHashProgram(rs: readonly Uint8Array[]): Uint8Array {
  const a = new Asm();
  const net = (off: number) => SKF_NET_OFF + off;
  const word = (b: Uint8Array, i: number) =>
    ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  a.op(LD | W | ABS, SKF_AD_OFF + SKF_AD_PROTOCOL)
    .op(JMP | JEQ | K, 0x0800, "v4", 0)
    .op(JMP | JEQ | K, 0x86dd, "v6", "slow");

  // IPv4: X = header length, A = source address.
  a.at("v4")
    .op(LD | B | ABS, net(9))
    .op(JMP | JEQ | K, 6, "l4v4", 0)
    .op(JMP | JEQ | K, 17, "l4v4", "slow")
    .at("l4v4")
    .op(LD | B | ABS, net(0))
    .op(ALU | AND | K, 0x0f)
    .op(ALU | LSH | K, 2)
    .op(MISC | TAX)
    .op(LD | W | ABS, net(12));
  for (const addr of rs.filter((x) => x.length === 4)) {
    a.op(JMP | JEQ | K, word(addr, 0), 0, 1).op(JMP | JA, "out4");
  }
  a.op(LD | H | IND, net(0)) // client = source: its port
    .op(ST, 0)
    .op(LD | W | ABS, net(12))
    .op(JMP | JA, "mix")
    .at("out4")
    .op(LD | H | IND, net(2)) // from a real server: the client is the destination
    .op(ST, 0)
    .op(LD | W | ABS, net(16))
    .op(JMP | JA, "mix");

  // IPv6: compare the source with each real server word by word; fold 4 words into A.
  a.at("v6")
    .op(LD | B | ABS, net(6))
    .op(JMP | JEQ | K, 6, "l4v6", 0)
    .op(JMP | JEQ | K, 17, "l4v6", "slow")
    .at("l4v6");
  rs.filter((x) => x.length === 16).forEach((addr, n) => {
    const next = `v6next${n}`;
    for (let w = 0; w < 4; w++) {
      a.op(LD | W | ABS, net(8 + 4 * w));
      a.op(JMP | JEQ | K, word(addr, 4 * w), 0, w < 3 ? next : 1);
    }
    a.op(JMP | JA, "out6").at(next);
  });
  const fold6 = (off: number) => {
    a.op(LD | W | ABS, net(off)).op(MISC | TAX);
    for (let w = 1; w < 4; w++) {
      a.op(LD | W | ABS, net(off + 4 * w)).op(ALU | XOR | X).op(MISC | TAX);
    }
    a.op(MISC | TXA); // A = the folded address
  };
  a.op(LD | H | ABS, net(40)).op(ST, 0);
  fold6(8);
  a.op(JMP | JA, "mix").at("out6").op(LD | H | ABS, net(42)).op(ST, 0);
  fold6(24);

  // A = address, M[0] = port: hash = ((address ^ port) * GOLDEN) >> 16.
  a.at("mix")
    .op(MISC | TAX)
    .op(LD | MEM, 0)
    .op(ALU | XOR | X)
    .op(ALU | MUL | K, GOLDEN)
    .op(ALU | RSH | K, 16)
    .op(RET | A)
    .at("slow")
    .op(RET | K, 0);
  if (a.insns.length > BPF_MAXINSNS) {
    throw new Error(
      `Cannot build the fanout program: ${rs.length} NAT real servers need ${a.insns.length} instructions (max ${BPF_MAXINSNS})`,
    );
  }
  return a.bytes();
}
