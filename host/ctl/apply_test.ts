// Tests of applying rules to an engine (apply.ts), against a recording stand-in for the
// Engine interface: file order, index bookkeeping, and all-or-nothing validation.
import assert from "node:assert/strict";
import { ENOMEM, L_MAX_DESTS, L_MAX_SVCS, L_WORDS } from "../engine/abi.gen.ts";
import type { DestSpec, Engine, ServiceSpec } from "../engine/engine.ts";
import { formatIp } from "./addr.ts";
import { applyRules, engineLimits } from "./apply.ts";
import { IpvsError } from "./errors.ts";
import { parseRules } from "./rules.ts";

/** Only the control operations apply.ts uses; anything else would throw. */
function recordingEngine(maxServices = 0, maxDests = 0, failDestAt = -1) {
  const calls: string[] = [];
  const layout = new Uint32Array(L_WORDS);
  layout[L_MAX_SVCS] = maxServices;
  layout[L_MAX_DESTS] = maxDests;
  let svcs = 0, dests = 0;
  const engine = {
    layout,
    addService(s: ServiceSpec): number {
      calls.push(`addService ${formatIp(s.addr)}:${s.port} sched=${s.sched}`);
      return svcs++ * 10; // indices need not be dense
    },
    addDest(svc: number, d: DestSpec): number {
      calls.push(`addDest ${svc} ${formatIp(d.addr)}:${d.port} fwd=${d.fwd} w=${d.weight}`);
      if (dests === failDestAt) return -ENOMEM;
      return 100 + dests++;
    },
  } as unknown as Engine;
  return { engine, calls };
}

const RULES = [
  "-A -t 198.18.0.1:80 -s rr",
  "-A -u 198.18.0.1:53 -s wrr",
  "-a -u 198.18.0.1:53 -r 198.18.1.2:5353 -m -w 2",
  "-a -t 198.18.0.1:80 -r 198.18.1.1:8080 -m -w 1",
].join("\n");

Deno.test("applyRules() drives the engine in file order and records its indices", () => {
  const { engine, calls } = recordingEngine();
  const model = applyRules(engine, parseRules(RULES));
  assert.deepEqual(calls, [
    "addService 198.18.0.1:80 sched=0",
    "addService 198.18.0.1:53 sched=1",
    "addDest 10 198.18.1.2:5353 fwd=0 w=2",
    "addDest 0 198.18.1.1:8080 fwd=0 w=1",
  ]);
  assert.deepEqual(model.services.map((s) => s.index), [0, 10]);
  assert.deepEqual(model.services.map((s) => s.dests.map((d) => d.index)), [[101], [100]]);
});

Deno.test("applyRules() touches nothing when any line of the file is refused", () => {
  const { engine, calls } = recordingEngine();
  assert.throws(
    () => applyRules(engine, parseRules(`${RULES}\n-a -t 198.18.0.1:80 -r 198.18.1.1:8080 -m`)),
    {
      message:
        "line 5: Cannot add real server 198.18.1.1:8080 to 198.18.0.1:80/tcp: Destination already exists",
    },
  );
  assert.deepEqual(calls, []);
});

Deno.test("applyRules() checks the file against the limits the engine publishes", () => {
  const { engine, calls } = recordingEngine(1, 0);
  assert.deepEqual(engineLimits(engine), { maxServices: 1, maxDests: undefined });
  assert.throws(() => applyRules(engine, parseRules(RULES)), /line 2: .*at most 1 services/);
  assert.deepEqual(calls, []);
});

Deno.test("applyRules() turns an engine's negative errno into an IpvsError", () => {
  const { engine } = recordingEngine(0, 0, 1);
  assert.throws(
    () => applyRules(engine, parseRules(RULES)),
    (e: unknown) =>
      e instanceof IpvsError && e.errno === ENOMEM &&
      e.message ===
        "line 4: Cannot add real server 198.18.1.1:8080 to 198.18.0.1:80/tcp: Memory allocation problem",
  );
});
