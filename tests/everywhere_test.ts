// Acceptance tests of issue 8 (the engine everywhere). One capture (the mixed capture of
// tests/fixtures/capture.ts) is replayed under the lab's rules by both engines in three
// runtimes, and every output pcap must be byte-identical to the one Deno makes from the
// sources:
//   Deno      host/mod.ts (sources)
//   Node      dist/replay.mjs (the replay command) and dist/wvs.mjs (the library, imported)
//   Chromium  dist/wvs.mjs imported by a page, headless, driven by playwright-core
// Then the web page (dist/web/) gets a capture and rules dropped on it, must show one row
// per frame agreeing with explainReplay under Deno, and its screenshot must show the verdict
// badges. dist/ comes from `deno task build:lib` (a dependency of `deno task test`). No
// Chromium (Debian's /usr/bin/chromium, or WVS_CHROMIUM) or no playwright-core: the browser
// tests skip with a loud reason.
import assert from "node:assert/strict";
import {
  createEngine,
  explainReplay,
  headersText,
  replay,
  type ReplayOptions,
} from "../host/mod.ts";
import { DIRECTOR_MAC, GW_MAC } from "./fixtures/lab.ts";
import { LAB_RULES, labArgs, labOptions, mixedCapture } from "./fixtures/capture.ts";
import { countColor, readPng } from "./fixtures/png.ts";
import { serveFiles, type StaticServer } from "../_tools/static_server.ts";
import { buildLib } from "../_tools/build_lib.ts";

// What the functions run inside the page use. Declared here, loosely, rather than with the
// DOM library, which would change Deno's own types for every module of the test run.
// deno-lint-ignore no-explicit-any
type Dom = any;
declare const document: Dom, DataTransfer: Dom, DragEvent: Dom;

const ROOT = new URL("../", import.meta.url);
const path = (u: URL) => decodeURIComponent(u.pathname);
const ENGINES = ["wasm", "ts"] as const;
const CAPTURE = mixedCapture(8, 3000);

/** Flags of Debian's Chromium here (env notes): no sandbox as root, no background traffic. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function exists(u: URL | string): boolean {
  try {
    Deno.statSync(u);
    return true;
  } catch {
    return false;
  }
}

// dist/ is what is tested: brought up to date here too (a no-op after `deno task build:lib`),
// so that a plain `deno test` after `deno task build` tests fresh bundles.
if (await buildLib() !== 0) throw new Error("Cannot build dist/: run 'deno task build' first");

const CHROMIUM = Deno.env.get("WVS_CHROMIUM") ?? "/usr/bin/chromium";
// deno-lint-ignore no-explicit-any
let playwright: any = null;
let browserSkip = "";
if (!exists(CHROMIUM)) {
  browserSkip = `no Chromium at ${CHROMIUM} (apt-get install -y chromium, as .ci/run does as root)`;
} else {
  try {
    playwright = await import("playwright-core");
  } catch (e) {
    browserSkip = `playwright-core does not load (npm ci): ${(e as Error).message}`;
  }
}
if (browserSkip) console.warn(`\n*** SKIP browser tests: ${browserSkip} ***\n`);

async function sha256(b: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>));
  return [...d.slice(0, 8)].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function unbase64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

async function node(args: string[], what: string): Promise<string> {
  const out = await new Deno.Command("node", {
    args,
    cwd: path(ROOT),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, `${what} failed:\n${text}${new TextDecoder().decode(out.stderr)}`);
  return text;
}

/** The replay options as JSON that a script can turn back into ReplayOptions. */
function optionsJson(o: ReplayOptions): string {
  return JSON.stringify(o, (_k, v) => v instanceof Uint8Array ? { u8: [...v] } : v);
}
const REVIVE = `(k, v) => v && Array.isArray(v.u8) ? Uint8Array.from(v.u8) : v`;

/** Chromium with a page on our server; closes both after `fn`. */
async function withPage(
  files: Map<string, Uint8Array>,
  // deno-lint-ignore no-explicit-any
  fn: (page: any, server: StaticServer) => Promise<void>,
): Promise<void> {
  files.set("/blank.html", new TextEncoder().encode("<!doctype html><title>wvs test</title>"));
  const server = await serveFiles({ root: ROOT, allow: ["/dist/", "/build/"], files });
  const browser = await playwright.chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e: Error) => errors.push(e.message));
    await fn(page, server);
    assert.deepEqual(errors, [], "errors in the page");
  } finally {
    await browser.close();
    await server.close();
  }
}

Deno.test({
  name: "the same capture replayed in Deno, Node and Chromium gives byte-identical output pcaps",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "wvs_everywhere_" });
    try {
      await Deno.writeFile(`${dir}/in.pcap`, CAPTURE);
      await Deno.writeTextFile(`${dir}/lab.rules`, LAB_RULES);
      const outputs: { where: string; kind: string; bytes: Uint8Array }[] = [];

      // Deno, from the sources.
      const reference = new Map<string, Uint8Array>();
      for (const kind of ENGINES) {
        const r = replay(await createEngine({ engine: kind }), LAB_RULES, CAPTURE, labOptions());
        reference.set(kind, r.outPcap);
        outputs.push({ where: "deno (host/mod.ts)", kind, bytes: r.outPcap });
      }
      const expected = reference.get("wasm")!;
      assert.ok(expected.length > 100_000, `only ${expected.length} bytes out`);

      // Node: the replay command, then the library as a program would import it.
      for (const kind of ENGINES) {
        const out = `${dir}/node_cli_${kind}.pcap`;
        await node([
          "dist/replay.mjs",
          "--engine",
          kind,
          "--rules",
          `${dir}/lab.rules`,
          "--in",
          `${dir}/in.pcap`,
          "--out",
          out,
          ...labArgs(),
        ], `node dist/replay.mjs --engine ${kind}`);
        outputs.push({ where: "node (dist/replay.mjs)", kind, bytes: await Deno.readFile(out) });
      }
      const script = `
        import { readFileSync, writeFileSync } from "node:fs";
        import { createEngine, replay } from ${JSON.stringify(new URL("dist/wvs.mjs", ROOT).href)};
        const [kind, dir, json] = process.argv.slice(1);
        const options = JSON.parse(json, ${REVIVE});
        const rules = readFileSync(dir + "/lab.rules", "utf8");
        const r = replay(await createEngine({ engine: kind }), rules, readFileSync(dir + "/in.pcap"), options);
        writeFileSync(dir + "/node_lib_" + kind + ".pcap", r.outPcap);
        console.log(process.version);`;
      for (const kind of ENGINES) {
        const version = await node(
          ["--input-type=module", "-e", script, kind, dir, optionsJson(labOptions())],
          `node, dist/wvs.mjs, ${kind}`,
        );
        assert.match(version, /^v\d+\./);
        outputs.push({
          where: `node ${version.trim()} (dist/wvs.mjs)`,
          kind,
          bytes: await Deno.readFile(`${dir}/node_lib_${kind}.pcap`),
        });
      }

      // Chromium: the library bundle imported by a page.
      if (playwright) {
        const files = new Map([["/t/in.pcap", CAPTURE]]);
        files.set("/t/lab.rules", new TextEncoder().encode(LAB_RULES));
        await withPage(files, async (page, server) => {
          await page.goto(`${server.url}/blank.html`);
          for (const kind of ENGINES) {
            const got = await page.evaluate(
              async ([kind, json, revive]: string[]) => {
                const lib = await import("/dist/wvs.mjs");
                const options = JSON.parse(json, (0, eval)(revive));
                const rules = await (await fetch("/t/lab.rules")).text();
                const pcap = new Uint8Array(await (await fetch("/t/in.pcap")).arrayBuffer());
                const r = lib.replay(
                  await lib.createEngine({ engine: kind }),
                  rules,
                  pcap,
                  options,
                );
                let s = "";
                for (let i = 0; i < r.outPcap.length; i += 0x8000) {
                  s += String.fromCharCode(...r.outPcap.subarray(i, i + 0x8000));
                }
                return { b64: btoa(s), ua: navigator.userAgent };
              },
              [kind, optionsJson(labOptions()), REVIVE],
            );
            const version = got.ua.match(/Chrome\/[\d.]+/)?.[0] ?? got.ua;
            outputs.push({
              where: `chromium ${version} (dist/wvs.mjs)`,
              kind,
              bytes: unbase64(got.b64),
            });
          }
        });
      } else {
        console.warn(`*** Chromium leg SKIPPED: ${browserSkip} ***`);
      }

      const want = await sha256(expected);
      const table = await Promise.all(
        outputs.map(async (o) =>
          `${o.where.padEnd(42)} ${o.kind.padEnd(4)} ${o.bytes.length} B ${await sha256(o.bytes)}`
        ),
      );
      console.log(
        `\n${CAPTURE.length} B in, sha-256 prefix of each output:\n  ${table.join("\n  ")}`,
      );
      for (const o of outputs) {
        assert.ok(
          o.bytes.length === expected.length && o.bytes.every((b, i) => b === expected[i]),
          `${o.where} ${o.kind} differs from deno wasm (${want})`,
        );
      }
      assert.equal(outputs.length, playwright ? 8 : 6);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "the npm package installs into a Node project, replays a capture and type-checks",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "wvs_package_" });
    const run = async (cmd: string, args: string[], cwd: string) => {
      const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
        .output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.ok(out.success, `${cmd} ${args.join(" ")} failed:\n${text}`);
      return text;
    };
    try {
      // The tarball `npm pack` makes (dist/ is built already: no prepack here).
      await run("npm", ["pack", "--ignore-scripts", "--pack-destination", dir], path(ROOT));
      const tgz = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".tgz"))!.name;
      const app = `${dir}/app`;
      await Deno.mkdir(app);
      await Deno.writeTextFile(
        `${app}/package.json`,
        JSON.stringify({
          name: "app",
          private: true,
          type: "module",
          dependencies: { wvs: `file:../${tgz}` },
        }),
      );
      await run("npm", ["install", "--offline", "--no-audit", "--no-fund"], app);
      await Deno.writeFile(`${app}/in.pcap`, CAPTURE);
      await Deno.writeTextFile(`${app}/lab.rules`, LAB_RULES);
      await Deno.writeTextFile(
        `${app}/replay.mjs`,
        `import { readFileSync, writeFileSync } from "node:fs";
import { createEngine, replay } from "wvs";
const options = JSON.parse(process.argv[2], ${REVIVE});
const r = replay(await createEngine(), readFileSync("lab.rules", "utf8"), readFileSync("in.pcap"), options);
writeFileSync("out.pcap", r.outPcap);
`,
      );
      await run("node", ["replay.mjs", optionsJson(labOptions())], app);
      const want = replay(await createEngine(), LAB_RULES, CAPTURE, labOptions()).outPcap;
      assert.deepEqual(await Deno.readFile(`${app}/out.pcap`), want);
      await run("node", [`${app}/node_modules/.bin/wvs-replay`, "--help"], app);

      // A TypeScript user of the package, checked by tsc as Node16+ resolution sees it.
      await Deno.writeTextFile(
        `${app}/check.ts`,
        `import { abi, createEngine, type Engine, explainReplay, FrameIo, namedCounters } from "wvs";
const engine: Engine = await createEngine({ engine: "ts", maxConns: 1024 });
const batch: number = new FrameIo(engine).batch;
const rx: number = namedCounters(engine).rx;
const tx: boolean = explainReplay(engine, "", new Uint8Array(24)).frames.length === abi.V_TX;
// @ts-expect-error: engine names are checked
await createEngine({ engine: "java" });
export { batch, rx, tx };
`,
      );
      await run("node", [
        path(new URL("node_modules/typescript/bin/tsc", ROOT)),
        "--noEmit",
        "--strict",
        "--skipLibCheck",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--target",
        "es2022",
        "--lib",
        "es2022,dom",
        "check.ts",
      ], app);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** One table row of the page, as the tests read it. */
interface Row {
  verdict: string;
  cells: string[];
  /** The transmitted frames' headers, and the rewrite under them. */
  out: string[];
  changes: string;
}

/** Runs in the page: the rows of the frame table. */
function readRows(trs: Dom[]): Row[] {
  return trs.map((tr) => ({
    verdict: tr.dataset.verdict!,
    cells: [...tr.cells].map((c) => c.textContent ?? ""),
    out: [...tr.querySelectorAll(".out .hdr")].map((d) => d.textContent ?? ""),
    changes: tr.querySelector(".out .changes")?.textContent ?? "",
  }));
}

/** A short capture and what the page is told: the director and gateway MACs, nothing else. */
const PAGE_CAPTURE = mixedCapture(3, 60);
const PAGE_OPTIONS: ReplayOptions = {
  mac: Uint8Array.from(DIRECTOR_MAC.split(":"), (h) => parseInt(h, 16)),
  defaultGw: Uint8Array.from(GW_MAC.split(":"), (h) => parseInt(h, 16)),
};

Deno.test({
  name: "the web page shows per-frame verdicts, real servers and rewrites for a dropped capture",
  ignore: !playwright,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const want = explainReplay(
      await createEngine({ engine: "wasm" }),
      LAB_RULES,
      PAGE_CAPTURE,
      PAGE_OPTIONS,
    );
    const files = new Map([["/t/page.pcap", PAGE_CAPTURE]]);
    files.set("/t/lab.rules", new TextEncoder().encode(LAB_RULES));
    await withPage(files, async (page, server) => {
      await page.goto(`${server.url}/dist/web/index.html`);
      await page.waitForSelector("body[data-state=idle]");
      await page.fill("#gw", GW_MAC);
      await page.fill("#mac", DIRECTOR_MAC);
      // Drop both files on the box, as a person would from a file manager.
      await page.evaluate(async () => {
        const dt = new DataTransfer();
        for (
          const [url, name] of [["/t/page.pcap", "capture.pcap"], ["/t/lab.rules", "ipvsadm.rules"]]
        ) {
          dt.items.add(new File([await (await fetch(url)).blob()], name));
        }
        const box = document.getElementById("drop")!;
        for (const type of ["dragenter", "dragover", "drop"]) {
          box.dispatchEvent(
            new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }),
          );
        }
      });
      await page.waitForSelector("body[data-state=done]", { timeout: 20_000 });

      const rows: Row[] = await page.$$eval("#frames tbody tr", readRows);
      assert.equal(rows.length, want.frames.length);
      want.frames.forEach((f, i) => {
        const r = rows[i], at = `row ${i + 1}`;
        assert.equal(r.verdict, f.verdict, at);
        assert.equal(r.cells[0], String(i + 1), at);
        assert.equal(r.cells[2], headersText(f.in), at);
        assert.equal(r.cells[3], f.verdict.toUpperCase(), at);
        assert.equal(r.cells[4], f.reason, at);
        assert.equal(r.cells[5].split(" ")[0], f.conn?.dest ?? "", `${at}: real server`);
        assert.deepEqual(r.out, f.out.map((o) => headersText(o.headers)), `${at}: transmitted`);
        assert.equal(r.changes, f.changes.join("; "), `${at}: rewrite`);
      });
      const verdicts = new Set(rows.map((r) => r.verdict));
      assert.deepEqual([...verdicts].sort(), ["drop", "pass", "tx"], "the capture shows all three");
      assert.ok(rows.some((r) => r.changes.includes("dst 198.18.100.1:80 → 198.18.1.")));
      const status = await page.textContent("#status");
      assert.match(
        status,
        new RegExp(`^${want.summary.frames} frames, ${want.summary.txFrames} transmitted`),
      );

      // The screenshot shows the table with its green, red and amber verdict badges.
      const shot = new URL("dist/web/screenshot.png", ROOT);
      await page.screenshot({ path: path(new URL("dist/web/screenshot-top.png", ROOT)) });
      const png: Uint8Array = await page.screenshot({ path: path(shot), fullPage: true });
      const img = await readPng(png);
      assert.equal(img.width, 1500);
      assert.ok(img.height > 900, `the page is only ${img.height} px high`);
      const tx = countColor(img, 0x1f7a3a), drop = countColor(img, 0xb42318);
      const pass = countColor(img, 0x8a6d00);
      console.log(`screenshot ${path(shot)}: badge pixels tx ${tx}, drop ${drop}, pass ${pass}`);
      assert.ok(tx > 500 && drop > 100 && pass > 100, `badges not visible: ${tx}/${drop}/${pass}`);

      // The TypeScript engine, chosen in the page, draws the same table.
      await page.selectOption("#engine", "ts");
      await page.click("#run");
      await page.waitForFunction(() =>
        document.body.dataset.state === "done" &&
        document.getElementById("status")!.textContent!.includes("ts engine")
      );
      assert.deepEqual(await page.$$eval("#frames tbody tr", readRows), rows);

      // A bad rule is one clear message.
      await page.fill(
        "#rules",
        "-A -t 198.18.100.1:80 -s rr\n-a -t 198.18.100.1:80 -r nowhere -m\n",
      );
      await page.click("#run");
      await page.waitForSelector("body[data-state=error]");
      assert.match(await page.textContent("#status"), /line 2/);
    });
  },
});
