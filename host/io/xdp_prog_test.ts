// redirectProgram() decoded instruction by instruction against the encoding
// in linux/bpf.h (struct bpf_insn), so a typo in an opcode or register
// nibble shows up here rather than as a verifier refusal in the e2e test.
import assert from "node:assert/strict";
import { BPF_INSN_SIZE, redirectProgram, XDP_PASS } from "./xdp_prog.ts";

interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

function decode(prog: Uint8Array): Insn[] {
  const dv = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  const out: Insn[] = [];
  for (let at = 0; at < prog.length; at += BPF_INSN_SIZE) {
    const regs = dv.getUint8(at + 1);
    out.push({
      code: dv.getUint8(at),
      dst: regs & 0xf,
      src: regs >> 4,
      off: dv.getInt16(at + 2, true),
      imm: dv.getInt32(at + 4, true),
    });
  }
  return out;
}

Deno.test("redirectProgram() looks up the XSKMAP by rx_queue_index and falls back to XDP_PASS", () => {
  const p = decode(redirectProgram(7));
  assert.equal(p.length, 6);
  // r2 = *(u32 *)(r1 + 16): BPF_LDX | BPF_MEM | BPF_W, struct xdp_md.rx_queue_index
  assert.deepEqual(p[0], { code: 0x61, dst: 2, src: 1, off: 16, imm: 0 });
  // r1 = map fd 7: BPF_LD | BPF_IMM | BPF_DW with src BPF_PSEUDO_MAP_FD, and its second half
  assert.deepEqual(p[1], { code: 0x18, dst: 1, src: 1, off: 0, imm: 7 });
  assert.deepEqual(p[2], { code: 0, dst: 0, src: 0, off: 0, imm: 0 });
  // r3 = XDP_PASS: the action when the queue has no socket
  assert.deepEqual(p[3], { code: 0xb7, dst: 3, src: 0, off: 0, imm: XDP_PASS });
  // call bpf_redirect_map (helper 51), exit
  assert.deepEqual(p[4], { code: 0x85, dst: 0, src: 0, off: 0, imm: 51 });
  assert.deepEqual(p[5], { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 });
});
