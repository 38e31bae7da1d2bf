/**
 * The WVS director daemon's control side (`host/daemon/`): the authoritative configuration
 * around an Engine, the newline-delimited JSON control API on a Unix socket (see
 * docs/control-api.md), the saved configuration, the expiry and estimator timers, and
 * Prometheus metrics. `createDaemon` is the seam a director embeds; `main.ts` runs it alone.
 *
 * @example
 * ```ts ignore
 * import { createDaemon } from "./mod.ts";
 * const daemon = await createDaemon({ engine, socketPath: "/run/wvs/wvs.sock", stateDir: "/var/lib/wvs" });
 * ```
 *
 * @module
 */
export * from "./client.ts";
export * from "./daemon.ts";
export * from "./metrics.ts";
export * from "./protocol.ts";
export * from "./resolver_deno.ts";
export * from "./state.ts";
