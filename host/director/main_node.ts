// The director daemon on Node 20 (koffi for the system calls, one loop on the
// main thread): Node-specific wiring of run.ts. Node cannot run TypeScript, so
// it runs as a bundle (`deno task build:director-node` → dist/node/director/director.mjs;
// koffi stays an external package, resolved from node_modules):
//   node dist/node/director/director.mjs --config wvs.json [--io ring] [--duration 10]
// The WASM engine is loaded from build/wvs.wasm (three directories up from the bundle,
// as wasm_engine.ts resolves it). Needs root, like the Deno daemon.
import { taskArgs } from "../task_args.ts";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import process from "node:process";
import { parseArgs } from "node:util";
import { nodeSys } from "../io/sys_node.ts";
import { type DirectorRuntime, runDirector } from "./run.ts";

const USAGE = `usage: node director.mjs --config <file.json> [--engine wasm|ts|passthrough]
       [--io mmsg|ring|xdp] [--duration <seconds>] [--stats-every <seconds>]`;

/** The Node runtime of the director. */
export function nodeDirectorRuntime(log = (l: string) => console.log(l)): DirectorRuntime {
  return {
    sys: nodeSys(),
    sysfs: (ifname, file) => readFileSync(`/sys/class/net/${ifname}/${file}`, "utf8").trim(),
    readTextFile: (p) => readFile(p, "utf8"),
    readFile: async (p) => new Uint8Array(await readFile(p)),
    env: (name) => process.env[name],
    onSignal(sig, fn) {
      process.on(sig, fn);
      return () => void process.off(sig, fn);
    },
    randomSeed: () => crypto.getRandomValues(new Uint32Array(1))[0],
    log,
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: taskArgs(process.argv.slice(2)),
    options: {
      config: { type: "string", short: "c" },
      engine: { type: "string" },
      io: { type: "string" },
      duration: { type: "string" },
      "stats-every": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !values.config) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  return await runDirector(nodeDirectorRuntime(), {
    configFile: values.config,
    engine: values.engine,
    io: values.io,
    workers: 0,
    duration: values.duration ? Number(values.duration) : undefined,
    statsEvery: values["stats-every"] ? Number(values["stats-every"]) : undefined,
  });
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`wvs director: ${(e as Error).message}`);
    process.exit(1);
  },
);
