// `deno task build:lib`: builds what other runtimes use into dist/ (issue 8).
//
//   dist/wvs.mjs          the library (host/mod.ts) as one ES module for Node, Deno, browsers
//                         and edge runtimes; it loads ../build/wvs.wasm relative to itself
//   dist/types/host/*.d.ts  its declarations, from tsc (npm `typescript`)
//   dist/replay.mjs       the replay command for Node (host/replay_node.ts)
//   dist/web/             the static page: index.html, app.mjs (web/app.ts), wvs.wasm
//   dist/node/build/      a copy of the WASM builds for the Node test bundles (test_node.ts)
//
// The tsc run doubles as the library's portability check (STYLE G23): it compiles the
// library's module graph with the ES and DOM libraries only, no Deno and no Node types, so
// a `Deno.*` or `node:*` use in it fails the build. The one runtime-specific line it meets
// is wasm/_module.ts's guarded `import("node:fs/promises")`, declared in _tools/portable.d.ts.
// Skips the work when dist/ is newer than every input (`--force` rebuilds; `--no-types` skips
// tsc, for a quick bundle while the sources do not type-check).

const ROOT = new URL("../", import.meta.url);
const DIST = new URL("dist/", ROOT);
const STAMP = new URL(".stamp", DIST);
const path = (u: URL) => decodeURIComponent(u.pathname);

/** Where inputs live: a change to any file below these rebuilds. */
const INPUTS = ["host/", "web/", "build/wvs.wasm", "build/wvs.debug.wasm", "_tools/"];

async function newest(u: URL): Promise<number> {
  const st = await Deno.stat(u);
  if (!st.isDirectory) return st.mtime?.getTime() ?? 0;
  let t = 0;
  for await (const e of Deno.readDir(u)) {
    t = Math.max(t, await newest(new URL(e.name + (e.isDirectory ? "/" : ""), u)));
  }
  return t;
}

async function upToDate(): Promise<boolean> {
  try {
    const built = (await Deno.stat(STAMP)).mtime?.getTime() ?? 0;
    for (const i of INPUTS) if ((await newest(new URL(i, ROOT))) > built) return false;
    return true;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[], what: string): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: path(ROOT),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    throw new Error(`Cannot build ${what}:\n${text}`);
  }
}

function bundle(entry: string, out: string, platform: "browser" | "node"): Promise<void> {
  return run(Deno.execPath(), ["bundle", "-q", "--platform", platform, "-o", out, entry], out);
}

/** tsc writes `.ts` import specifiers into declarations; a consumer resolves `.js` ones. */
async function fixSpecifiers(dir: URL): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    const u = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
    if (e.isDirectory) await fixSpecifiers(u);
    else if (e.name.endsWith(".d.ts")) {
      const text = await Deno.readTextFile(u);
      await Deno.writeTextFile(u, text.replace(/(from\s+"\.{1,2}\/[^"]*)\.ts"/g, '$1.js"'));
    }
  }
}

async function declarations(): Promise<void> {
  const types = new URL("types/", DIST);
  await Deno.remove(types, { recursive: true }).catch(() => {});
  await run("node", [
    "node_modules/typescript/bin/tsc",
    "host/mod.ts",
    "_tools/portable.d.ts",
    "--declaration",
    "--emitDeclarationOnly",
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
    "--rootDir",
    ".",
    "--outDir",
    path(types),
  ], "the declarations (tsc, no runtime types)");
  await Deno.remove(new URL("_tools/", types), { recursive: true }).catch(() => {});
  await fixSpecifiers(types);
}

async function copy(from: string, to: URL): Promise<void> {
  await Deno.mkdir(new URL("./", to), { recursive: true });
  await Deno.copyFile(new URL(from, ROOT), to);
}

/**
 * Builds dist/ unless it is up to date.
 *
 * @param args `--force`, `--no-types`
 * @returns 0, or 1 when the WASM builds are missing
 * @throws Error "Cannot build ..." with the tool's output
 */
export async function buildLib(args: string[] = []): Promise<number> {
  for (const w of ["build/wvs.wasm", "build/wvs.debug.wasm"]) {
    try {
      await Deno.stat(new URL(w, ROOT));
    } catch {
      console.error(`build:lib: ${w} is missing; run 'deno task build' first`);
      return 1;
    }
  }
  if (!args.includes("--force") && await upToDate()) {
    console.log("build:lib: dist/ is up to date");
    return 0;
  }
  const t0 = performance.now();
  await Deno.mkdir(new URL("web/", DIST), { recursive: true });
  await Promise.all([
    bundle("host/mod.ts", "dist/wvs.mjs", "browser"),
    bundle("web/app.ts", "dist/web/app.mjs", "browser"),
    (async () => {
      await bundle("host/replay_node.ts", "dist/replay.mjs", "node");
      const u = new URL("replay.mjs", DIST);
      await Deno.writeTextFile(u, "#!/usr/bin/env node\n" + await Deno.readTextFile(u));
      await Deno.chmod(u, 0o755);
    })(),
    args.includes("--no-types") ? Promise.resolve() : declarations(),
    copy("web/index.html", new URL("web/index.html", DIST)),
    copy("build/wvs.wasm", new URL("web/wvs.wasm", DIST)),
    copy("build/wvs.wasm", new URL("node/build/wvs.wasm", DIST)),
    copy("build/wvs.debug.wasm", new URL("node/build/wvs.debug.wasm", DIST)),
  ]);
  // Only a full build counts as up to date: after --no-types the next build redoes it all.
  if (args.includes("--no-types")) await Deno.remove(STAMP).catch(() => {});
  else await Deno.writeTextFile(STAMP, new Date().toISOString() + "\n");
  const types = args.includes("--no-types") ? "(no types) " : "dist/types/, ";
  console.log(
    `build:lib: dist/wvs.mjs, ${types}dist/replay.mjs, dist/web/ in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exitCode = await buildLib(Deno.args);
  } catch (e) {
    console.error(`build:lib: ${(e as Error).message}`);
    Deno.exitCode = 1;
  }
}
