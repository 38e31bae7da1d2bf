// Sync daemon settings: the defaults the kernel fills in for `--start-daemon` (spec
// ipvs-control-plane.md §6.4, ipvs-data-plane.md §7.1), the `--daemon` listing line (§4.9),
// and the sysctls that shape what a master sends (sync_version, sync_threshold,
// sync_refresh_period, sync_retries, sync_persist_mode). Runtime-agnostic.
import type { DaemonConf } from "../ctl/command.ts";
import { parseIp } from "../ctl/addr.ts";
import type { SyncParams } from "../engine/engine.ts";

export const DEFAULT_GROUP4 = "224.0.0.81";
export const DEFAULT_PORT = 8848;
export const DEFAULT_TTL = 1;
/** IP + UDP header bytes, by family. */
const HEADERS = { 4: 28, 6: 48 } as const;
const BACKUP_MIN_MAXLEN = 1024;

/** A daemon's settings with the kernel's defaults filled in. */
export interface ResolvedDaemon {
  state: "master" | "backup";
  mcastIfn: string;
  syncid: number;
  maxlen: number;
  group: string;
  family: 4 | 6;
  port: number;
  ttl: number;
}

/**
 * Fills in what `--start-daemon` left to the kernel: group 224.0.0.81 (there is no IPv6
 * default: an IPv6 group must be given), port 8848, TTL 1, and sync_maxlen: a master's
 * default is 1500 minus the IP and UDP headers whatever the MTU; a backup's is the device
 * MTU (clamped to 1500..65535) minus them. Given values are clamped like the kernel's
 * (master >= 1, backup >= 1024, both <= 65535 - headers).
 *
 * @param c the parsed `--start-daemon` settings
 * @param mtu the interface's MTU (backup default), 1500 if unknown
 * @returns the settings in force
 * @throws RangeError for a group that is not a multicast address
 *
 * @example
 * ```ts
 * import { resolveDaemon } from "./config.ts";
 * const d = resolveDaemon({ state: "master", mcastIfn: "eth0", syncid: 10, syncMaxlen: 0,
 *   mcastGroup: "", mcastPort: 0, mcastTtl: 0 });
 * if (d.group !== "224.0.0.81" || d.port !== 8848 || d.maxlen !== 1472) throw new Error();
 * ```
 */
export function resolveDaemon(c: DaemonConf, mtu = 1500): ResolvedDaemon {
  const group = c.mcastGroup || DEFAULT_GROUP4;
  const g = parseIp(group)?.addr;
  const family = g?.length === 16 ? 6 : 4;
  if (!g || (family === 4 ? (g[0] & 0xf0) !== 0xe0 : g[0] !== 0xff)) {
    throw new RangeError(`Cannot use sync group ${group}: not a multicast address`);
  }
  const hdr = HEADERS[family];
  let maxlen: number;
  if (c.state === "master") {
    maxlen = c.syncMaxlen > 0 ? c.syncMaxlen : 1500 - hdr;
    maxlen = Math.max(1, Math.min(maxlen, 65535 - hdr));
  } else {
    maxlen = c.syncMaxlen > 0 ? c.syncMaxlen : Math.min(Math.max(mtu, 1500), 65535) - hdr;
    maxlen = Math.max(BACKUP_MIN_MAXLEN, Math.min(maxlen, 65535 - hdr));
  }
  return {
    state: c.state,
    mcastIfn: c.mcastIfn,
    syncid: c.syncid & 0xff,
    maxlen,
    group,
    family,
    port: c.mcastPort || DEFAULT_PORT,
    ttl: c.mcastTtl || DEFAULT_TTL,
  };
}

/**
 * One line of `ipvsadm -L --daemon` (netlink form).
 *
 * @param d a running daemon's settings
 * @returns e.g. `master sync daemon (mcast=eth0, syncid=10, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)`
 */
export function daemonLine(d: ResolvedDaemon): string {
  return `${d.state} sync daemon (mcast=${d.mcastIfn}, syncid=${d.syncid}, maxlen=${d.maxlen}, ` +
    `group=${d.group}, port=${d.port}, ttl=${d.ttl})`;
}

/** The sync sysctls (spec §9), with IPVS's defaults in {@linkcode SYNC_SYSCTL_DEFAULTS}. */
export interface SyncSysctls {
  syncVersion: 0 | 1;
  syncThreshold: number;
  syncPeriod: number;
  syncRefreshPeriod: number;
  syncRetries: number;
  syncPersistMode: number;
}

export const SYNC_SYSCTL_DEFAULTS: Readonly<SyncSysctls> = Object.freeze({
  syncVersion: 1,
  syncThreshold: 3,
  syncPeriod: 50,
  syncRefreshPeriod: 0,
  syncRetries: 0,
  syncPersistMode: 0,
});

/**
 * Checks the sysctls as the kernel does: threshold and period >= 0 with threshold < period
 * unless period is 0; retries 0..3; version and persist mode 0 or 1.
 *
 * @param s the values
 * @returns an error text, or null when they are acceptable
 */
export function checkSysctls(s: SyncSysctls): string | null {
  const int = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi;
  if (s.syncVersion !== 0 && s.syncVersion !== 1) return "sync_version must be 0 or 1";
  if (!int(s.syncThreshold, 0, 0x7fffffff) || !int(s.syncPeriod, 0, 0x7fffffff)) {
    return "sync_threshold values must be non-negative integers";
  }
  if (s.syncPeriod > 0 && s.syncThreshold >= s.syncPeriod) {
    return "sync_threshold must be below sync_period";
  }
  if (!int(s.syncRefreshPeriod, 0, 2147483)) return "sync_refresh_period out of range";
  if (!int(s.syncRetries, 0, 3)) return "sync_retries must be 0..3";
  if (!int(s.syncPersistMode, 0, 1)) return "sync_persist_mode must be 0 or 1";
  return null;
}

/** The engine's master parameters for the sysctls. */
export function syncParams(s: SyncSysctls, master: boolean): SyncParams {
  return {
    master,
    version: s.syncVersion,
    threshold: s.syncThreshold,
    period: s.syncPeriod,
    refreshPeriod: s.syncRefreshPeriod,
    retries: s.syncRetries,
    persistMode: s.syncPersistMode,
  };
}

/** The `sync` section of a director config file (host/director/config.ts). */
export interface DirectorSyncConfig {
  /** Daemons to start with the director, as `--start-daemon` would (one per role). */
  daemons: {
    state: "master" | "backup";
    mcastIfn: string;
    syncid?: number;
    syncMaxlen?: number;
    mcastGroup?: string;
    mcastPort?: number;
    mcastTtl?: number;
  }[];
  /** Start without the VIPs (a backup waiting to take over; SIGUSR2 takes over). */
  standby?: boolean;
  /** File with the shared key of authenticated sync (beyond IPVS; both ends the same). */
  keyFile?: string;
  /** A master's partial-message delay, ms. */
  flushMs?: number;
  sysctls?: Partial<SyncSysctls>;
}

/** The `sync` section, validated. */
export interface DirectorSyncPlan {
  daemons: DaemonConf[];
  standby: boolean;
  keyFile: string | null;
  flushMs: number | undefined;
  sysctls: SyncSysctls;
}

/**
 * Validates a director's `sync` section with ipvsadm's ranges.
 *
 * @param c the section
 * @returns the plan
 * @throws Error naming the bad field
 */
export function planSync(c: DirectorSyncConfig): DirectorSyncPlan {
  const fail = (what: string): never => {
    throw new Error(`Cannot use sync config: ${what}`);
  };
  if (!Array.isArray(c.daemons)) fail("daemons must be a list");
  const seen = new Set<string>();
  const int = (v: unknown, lo: number, hi: number, name: string, dflt: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
      return fail(`${name} must be an integer in ${lo}..${hi} (${v})`);
    }
    return v;
  };
  const daemons = c.daemons.map((d): DaemonConf => {
    if (d.state !== "master" && d.state !== "backup") fail(`state must be master or backup`);
    if (seen.has(d.state)) fail(`two ${d.state} daemons`);
    seen.add(d.state);
    if (typeof d.mcastIfn !== "string" || d.mcastIfn === "") fail("mcastIfn is required");
    return {
      state: d.state,
      mcastIfn: d.mcastIfn.slice(0, 15),
      syncid: int(d.syncid, 0, 255, "syncid", 0),
      syncMaxlen: int(d.syncMaxlen, 1, 65507, "syncMaxlen", 0),
      mcastGroup: d.mcastGroup ?? "",
      mcastPort: int(d.mcastPort, 1, 65535, "mcastPort", 0),
      mcastTtl: int(d.mcastTtl, 1, 255, "mcastTtl", 0),
    };
  });
  for (const d of daemons) {
    try {
      resolveDaemon(d);
    } catch (e) {
      fail((e as Error).message);
    }
  }
  const sysctls = { ...SYNC_SYSCTL_DEFAULTS, ...c.sysctls };
  const bad = checkSysctls(sysctls);
  if (bad) fail(bad);
  return {
    daemons,
    standby: c.standby === true,
    keyFile: c.keyFile ?? null,
    flushMs: c.flushMs === undefined ? undefined : int(c.flushMs, 0, 2000, "flushMs", 20),
    sysctls,
  };
}
