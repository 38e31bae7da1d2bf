/**
 * Connection sync and failover (ip_vs_sync.c): the wire codec of IPVS sync messages (v0, v1),
 * the master and backup roles over UDP multicast, optional authentication, and the seam a
 * director or daemon uses: {@linkcode startSync} with the daemons of a config, then
 * `afterBatch(now)` after every processBatch and `tick(now)` with the timers; the returned
 * manager also takes `--start-daemon` / `--stop-daemon` / `--daemon` (start, stop, list).
 * The sockets use node:dgram, which Deno and Node both provide.
 *
 * @example
 * ```ts ignore
 * import { startSync } from "./mod.ts";
 * const sync = await startSync(engine, planSync({ daemons: [{ state: "master", mcastIfn: "eth1" }] }),
 *   { clock, log: console.log });
 * // loop: engine.processBatch(n, now); sync.afterBatch(now); sync.tick(now);
 * await stopSync(sync);
 * ```
 *
 * @module
 */
import type { Engine } from "../engine/engine.ts";
import { SyncAuth } from "./auth.ts";
import type { DirectorSyncPlan } from "./config.ts";
import { SyncManager, type SyncTransport } from "./sync.ts";
import { nodeTransport } from "./transport_node.ts";

export * from "./auth.ts";
export * from "./config.ts";
export * from "./records.ts";
export * from "./sync.ts";
export * from "./wire.ts";
export { SyncBackup } from "./backup.ts";
export { DEFAULT_FLUSH_MS, SyncMaster, type SyncSender } from "./master.ts";
export { nodeTransport } from "./transport_node.ts";

/** Options of {@linkcode startSync}. */
export interface StartSyncOptions {
  /** Engine clock, µs: the one the frame loop passes to processBatch. */
  clock: () => number;
  log?: (line: string) => void;
  /** Shared key (the contents of the plan's keyFile); authentication is on when given. */
  key?: Uint8Array;
  transport?: SyncTransport;
  /** Per-message trace lines (lag measurements). */
  trace?: (line: string) => void;
}

/**
 * Starts the sync daemons of a director's `sync` plan.
 *
 * @param engine the packet engine
 * @param plan the validated `sync` section (config.ts planSync)
 * @param o clock, log, key, transport
 * @returns the running manager
 * @throws IpvsError when a daemon cannot start (ENODEV: no such interface)
 */
export async function startSync(
  engine: Engine,
  plan: DirectorSyncPlan,
  o: StartSyncOptions,
): Promise<SyncManager> {
  const auth = o.key ? await SyncAuth.create(o.key) : null;
  const m = new SyncManager({
    engine,
    transport: o.transport ?? nodeTransport,
    clock: o.clock,
    auth,
    flushMs: plan.flushMs,
    sysctls: plan.sysctls,
    log: o.log,
    trace: o.trace,
  });
  try {
    for (const d of plan.daemons) m.start(d);
  } catch (e) {
    await m.close();
    throw e;
  }
  return m;
}

/** Stops every daemon of `m` (a master sends what it holds first). */
export function stopSync(m: SyncManager): Promise<void> {
  return m.close();
}
