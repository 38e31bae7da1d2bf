// ringPlan(): where the TPACKET_V2 rings go in the engine's slots, for every
// alignment of the slots in memory (the engine's layout moves them).
import assert from "node:assert/strict";
import { HEADROOM, SLOT_SIZE } from "../engine/abi.gen.ts";
import { ringMaxFrame, ringPlan } from "./af_packet.ts";
import type { FrameArea } from "./frame_io.ts";
import type { Sys } from "./sys.ts";

/** A Sys whose memory starts at page-aligned `base`: only addressOf is used. */
function fakeSys(base: bigint): Sys {
  return { addressOf: (_b: unknown, off = 0) => base + BigInt(off) } as unknown as Sys;
}

function area(slots: number, batch: number): FrameArea {
  return { memory: new ArrayBuffer(0), rxDesc: 0, txDesc: 0, slots, batch, txCap: batch * 2 };
}

Deno.test("ringPlan() fits page-aligned rings inside the host slots at any slot alignment", async (t) => {
  for (const slots of [4096, 5120, 5248, 6272, 51328, 52352, 8192 + 400, 8192 + 2047]) {
    await t.step(`slots at ${slots}`, () => {
      const base = 0x7f0000000000n;
      const a = area(slots, 1024);
      const rings = ringPlan(fakeSys(base), a, 2)!;
      assert.equal(rings.length, 2);
      let prevEnd = base + BigInt(slots);
      for (const r of rings) {
        const start = base + BigInt(slots + r.firstSlot * SLOT_SIZE - r.pad);
        const end = start + BigInt(r.frames * r.stride * SLOT_SIZE);
        assert.equal(start % 4096n, 0n, "a ring starts a page");
        assert.equal((end - start) % 4096n, 0n, "and fills whole pages");
        assert.ok(start >= prevEnd, "rings do not overlap, nor reach below slot 0");
        assert.ok(end <= base + BigInt(slots + 1024 * SLOT_SIZE), "nor past the host slots");
        assert.ok(ringMaxFrame(r) >= 1514, "a 1500-byte MTU frame fits");
        assert.ok(r.firstSlot + (r.frames - 1) * r.stride < 1024);
        assert.ok(r.pad + HEADROOM + 1514 <= r.stride * SLOT_SIZE);
        prevEnd = end;
      }
      // Every slot is used when the slots sit on a half page.
      if (slots % 2048 === 0) assert.equal(rings[0].stride, 1);
    });
  }
});

Deno.test("ringPlan() refuses host slots too few for two frames a port", () => {
  assert.equal(ringPlan(fakeSys(0x10000n), area(5248, 4), 2), null);
});
