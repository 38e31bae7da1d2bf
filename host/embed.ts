// Embedding WVS in another program: create a packet engine by name, configure it from
// ipvsadm-save text, read its counters by name. Runtime-agnostic (Deno, Node, browsers, edge
// runtimes): the WASM module is located relative to this module's own URL, which is right both
// for the sources (host/embed.ts) and for the bundle (dist/wvs.mjs), as host/ and dist/ are
// siblings of build/. It can also be fetched from any URL or given as bytes.

import { C_REASON_BASE, COUNTER_NAMES, REASON_NAMES } from "./engine/abi.gen.ts";
import type { Engine, EngineConfig } from "./engine/engine.ts";
import { createReferenceEngine } from "./engine/reference/reference_engine.ts";
import { createWasmEngine } from "./engine/wasm/wasm_engine.ts";
import { applyRules } from "./ctl/apply.ts";
import type { IpvsModel } from "./ctl/model.ts";
import { parseRules } from "./ctl/rules.ts";

/** The two packet engines: the AssemblyScript core (WASM) and its pure-TypeScript twin. */
export type EngineKind = "wasm" | "ts";

/** Where the release build of the WASM engine is, by default. */
export const WASM_URL: URL = new URL("../build/wvs.wasm", import.meta.url);
/** Where the debug build (with assertions) is, by default. */
export const WASM_DEBUG_URL: URL = new URL("../build/wvs.debug.wasm", import.meta.url);

/** Engine sizes used when {@linkcode createEngine} is not told otherwise (replay's sizes). */
export const DEFAULT_CONFIG: Readonly<EngineConfig> = Object.freeze({
  maxConns: 1 << 16,
  maxConns6: 1 << 13,
  maxServices: 1024,
  maxDests: 4096,
  batch: 64,
  seed: 1,
});

/** Options of {@linkcode createEngine}: the engine, its sizes, and where the WASM module is. */
export interface CreateEngineOptions extends Partial<EngineConfig> {
  /** "wasm" (default) or "ts". */
  engine?: EngineKind;
  /**
   * The WASM module: an absolute URL (file:, http(s):, data:), or the module's bytes.
   * Default: {@linkcode WASM_URL} (or {@linkcode WASM_DEBUG_URL} with `debug`).
   */
  wasm?: URL | string | ArrayBuffer | Uint8Array;
  /** Load the debug build of the WASM engine (assertions on). */
  debug?: boolean;
}

/** A data: URL holding `bytes`, which every runtime's fetch can read. */
function dataUrl(bytes: Uint8Array): URL {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return new URL(`data:application/wasm;base64,${btoa(bin)}`);
}

function wasmLocation(o: CreateEngineOptions): URL {
  const w = o.wasm;
  if (w === undefined) return o.debug ? WASM_DEBUG_URL : WASM_URL;
  if (w instanceof URL) return w;
  if (typeof w === "string") {
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    try {
      return new URL(w, base);
    } catch {
      throw new TypeError(`Cannot load the wasm engine: '${w}' is not an absolute URL`);
    }
  }
  if (w instanceof ArrayBuffer) return dataUrl(new Uint8Array(w));
  if (w instanceof Uint8Array) return dataUrl(w);
  throw new TypeError("Cannot load the wasm engine: `wasm` must be a URL, a string or bytes");
}

/**
 * Creates a packet engine. Sizes not given come from {@linkcode DEFAULT_CONFIG}.
 *
 * @param options which engine, its sizes and hash seed, and where the WASM module is
 * @returns an initialised engine (no port, neighbour or service yet)
 * @throws RangeError for a size out of range; Error when the WASM module cannot be loaded
 * @example
 * ```ts
 * import { createEngine } from "./embed.ts";
 * const wasm = await createEngine({ maxConns: 1024, batch: 32 });
 * const ts = await createEngine({ engine: "ts", maxConns: 1024, batch: 32 });
 * if (wasm.kind !== "wasm" || ts.kind !== "ts") throw new Error("wrong engine");
 * ```
 */
export async function createEngine(options: CreateEngineOptions = {}): Promise<Engine> {
  const config: EngineConfig = {
    maxConns: options.maxConns ?? DEFAULT_CONFIG.maxConns,
    maxConns6: options.maxConns6 ??
      Math.min(DEFAULT_CONFIG.maxConns6!, options.maxConns ?? DEFAULT_CONFIG.maxConns),
    maxServices: options.maxServices ?? DEFAULT_CONFIG.maxServices,
    maxDests: options.maxDests ?? DEFAULT_CONFIG.maxDests,
    batch: options.batch ?? DEFAULT_CONFIG.batch,
    seed: options.seed ?? DEFAULT_CONFIG.seed,
  };
  const kind = options.engine ?? "wasm";
  if (kind === "ts") return createReferenceEngine(config);
  if (kind !== "wasm") {
    throw new TypeError(`Cannot create engine: '${kind}' is neither "wasm" nor "ts"`);
  }
  return await createWasmEngine(config, { wasmUrl: wasmLocation(options) });
}

/**
 * Validates a whole rule set in ipvsadm-save format (`ipvsadm -S -n`) against the engine's
 * limits, then applies it: all or nothing.
 *
 * @param engine the engine to configure
 * @param rulesText rules, one `-A` / `-a` command per line; `#` comments and blank lines allowed
 * @returns the control-plane model, with the engine's service and dest indices filled in
 * @throws IpvsError naming the line of the first rule refused (the engine is untouched then)
 * @example
 * ```ts
 * import { applyRulesText, createEngine } from "./embed.ts";
 * const engine = await createEngine({ engine: "ts" });
 * const model = applyRulesText(engine, "-A -t 198.18.0.1:80 -s rr\n-a -t 198.18.0.1:80 -r 198.18.1.1:8080 -m\n");
 * if (engine.destList(model.services[0].index).length !== 1) throw new Error("not applied");
 * ```
 */
export function applyRulesText(engine: Engine, rulesText: string): IpvsModel {
  return applyRules(engine, parseRules(rulesText));
}

/**
 * The engine's global counters by name: totals (rx, tx, drop, pass, connection and traffic
 * counts), then one per drop or pass reason (`no_dest`, `not_vip`, ...), zeros included.
 *
 * @param engine any engine
 * @returns counter name → value
 * @example
 * ```ts
 * import { createEngine, namedCounters } from "./embed.ts";
 * const c = namedCounters(await createEngine({ engine: "ts" }));
 * if (c.rx !== 0 || c.not_vip !== 0) throw new Error("a new engine counts nothing");
 * ```
 */
export function namedCounters(engine: Engine): Record<string, number> {
  const c = engine.counters();
  const out: Record<string, number> = {};
  COUNTER_NAMES.forEach((name, i) => out[name] = c[i]);
  REASON_NAMES.forEach((name, r) => {
    if (r > 0) out[name] = c[C_REASON_BASE + r];
  });
  return out;
}
