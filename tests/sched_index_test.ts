// Scheduler indexes (sched/index.ts) against the list walks they replace: the scheduler
// differential scenario (tests/fixtures/sched_scenario.ts) run with every indexable
// service indexed (schedIndexMin 1) and with none (schedIndexMin 1e9) must give identical
// frames, verdicts, counters and dumps, in each engine and across them.
// WVS_INDEX_FRAMES (default 200000) and WVS_INDEX_SEED choose the run.
import { schedDifferential } from "./fixtures/sched_scenario.ts";

const FRAMES = Number(Deno.env.get("WVS_INDEX_FRAMES") ?? 200_000);
const SEED = Number(Deno.env.get("WVS_INDEX_SEED") ?? (Date.now() % 0x7fffffff));
const ON = { schedIndexMin: 1 };
const OFF = { schedIndexMin: 1e9 };

const CASES: [string, Parameters<typeof schedDifferential>[2]][] = [
  ["ts indexed vs ts walking the list", { a: ON, b: OFF, kinds: [0, 0] }],
  ["wasm indexed vs wasm walking the list", { a: ON, b: OFF, kinds: [1, 1] }],
  ["ts indexed vs wasm indexed", { a: ON, b: ON }],
];

for (const [name, variant] of CASES) {
  Deno.test(`scheduler indexes decide as the list walks do: ${name} (seed ${SEED})`, async () => {
    console.log(`${name}: seed ${SEED}: ${await schedDifferential(FRAMES, SEED, variant)}`);
  });
}
