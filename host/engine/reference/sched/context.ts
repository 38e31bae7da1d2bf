// What schedulers read besides the service and dest tables: the packet, the clock, the
// sysctls, the table-block pool and the locality caches, and the sizes fixed at init.
// One instance per engine (EngineState.sched); `nowMs` is set at every processBatch and
// expire. Runtime-agnostic.
import type { SchedConfig } from "../../sched_config.ts";
import type { Packet } from "../state.ts";
import { LocalityCache } from "./locality.ts";
import type { SchedIndex } from "./index.ts";
import { TablePool } from "./table.ts";

export class SchedContext {
  /** Clock of the current call, engine milliseconds (u32). */
  nowMs = 0;
  readonly pkt: Packet;
  readonly sysctl: Int32Array;
  readonly tables: TablePool;
  readonly cache: LocalityCache;
  /** Maglev table size M and its weight bits (CONFIG_IP_VS_MH_TAB_INDEX / 2). */
  readonly mhSize: number;
  readonly mhBits: number;
  /** Seed of the twos draws. */
  readonly seed: number;
  /** Scheduler indexes (set by EngineState once the tables exist). */
  index!: SchedIndex;

  constructor(pkt: Packet, sysctl: Int32Array, sc: SchedConfig) {
    this.pkt = pkt;
    this.sysctl = sysctl;
    this.tables = new TablePool(sc.schedTables, sc.mhSize);
    this.cache = new LocalityCache(sc.lblcEntries, sc.lblcNodes);
    this.mhSize = sc.mhSize;
    this.mhBits = sc.mhIndex >> 1;
    this.seed = sc.schedSeed;
  }
}
