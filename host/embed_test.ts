// Tests of embed.ts: engines by name, the WASM module from its default place, a URL or bytes,
// rules from text, counters by name. Runs under Deno and Node (issue 8); the module bytes are
// read with node:fs/promises, which both have.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import {
  applyRulesText,
  createEngine,
  DEFAULT_CONFIG,
  namedCounters,
  WASM_DEBUG_URL,
  WASM_URL,
} from "./embed.ts";
import { IpvsError } from "./ctl/errors.ts";
import { C_REASON_BASE, L_BATCH, L_MAX_CONNS, REASON_NAMES } from "./engine/abi.gen.ts";
import { FrameIo } from "./engine/frames.ts";
import { Frame } from "../tests/fixtures/packet_builder.ts";

const RULES = `
-A -t 198.18.100.1:80 -s rr
-a -t 198.18.100.1:80 -r 198.18.1.1:8080 -m -w 1
-a -t 198.18.100.1:80 -r 198.18.1.2:8080 -m -w 1
`;

Deno.test("createEngine() makes either engine with the default sizes", async () => {
  const wasm = await createEngine();
  const ts = await createEngine({ engine: "ts" });
  assert.equal(wasm.kind, "wasm");
  assert.equal(ts.kind, "ts");
  for (const e of [wasm, ts]) {
    assert.equal(e.layout[L_BATCH], DEFAULT_CONFIG.batch);
    assert.equal(e.layout[L_MAX_CONNS], DEFAULT_CONFIG.maxConns);
  }
  const small = await createEngine({ engine: "ts", maxConns: 100, batch: 8 });
  assert.equal(small.layout[L_MAX_CONNS], 100);
  assert.equal(small.layout[L_BATCH], 8);
});

Deno.test("createEngine() loads the WASM module from a URL, a string or bytes", async () => {
  const bytes = new Uint8Array(await readFile(WASM_URL));
  for (const wasm of [WASM_URL, WASM_URL.href, bytes, bytes.buffer, WASM_DEBUG_URL]) {
    const e = await createEngine({ wasm, maxConns: 64 });
    assert.equal(e.kind, "wasm");
    assert.equal(e.layout[L_MAX_CONNS], 64);
  }
  assert.equal((await createEngine({ debug: true, maxConns: 64 })).kind, "wasm");
});

Deno.test("createEngine() refuses bad names, sizes and module locations", async () => {
  await assert.rejects(
    createEngine({ engine: "java" as "ts" }),
    /'java' is neither "wasm" nor "ts"/,
  );
  await assert.rejects(createEngine({ engine: "ts", batch: 0 }), RangeError);
  await assert.rejects(createEngine({ batch: 5000 }), RangeError);
  await assert.rejects(
    createEngine({ wasm: "no such module" }),
    /'no such module' is not an absolute URL/,
  );
  await assert.rejects(createEngine({ wasm: new URL("./no_such.wasm", WASM_URL) }));
});

Deno.test("applyRulesText() applies a rule set all or nothing", async () => {
  for (const kind of ["wasm", "ts"] as const) {
    const e = await createEngine({ engine: kind });
    const model = applyRulesText(e, RULES);
    assert.equal(model.services.length, 1);
    assert.equal(e.destList(model.services[0].index).length, 2);
    const other = await createEngine({ engine: kind });
    assert.throws(
      () =>
        applyRulesText(other, "-A -t 198.18.100.2:80 -s rr\n-a -t 198.18.100.9:80 -r 1.2.3.4\n"),
      (err: unknown) => err instanceof IpvsError && /line 2/.test((err as Error).message),
    );
    assert.deepEqual(other.destList(0), [], "nothing applied");
  }
});

Deno.test("namedCounters() names every counter and follows the traffic", async () => {
  for (const kind of ["wasm", "ts"] as const) {
    const e = await createEngine({ engine: kind });
    e.setPort(0, { mac: Uint8Array.of(2, 0, 0, 0, 0, 0xfe), mtu: 1500 });
    e.setNeigh(2, null, Uint8Array.of(2, 0, 0, 0, 0, 1), 0);
    applyRulesText(e, RULES);
    const frames = [
      Frame.eth().ipv4({ src: "198.18.0.1", dst: "198.18.100.1" }).tcp({
        sport: 1,
        dport: 80,
        flags: "S",
      }),
      Frame.eth().ipv4({ src: "198.18.0.2", dst: "198.18.100.1" }).tcp({
        sport: 2,
        dport: 80,
        flags: "S",
      }),
      Frame.eth().ipv4({ src: "198.18.0.3", dst: "198.18.100.7" }).tcp({
        sport: 3,
        dport: 80,
        flags: "S",
      }),
    ].map((f) => f.build());
    new FrameIo(e).run(frames, 1_000_000);
    const c = namedCounters(e);
    assert.equal(Object.keys(c).length, C_REASON_BASE + REASON_NAMES.length - 1);
    assert.deepEqual(
      [c.rx, c.tx, c.pass, c.drop, c.conn_new, c.conns, c.not_vip, c.no_dest],
      [3, 2, 1, 0, 2, 2, 1, 0],
      kind,
    );
  }
});
