// `deno task check:portable` (STYLE G23): every file whose header says "Runtime-agnostic."
// must run on any JavaScript runtime. Checked two ways: (1) its code (comments aside) has no
// `Deno.` use (a property such as `g.Deno?.readFile` is feature detection, not a use) and no
// `node:` import; (2) tsc type-checks all of them, and everything they import, with the ES and
// DOM libraries only: no Deno namespace, no Node types. The only runtime-specific declaration
// offered is _tools/portable.d.ts (wasm/_module.ts's guarded node:fs/promises import).

const ROOT = new URL("../", import.meta.url);
const path = (u: URL) => decodeURIComponent(u.pathname);
const DIRS = ["host/", "web/", "tests/fixtures/"];
const HEADER_LINES = 8;

const DENO_USE = /(?<![.\w$])Deno\s*\.\s*\w/;
const NODE_IMPORT = /(?:from\s+|import\s*\(\s*|import\s+)["']node:[\w/]+["']/;

function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

async function walk(dir: URL, rel: string, out: string[]): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) await walk(new URL(e.name + "/", dir), rel + e.name + "/", out);
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(rel + e.name);
  }
}

async function main(): Promise<number> {
  const files: string[] = [];
  for (const d of DIRS) await walk(new URL(d, ROOT), d, files);
  const portable: string[] = [];
  const problems: string[] = [];
  for (const f of files.sort()) {
    const text = await Deno.readTextFile(new URL(f, ROOT));
    const header = text.split("\n").slice(0, HEADER_LINES).join("\n");
    if (!/Runtime-agnostic\./.test(header)) continue;
    portable.push(f);
    const body = code(text);
    const deno = body.match(DENO_USE), node = body.match(NODE_IMPORT);
    if (deno) problems.push(`${f}: uses ${deno[0]}`);
    if (node) problems.push(`${f}: imports ${node[0]}`);
  }
  const out = await new Deno.Command("node", {
    args: [
      "node_modules/typescript/bin/tsc",
      "--noEmit",
      "--allowImportingTsExtensions",
      "--target",
      "es2022",
      "--module",
      "esnext",
      "--moduleResolution",
      "bundler",
      "--lib",
      "es2022,dom",
      "--strict",
      "--noImplicitReturns",
      "--noFallthroughCasesInSwitch",
      "--skipLibCheck",
      "_tools/portable.d.ts",
      ...portable,
    ],
    cwd: path(ROOT),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const tsc = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) problems.push(`tsc, without runtime types:\n${tsc}`);
  if (problems.length) {
    console.error(`check:portable: ${problems.length} problem(s)\n${problems.join("\n")}`);
    return 1;
  }
  console.log(`check:portable: ${portable.length} runtime-agnostic files, no runtime types needed`);
  return 0;
}

if (import.meta.main) Deno.exitCode = await main();
