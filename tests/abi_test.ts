// The generated host ABI must match its one source, assembly/abi.ts (STYLE G14).
import assert from "node:assert/strict";
import { evaluateAbi, generateAbi } from "../_tools/gen_abi.ts";

const root = new URL("../", import.meta.url);

Deno.test("host/engine/abi.gen.ts is regenerated from assembly/abi.ts (not stale)", async () => {
  const src = await Deno.readTextFile(new URL("assembly/abi.ts", root));
  const gen = await Deno.readTextFile(new URL("host/engine/abi.gen.ts", root));
  assert.equal(gen, generateAbi(src), "run `deno task gen:abi` after editing assembly/abi.ts");
});

Deno.test("evaluateAbi() rejects a name used before it is defined", () => {
  assert.throws(() => evaluateAbi("export const A: u32 = B + 1;"), /B is not defined above/);
});

Deno.test("evaluateAbi() rejects a constant defined twice", () => {
  assert.throws(
    () => evaluateAbi("export const A: u32 = 1;\nexport const A: u32 = 2;"),
    /defined twice/,
  );
});

Deno.test("ABI reasons and counters leave room for every reason", async () => {
  const v = evaluateAbi(await Deno.readTextFile(new URL("assembly/abi.ts", root)));
  assert.equal(v.get("C_COUNT"), v.get("C_REASON_BASE")! + v.get("R_COUNT")!);
  assert.ok(v.get("C_OUT_BYTES")! < v.get("C_REASON_BASE")!);
  assert.ok(v.get("L_END")! < v.get("L_WORDS")!);
  // Counters below the reasons are contiguous, so COUNTER_NAMES is indexed by counter.
  const below = [...v].filter(([n, x]) => n.startsWith("C_") && x < v.get("C_REASON_BASE")!);
  assert.deepEqual(below.map(([, x]) => x).sort((a, b) => a - b), [...below.keys()]);
});
