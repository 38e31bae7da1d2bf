// `deno task daemon`: the WVS director daemon, control plane only (no network attachment:
// the frame loop on real interfaces is host/director/). It holds an engine (WASM by
// default) and the configuration, restores the saved configuration, serves the control
// API for wvsadm, and optionally Prometheus metrics. Stops on SIGINT/SIGTERM.
//
//   deno task daemon [--socket PATH] [--state-dir DIR | --no-state] [--engine wasm|ts]
//                    [--metrics HOST:PORT] [--max-conns N] [--max-services N] [--max-dests N]
import { taskArgs } from "../task_args.ts";
import { parseArgs } from "node:util";
import type { Engine, EngineConfig } from "../engine/engine.ts";
import { createDaemon, DEFAULT_SOCKET, DEFAULT_STATE_DIR } from "./daemon.ts";

const USAGE =
  `usage: deno task daemon [--socket PATH] [--state-dir DIR | --no-state] [--engine wasm|ts]
                        [--metrics HOST:PORT] [--max-conns N] [--max-services N] [--max-dests N]
                        [--table-size N]
  --socket       control socket, mode 0600 (default ${DEFAULT_SOCKET}, or $WVS_SOCKET)
  --state-dir    saved configuration, restored at start (default ${DEFAULT_STATE_DIR})
  --no-state     neither save nor restore
  --metrics      serve Prometheus text on http://HOST:PORT/metrics (default off)`;

async function makeEngine(kind: string, config: EngineConfig): Promise<Engine> {
  if (kind === "ts") {
    const { createReferenceEngine } = await import("../engine/reference/reference_engine.ts");
    return createReferenceEngine(config);
  }
  const { createWasmEngine } = await import("../engine/wasm/wasm_engine.ts");
  return await createWasmEngine(config);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: taskArgs(Deno.args),
    options: {
      socket: { type: "string" },
      "state-dir": { type: "string" },
      "no-state": { type: "boolean" },
      engine: { type: "string", default: "wasm" },
      metrics: { type: "string" },
      "max-conns": { type: "string", default: String(1 << 20) },
      "max-services": { type: "string", default: "65536" },
      "max-dests": { type: "string", default: String(1 << 20) },
      "table-size": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const int = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      throw new Error(`Cannot start: --${name} must be a positive integer (${v})`);
    }
    return n;
  };
  if (values.engine !== "wasm" && values.engine !== "ts") {
    console.error(`wvs daemon: --engine must be wasm or ts\n${USAGE}`);
    return 2;
  }
  const config: EngineConfig = {
    maxConns: int(values["max-conns"], "max-conns")!,
    maxServices: int(values["max-services"], "max-services")!,
    maxDests: int(values["max-dests"], "max-dests")!,
    batch: 64,
    seed: crypto.getRandomValues(new Uint32Array(1))[0],
  };
  const engine = await makeEngine(values.engine, config);
  const socketPath = values.socket ?? Deno.env.get("WVS_SOCKET") ?? DEFAULT_SOCKET;
  const daemon = await createDaemon({
    engine,
    socketPath,
    stateDir: values["no-state"] ? null : values["state-dir"] ?? DEFAULT_STATE_DIR,
    metrics: values.metrics ?? null,
    tableSize: int(values["table-size"], "table-size"),
  });
  const metrics = daemon.metricsAddr
    ? `, metrics on http://${daemon.metricsAddr.hostname}:${daemon.metricsAddr.port}/metrics`
    : "";
  console.error(`wvs daemon: ${engine.kind} engine, control socket ${socketPath}${metrics}`);
  const { promise, resolve } = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", resolve);
  Deno.addSignalListener("SIGTERM", resolve);
  await promise;
  await daemon.close();
  console.error("wvs daemon: stopped");
  return 0;
}

try {
  Deno.exit(await main());
} catch (e) {
  console.error(`wvs daemon: ${(e as Error).message}`);
  Deno.exit(1);
}
