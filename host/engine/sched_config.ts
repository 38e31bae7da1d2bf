// The scheduler part of EngineConfig, checked once for both engines (same defaults, same
// RangeError messages). Runtime-agnostic.
import { type EngineConfig, MH_TABLE_SIZES } from "./engine.ts";

/** Resolved scheduler sizes. */
export interface SchedConfig {
  schedTables: number;
  /** IPVS's CONFIG_IP_VS_MH_TAB_INDEX (8..17) and the table size M it names. */
  mhIndex: number;
  mhSize: number;
  lblcEntries: number;
  lblcNodes: number;
  schedSeed: number;
  schedIndexes: number;
  schedIndexMin: number;
}

const DEFAULT_TABLES = 64;
const DEFAULT_LBLC = 16384;
/** A service earns a scheduler index from this many dests (bench/sched_bench.ts). */
const DEFAULT_INDEX_MIN = 32;
const MAX_LBLC = 1 << 22;

function int(v: number | undefined, name: string, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`Cannot create engine: ${name} must be an integer in 0..${max} (${v})`);
  }
  return v;
}

/**
 * Defaults and checks the scheduler fields of an engine config.
 *
 * @param config the engine config (maxServices already checked)
 * @returns the sizes both engines are built with
 * @throws RangeError for a value out of range or an MH size IPVS does not allow
 * @example
 * ```ts
 * import { schedConfig } from "./sched_config.ts";
 * const c = schedConfig({ maxConns: 1, maxServices: 8, maxDests: 8, batch: 1, seed: 7 });
 * if (c.mhSize !== 4093 || c.schedTables !== 8) throw new Error();
 * ```
 */
export function schedConfig(config: EngineConfig): SchedConfig {
  const schedTables = int(
    config.schedTables,
    "schedTables",
    Math.min(config.maxServices, DEFAULT_TABLES),
    1 << 16,
  );
  const mhSize = config.mhTableSize ?? 4093;
  const i = MH_TABLE_SIZES.indexOf(mhSize);
  if (i < 0) {
    throw new RangeError(
      `Cannot create engine: mhTableSize must be one of ${MH_TABLE_SIZES.join(", ")} (${mhSize})`,
    );
  }
  const lblcEntries = int(config.lblcEntries, "lblcEntries", DEFAULT_LBLC, MAX_LBLC);
  const lblcNodes = int(config.lblcNodes, "lblcNodes", 2 * lblcEntries, MAX_LBLC);
  const s = config.schedSeed ?? config.seed;
  const schedSeed = Number.isFinite(s) ? s >>> 0 : 0;
  const schedIndexes = int(
    config.schedIndexes,
    "schedIndexes",
    Math.min(config.maxServices, DEFAULT_TABLES),
    1 << 16,
  );
  const schedIndexMin = int(config.schedIndexMin, "schedIndexMin", DEFAULT_INDEX_MIN, 0xffffffff);
  return {
    schedTables,
    mhIndex: i + 8,
    mhSize,
    lblcEntries,
    lblcNodes,
    schedSeed,
    schedIndexes,
    schedIndexMin,
  };
}
