// The ipvsadm corpus: scripts of ipvsadm command lines (tests/fixtures/ipvsadm/*.txt) run
// through wvsadm against a fresh daemon on a temporary socket, comparing every command's
// stdout, stderr and exit status with the text written from the spec
// (../shared/spec/ipvs-control-plane.md). After every failing command, the configuration
// (the daemon's `save` and `get`) must be exactly what it was before.
//
// Script format, one item per line:
//   $ <args>      a command line (the words after "ipvsadm", split on spaces)
//   < <text>      a line of its standard input (for -R); "<" alone is an empty line
//   > <text>      a line of its expected stdout; ">" alone is an empty line
//   ! <text>      a line of its expected stderr; "!" alone is an empty line
//   ? <n>         its expected exit status (0 when absent)
//   # ...         a comment; blank lines are ignored
// Expected lines keep their trailing spaces: ipvsadm pads its last columns.
import assert from "node:assert/strict";
import { createWasmEngine } from "../host/engine/wasm/wasm_engine.ts";
import { createDaemon } from "../host/daemon/daemon.ts";
import { requestOnce } from "../host/daemon/client.ts";
import { wvsadm } from "../host/wvsadm.ts";

const DIR = new URL("./fixtures/ipvsadm/", import.meta.url);

/** One command of a script and what it must give. */
export interface Step {
  line: number;
  argv: string[];
  stdin: string;
  stdout: string;
  stderr: string;
  status: number;
}

/**
 * Reads a corpus script.
 *
 * @param text the script
 * @returns its steps
 */
export function parseScript(text: string): Step[] {
  const steps: Step[] = [];
  let cur: Step | undefined;
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "" || raw.startsWith("#")) return;
    const tag = raw[0];
    const body = raw.length > 1 ? raw.slice(2) : "";
    if (tag === "$") {
      cur = {
        line: i + 1,
        argv: body.split(" ").filter((w) => w !== ""),
        stdin: "",
        stdout: "",
        stderr: "",
        status: 0,
      };
      steps.push(cur);
      return;
    }
    if (!cur) throw new Error(`line ${i + 1}: '${tag}' before any '$' line`);
    if (tag === "<") cur.stdin += body + "\n";
    else if (tag === ">") cur.stdout += body + "\n";
    else if (tag === "!") cur.stderr += body + "\n";
    else if (tag === "?") cur.status = Number(body);
    else throw new Error(`line ${i + 1}: unknown tag '${tag}'`);
  });
  return steps;
}

/** The configuration as the daemon reports it, without the change counter. */
async function configOf(socket: string): Promise<string> {
  const get = await requestOnce(socket, { op: "get" });
  const save = await requestOnce(socket, { op: "save" });
  assert.ok(get.ok && save.ok);
  const { generation: _, ...rest } = get.result as Record<string, unknown>;
  return JSON.stringify([rest, save.result]);
}

/**
 * Starts a daemon on a temporary socket with a fresh WASM engine.
 *
 * @returns the socket path and a function that stops everything
 */
export async function freshDaemon(): Promise<{ socket: string; stop: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "wvs-corpus-" });
  const engine = await createWasmEngine({
    maxConns: 4096,
    maxServices: 256,
    maxDests: 1024,
    batch: 32,
    seed: 7,
  });
  const socket = `${dir}/wvs.sock`;
  const daemon = await createDaemon({
    engine,
    socketPath: socket,
    stateDir: `${dir}/state`,
    tableSize: 4096,
    expireEveryMs: 0,
    estimateEveryMs: 0,
    log: () => {},
  });
  return {
    socket,
    stop: async () => {
      await daemon.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const files = [...Deno.readDirSync(DIR)].map((e) => e.name).filter((n) => n.endsWith(".txt"))
  .sort();

for (const name of files) {
  Deno.test(`wvsadm gives ipvsadm's stdout, stderr and exit status for every command of ${name}`, async () => {
    const steps = parseScript(await Deno.readTextFile(new URL(name, DIR)));
    assert.ok(steps.length > 0);
    const { socket, stop } = await freshDaemon();
    try {
      for (const s of steps) {
        const before = s.status !== 0 ? await configOf(socket) : "";
        const r = await wvsadm(s.argv, () => Promise.resolve(s.stdin), socket);
        const where = `${name}:${s.line}: ipvsadm ${s.argv.join(" ")}`;
        assert.equal(r.stdout, s.stdout, `${where}: stdout`);
        assert.equal(r.stderr, s.stderr, `${where}: stderr`);
        assert.equal(r.status, s.status, `${where}: exit status`);
        if (s.status !== 0) {
          assert.equal(
            await configOf(socket),
            before,
            `${where}: a failing command changed the configuration`,
          );
        }
      }
    } finally {
      await stop();
    }
  });
}
