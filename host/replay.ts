// `deno task replay`: replays a pcap capture through an engine under an ipvsadm-save rule
// set, writes what the engine transmits to another pcap, and prints the counters.
// The logic is in replay_core.ts (runtime-agnostic); this file is only files, options and
// exit codes, written against node:* APIs so that it also runs under Node and Bun.
// Exit codes: 0 done, 1 bad input or options (one clear line on stderr).
//
//   deno task replay -- --rules rules.txt --in in.pcap --out out.pcap [--engine wasm|ts]
//       [--mac 02:00:00:00:00:fe] [--port-addr IP]... [--neigh IP=MAC]... [--default-gw MAC]
//       [--mtu 1500] [--batch 64] [--seed 1] [--no-learn]
import { readFile, writeFile } from "node:fs/promises";
import process from "node:process";
import { parseArgs } from "node:util";
import { taskArgs } from "./task_args.ts";
import type { Engine, EngineConfig } from "./engine/engine.ts";
import { parseIp, parseMac } from "./ctl/addr.ts";
import { IpvsError } from "./ctl/errors.ts";
import {
  formatSummary,
  type NeighSpec,
  prepareReplay,
  type ReplayOptions,
  runReplay,
} from "./replay_core.ts";

export const USAGE = `Usage: deno task replay -- --rules FILE --in IN.pcap --out OUT.pcap [options]

Replays the frames of IN.pcap through a WVS engine configured with the rules in FILE
(ipvsadm-save format, as "ipvsadm -S -n" prints it), with each frame's capture time as
the clock, and writes every frame the engine transmits to OUT.pcap.

Options:
  --engine wasm|ts       packet engine (default wasm)
  --mac MAC              MAC address of the director port (default 02:00:00:00:00:fe)
  --port-addr IP         address of the director port, used as the outer source of
                         tunnelled packets; once for IPv4 and once for IPv6
  --neigh IP=MAC         a next hop (repeatable); others are learnt from ARP and
                         neighbour discovery frames in the capture
  --default-gw MAC       next hop for destinations without a neighbour (IPv4 and IPv6)
  --mtu N                MTU of the director port (default 1500)
  --batch N              frames per engine call at most (default 64)
  --seed N               connection-hash seed (default 1)
  --no-learn             do not learn neighbours from the capture
  -h, --help             this text`;

/** Engine sizes used by replay (the batch and seed come from the options). */
export const REPLAY_CONFIG: Omit<EngineConfig, "batch" | "seed"> = {
  maxConns: 1 << 16,
  maxConns6: 1 << 13,
  maxServices: 1024,
  maxDests: 4096,
};

// Loaded on demand, by a specifier the type checker does not follow: replay then works with
// whichever engine is present, and a missing or broken engine is one clear error at run
// time instead of a failure to load the whole program.
const ENGINE_MODULES = {
  wasm: { path: "./engine/wasm/wasm_engine.ts", factory: "createWasmEngine" },
  ts: { path: "./engine/reference/reference_engine.ts", factory: "createReferenceEngine" },
} as const;

/** The engine names replay accepts. */
export type EngineKind = keyof typeof ENGINE_MODULES;

/**
 * Creates an engine by name.
 *
 * @param kind "wasm" or "ts"
 * @param config engine sizes
 * @returns the engine
 * @throws Error "Cannot load engine ...", with the reason, when its module is missing or broken
 */
export async function createEngine(kind: EngineKind, config: EngineConfig): Promise<Engine> {
  const m = ENGINE_MODULES[kind];
  const url = new URL(m.path, import.meta.url).href;
  let mod: Record<string, unknown>;
  try {
    mod = await import(url);
  } catch (e) {
    throw new Error(`Cannot load engine '${kind}' from ${m.path}: ${(e as Error).message}`);
  }
  const make = mod[m.factory];
  if (typeof make !== "function") {
    throw new Error(`Cannot load engine '${kind}': ${m.path} has no ${m.factory}()`);
  }
  return await (make as (c: EngineConfig) => Engine | Promise<Engine>)(config);
}

function integer(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) {
    throw new RangeError(`--${name} must be an integer in ${min}..${max} (got '${text}')`);
  }
  return n;
}

function mac(name: string, text: string): Uint8Array {
  const m = parseMac(text);
  if (!m) {
    throw new RangeError(`--${name}: '${text}' is not a MAC address (like 02:00:00:00:00:01)`);
  }
  return m;
}

/** Parsed command line. */
export interface ReplayArgs {
  rules: string;
  input: string;
  output: string;
  engine: EngineKind;
  config: EngineConfig;
  options: ReplayOptions;
}

/**
 * Parses the command line.
 *
 * @param argv the arguments after the program name (a leading "--" is ignored)
 * @returns the arguments, or "help"
 * @throws RangeError or TypeError with a one-line message for bad options
 */
export function parseReplayArgs(argv: string[]): ReplayArgs | "help" {
  const { values } = parseArgs({
    args: taskArgs(argv),
    strict: true,
    allowPositionals: false,
    options: {
      rules: { type: "string" },
      in: { type: "string" },
      out: { type: "string" },
      engine: { type: "string", default: "wasm" },
      mac: { type: "string" },
      "port-addr": { type: "string", multiple: true },
      neigh: { type: "string", multiple: true },
      "default-gw": { type: "string" },
      mtu: { type: "string" },
      batch: { type: "string" },
      seed: { type: "string" },
      "no-learn": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  for (const req of ["rules", "in", "out"] as const) {
    if (values[req] === undefined) throw new RangeError(`--${req} is required`);
  }
  const engine = values.engine as string;
  if (engine !== "wasm" && engine !== "ts") {
    throw new RangeError(`--engine must be wasm or ts (got '${engine}')`);
  }
  const options: ReplayOptions = {
    mtu: integer("mtu", values.mtu, 1500, 68, 65535),
    batch: integer("batch", values.batch, 64, 1, 4096),
    learn: !values["no-learn"],
  };
  if (values.mac !== undefined) options.mac = mac("mac", values.mac);
  if (values["default-gw"] !== undefined) {
    options.defaultGw = mac("default-gw", values["default-gw"]);
  }
  for (const text of values["port-addr"] ?? []) {
    const ip = parseIp(text);
    if (!ip) throw new RangeError(`--port-addr: '${text}' is not an IPv4 or IPv6 address`);
    const key = ip.af === 2 ? "portAddr4" : "portAddr6";
    if (options[key]) {
      throw new RangeError(`--port-addr: more than one ${ip.af === 2 ? "IPv4" : "IPv6"} address`);
    }
    options[key] = ip.addr;
  }
  const neigh: NeighSpec[] = [];
  for (const text of values.neigh ?? []) {
    const eq = text.indexOf("=");
    const ip = eq > 0 ? parseIp(text.slice(0, eq)) : null;
    if (!ip) throw new RangeError(`--neigh: '${text}' is not IP=MAC`);
    neigh.push({ af: ip.af, addr: ip.addr, mac: mac("neigh", text.slice(eq + 1)) });
  }
  options.neigh = neigh;
  const config: EngineConfig = {
    ...REPLAY_CONFIG,
    batch: options.batch!,
    seed: integer("seed", values.seed, 1, 0, 0xffffffff),
  };
  return { rules: values.rules!, input: values.in!, output: values.out!, engine, config, options };
}

async function read(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`Cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/**
 * The replay command.
 *
 * @param argv arguments after the program name
 * @param make creates the engine (default {@linkcode createEngine}; a bundle, which cannot
 *   load engine modules by path, passes one that has them: replay_node.ts)
 * @returns the exit code: 0 done, 1 bad input
 */
export async function main(
  argv: string[],
  make: (kind: EngineKind, config: EngineConfig) => Promise<Engine> = createEngine,
): Promise<number> {
  try {
    const args = parseReplayArgs(argv);
    if (args === "help") {
      console.log(USAGE);
      return 0;
    }
    const rulesText = new TextDecoder().decode(await read(args.rules, "rules file"));
    const pcap = await read(args.input, "capture");
    // Everything is validated before the engine exists.
    let plan;
    try {
      plan = prepareReplay(rulesText, pcap, args.options, {
        maxServices: args.config.maxServices,
        maxDests: args.config.maxDests,
      });
    } catch (e) {
      const msg = (e as Error).message;
      if (e instanceof IpvsError) throw new Error(`${args.rules}: ${msg}`);
      if (msg.startsWith("Cannot read pcap")) throw new Error(`${args.input}: ${msg}`);
      throw e;
    }
    const engine = await make(args.engine, args.config);
    const { outPcap, summary } = runReplay(engine, plan);
    try {
      await writeFile(args.output, outPcap);
    } catch (e) {
      throw new Error(`Cannot write ${args.output}: ${(e as Error).message}`);
    }
    console.log(formatSummary(summary) + `\nWrote ${summary.txFrames} frames to ${args.output}`);
    return 0;
  } catch (e) {
    console.error(`replay: ${(e as Error).message}`);
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error("Try 'deno task replay -- --help'.");
    }
    return 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
