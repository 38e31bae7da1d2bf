// `deno task test:node`: the runtime-agnostic test suites under Node's own test runner
// (issue 8). A suite is runtime-agnostic when no module of its local graph uses a Deno API
// other than Deno.test and Deno.env.get; each such *_test.ts under tests/ and host/ is
// bundled with `deno bundle --platform node` to dist/node/test/, and all of them run with
// `node --import dist/node/deno_shim.mjs --test` (tests/node/deno_shim.ts maps Deno.test
// onto node:test). The suites in REQUIRED must be among them, or this fails.
// Prints Node's report, then `test:node | N passed | M failed`, which .ci/run adds to the
// Deno totals. WVS_DIFF_FRAMES and WVS_SYNC_DIFF_FRAMES default to 30000 here: short
// differential runs (Deno runs the long ones).
// Bundles sit three levels below the repository root, like host/engine/wasm/_module.ts,
// so its `new URL("../../../build/wvs.wasm", import.meta.url)` still finds build/; the
// library's own `../build/` lands in dist/node/build/, where build_lib.ts copies the builds.

const ROOT = new URL("../", import.meta.url);
const OUT = new URL("dist/node/test/", ROOT);
const path = (u: URL) => decodeURIComponent(u.pathname);

/** Suites that must run under Node (issue 8: engine conformance, differential, replay). */
const REQUIRED = [
  "tests/engine_conformance_test.ts",
  "tests/wasm_engine_test.ts",
  "tests/differential_test.ts",
  "host/replay_core_test.ts",
  "host/explain_test.ts",
];

/** Deno APIs the shim provides; any other `Deno.` use keeps a suite out of the Node run. */
/** (A property `x.Deno.y` is feature detection, as in wasm/_module.ts, not a use.) */
const OTHER_DENO_API = /(?<![.\w$])Deno\s*\.\s*(?!test\b|env\s*\.\s*get\b)\w/;

async function testFiles(dir: URL, rel: string, out: string[]): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory && !e.name.startsWith(".")) {
      await testFiles(new URL(e.name + "/", dir), rel + e.name + "/", out);
    } else if (e.isFile && e.name.endsWith("_test.ts")) out.push(rel + e.name);
  }
}

function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** The local modules a file imports, transitively (deno info). */
async function localGraph(file: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", file],
    cwd: path(ROOT),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  return info.modules.map((m) => m.specifier).filter((s) => s.startsWith("file:"));
}

async function portable(file: string): Promise<string | null> {
  for (const spec of await localGraph(file)) {
    let text: string;
    try {
      text = code(await Deno.readTextFile(new URL(spec)));
    } catch {
      return `it imports ${spec}, which cannot be read`;
    }
    const m = text.match(OTHER_DENO_API);
    if (m) return `${spec.slice(ROOT.href.length)} uses ${m[0]}`;
  }
  return null;
}

async function run(args: string[], what: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: path(ROOT),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`Cannot bundle ${what}:\n${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Runs `fn` over `items`, `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const files: string[] = [];
  await testFiles(new URL("tests/", ROOT), "tests/", files);
  await testFiles(new URL("host/", ROOT), "host/", files);
  files.sort();
  const verdicts = await pool(files, 4, portable);
  const chosen = files.filter((_, i) => verdicts[i] === null);
  for (const f of REQUIRED) {
    const i = files.indexOf(f);
    if (i < 0) throw new Error(`${f} is missing`);
    if (verdicts[i]) throw new Error(`${f} cannot run under Node: ${verdicts[i]}`);
  }
  await Deno.remove(OUT, { recursive: true }).catch(() => {});
  await Deno.mkdir(OUT, { recursive: true });
  const outputs = chosen.map((f) =>
    `dist/node/test/${f.replaceAll("/", "__").replace(/\.ts$/, ".mjs")}`
  );
  await pool(
    chosen.map((f, i) => [f, outputs[i]]),
    4,
    ([f, o]) => run(["bundle", "-q", "--platform", "node", "-o", o, f], f),
  );
  await run(
    [
      "bundle",
      "-q",
      "--platform",
      "node",
      "-o",
      "dist/node/deno_shim.mjs",
      "tests/node/deno_shim.ts",
    ],
    "the shim",
  );
  const skipped = files.length - chosen.length;
  console.log(
    `test:node: ${chosen.length} suites bundled in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s` +
      ` (${skipped} use Deno APIs and run under Deno only)`,
  );

  const env = { ...Deno.env.toObject() };
  env.WVS_DIFF_FRAMES ??= "30000";
  env.WVS_SYNC_DIFF_FRAMES ??= "30000";
  const node = new Deno.Command("node", {
    args: [
      "--import",
      "./dist/node/deno_shim.mjs",
      "--test",
      "--test-reporter=spec",
      `--test-concurrency=${navigator.hardwareConcurrency}`,
      ...outputs,
    ],
    cwd: path(ROOT),
    env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let text = "";
  const dec = new TextDecoder();
  for await (const chunk of node.stdout) {
    await Deno.stdout.write(chunk);
    text += dec.decode(chunk, { stream: true });
  }
  const status = await node.status;
  const count = (what: string) =>
    Number(text.match(new RegExp(`^ℹ ${what} (\\d+)$`, "m"))?.[1] ?? NaN);
  const passed = count("pass"), failed = count("fail");
  if (Number.isNaN(passed) || Number.isNaN(failed)) {
    console.log("test:node | 0 passed | 1 failed (no summary from node --test)");
    return 1;
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(0);
  console.log(
    `test:node | ${passed} passed | ${failed} failed (${secs}s, node ${await nodeVersion()})`,
  );
  return status.success && failed === 0 ? 0 : 1;
}

async function nodeVersion(): Promise<string> {
  const out = await new Deno.Command("node", { args: ["--version"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main();
  } catch (e) {
    console.error(`test:node: ${(e as Error).message}`);
    console.log("test:node | 0 passed | 1 failed");
    Deno.exitCode = 1;
  }
}
