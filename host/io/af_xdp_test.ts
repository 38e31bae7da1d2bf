// xdpPlan() and umemSpan(): how the host slots are shared between XDP sockets
// and which span of engine memory each registers as its UMEM. Pure arithmetic
// over a fake Sys that only knows where the memory starts; the sockets
// themselves are exercised in tests/e2e/af_xdp_e2e_test.ts.
import assert from "node:assert/strict";
import { HEADROOM, SLOT_SIZE } from "../engine/abi.gen.ts";
import { umemSpan, xdpPlan } from "./af_xdp.ts";
import type { FrameArea } from "./frame_io.ts";
import type { Sys } from "./sys.ts";

function area(batch: number, slots: number, bytes = 1 << 22): FrameArea {
  return { memory: new ArrayBuffer(bytes), rxDesc: 0, txDesc: 0, slots, batch, txCap: batch };
}

/** A Sys whose memory starts at `base` (only addressOf is used). */
function fakeSys(base: bigint): Sys {
  return { addressOf: (_b: unknown, off = 0) => base + BigInt(off) } as unknown as Sys;
}

Deno.test("xdpPlan() gives every port a power-of-two share, half RX and half TX chunks", async (t) => {
  await t.step("two ports over 1024 host slots", () => {
    assert.deepEqual(xdpPlan(area(1024, 0), 2), [
      { firstSlot: 0, rx: 256, tx: 256 },
      { firstSlot: 512, rx: 256, tx: 256 },
    ]);
  });
  await t.step("three ports round their share down", () => {
    const p = xdpPlan(area(1024, 0), 3)!;
    assert.deepEqual(p.map((s) => s.firstSlot), [0, 256, 512]);
    assert.ok(p.every((s) => s.rx === 128 && s.tx === 128));
  });
  await t.step("null when a port would get fewer than 8 slots", () => {
    assert.equal(xdpPlan(area(16, 0), 3), null);
  });
});

Deno.test("umemSpan() starts a page before the first frame's chunk and covers the share", async (t) => {
  await t.step("slots 64 bytes into a page", () => {
    const a = area(1024, 4096 + 64);
    const s = { firstSlot: 0, rx: 4, tx: 4 };
    const u = umemSpan(fakeSys(0x10000n), a, s);
    // First chunk: slot + HEADROOM − 256 = 4096 + 64 + 128 − 256 = 4032, page 0.
    assert.equal(u.start, 0);
    const end = a.slots + 8 * SLOT_SIZE;
    assert.ok(u.start + u.bytes >= end && (u.start + u.bytes) % 4096 === 0);
    // The first fill address (chunk start) lies inside the span, 256 bytes before the frame.
    assert.ok(a.slots + HEADROOM - 256 >= u.start);
  });
  await t.step("a later share starts on the page of its own first chunk", () => {
    const a = area(1024, 8192);
    const u = umemSpan(fakeSys(0x10000n), a, { firstSlot: 8, rx: 4, tx: 4 });
    assert.equal(u.start, 8192 + 8 * SLOT_SIZE - 4096);
  });
  await t.step("refused when the span would start before the memory", () => {
    assert.throws(
      () => umemSpan(fakeSys(0x10010n), area(1024, 16), { firstSlot: 0, rx: 4, tx: 4 }),
      /cannot hold a UMEM/,
    );
  });
});
