// The sync daemons of one director (ip_vs_sync.c start_sync_thread / stop_sync_thread):
// a master, a backup, or both at once, started and stopped like `ipvsadm --start-daemon` /
// `--stop-daemon` and listed like `--daemon`, plus the sync sysctls. Runtime-agnostic: the
// sockets come from a SyncTransport (transport_node.ts), the clock from the host loop,
// which calls afterBatch() after every processBatch and tick() with its timers.
// Invariants: at most one daemon per role (EEXIST); the engine's master role is on exactly
// while a master daemon runs; errors carry ipvsadm's errno and text (host/ctl/errors.ts).
import type { DaemonConf } from "../ctl/command.ts";
import { EEXIST, EINVAL, ENODEV, ESRCH, IpvsError, kernelError } from "../ctl/errors.ts";
import type { Engine } from "../engine/engine.ts";
import type { SyncAuth } from "./auth.ts";
import { SyncBackup } from "./backup.ts";
import {
  checkSysctls,
  daemonLine,
  resolveDaemon,
  type ResolvedDaemon,
  SYNC_SYSCTL_DEFAULTS,
  syncParams,
  type SyncSysctls,
} from "./config.ts";
import { SyncMaster, type SyncSender } from "./master.ts";

/** An interface's addresses and MTU. */
export interface IfaceInfo {
  addr4: string | null;
  addr6: string | null;
  mtu: number;
}

/** What the sync roles need from the host: interface facts and multicast sockets. */
export interface SyncTransport {
  /** null when there is no such interface. */
  iface(name: string): IfaceInfo | null;
  openSender(d: ResolvedDaemon, log: (l: string) => void): SyncSender;
  openReceiver(
    d: ResolvedDaemon,
    onDatagram: (d: Uint8Array) => void,
    log: (l: string) => void,
  ): { close(): void };
}

export interface SyncManagerOptions {
  engine: Engine;
  transport: SyncTransport;
  /** Engine clock, µs (the one passed to processBatch). */
  clock: () => number;
  /** Authenticate datagrams (beyond IPVS; both ends need the same key). */
  auth?: SyncAuth | null;
  /** A master's partial-message delay, ms (master.ts DEFAULT_FLUSH_MS). */
  flushMs?: number;
  sysctls?: Partial<SyncSysctls>;
  log?: (line: string) => void;
  /** Per-message trace lines of both roles (master.ts messageHash), for lag measurements. */
  trace?: (line: string) => void;
}

/** Retry pending backup entries this often. */
const RETRY_EVERY_US = 1_000_000;

/**
 * Both sync roles of a director.
 *
 * @example
 * ```ts ignore
 * const sync = new SyncManager({ engine, transport: nodeTransport, clock });
 * sync.start({ state: "master", mcastIfn: "eth1", syncid: 1, syncMaxlen: 0, mcastGroup: "",
 *   mcastPort: 0, mcastTtl: 0 });
 * // in the frame loop: engine.processBatch(n, now); sync.afterBatch(now); ... sync.tick(now);
 * ```
 */
export class SyncManager {
  #o: SyncManagerOptions;
  #log: (line: string) => void;
  #sysctls: SyncSysctls;
  #master: { m: SyncMaster; sock: SyncSender } | null = null;
  #backup: { b: SyncBackup; sock: { close(): void } } | null = null;
  /** The `--start-daemon` settings of the running roles, as given (for the saved state). */
  #confs = new Map<"master" | "backup", DaemonConf>();
  #nextRetry = 0;

  constructor(o: SyncManagerOptions) {
    this.#o = o;
    this.#log = o.log ?? (() => {});
    const s = { ...SYNC_SYSCTL_DEFAULTS, ...o.sysctls };
    const bad = checkSysctls(s);
    if (bad) throw new RangeError(`Cannot use the sync sysctls: ${bad}`);
    this.#sysctls = s;
  }

  get master(): SyncMaster | null {
    return this.#master?.m ?? null;
  }

  get backup(): SyncBackup | null {
    return this.#backup?.b ?? null;
  }

  get sysctls(): Readonly<SyncSysctls> {
    return this.#sysctls;
  }

  /** True while the daemon of role `state` runs. */
  running(state: "master" | "backup"): boolean {
    return (state === "master" ? this.#master : this.#backup) !== null;
  }

  /**
   * The checks of `--start-daemon` without starting anything.
   *
   * @returns the settings the daemon would run with
   * @throws IpvsError as {@linkcode SyncManager.start}
   */
  check(conf: DaemonConf): ResolvedDaemon {
    const state = conf.state;
    if (this.running(state)) throw kernelError("start-daemon", EEXIST, `the ${state} sync daemon`);
    const info = this.#o.transport.iface(conf.mcastIfn);
    let d: ResolvedDaemon;
    try {
      d = resolveDaemon(conf, info?.mtu ?? 1500);
    } catch (e) {
      throw kernelError(
        "start-daemon",
        EINVAL,
        `the ${state} sync daemon`,
        undefined,
        (e as Error).message,
      );
    }
    if (!info || !(d.family === 4 ? info.addr4 : info.addr6)) {
      throw kernelError("start-daemon", ENODEV, `the ${state} sync daemon on ${conf.mcastIfn}`);
    }
    return d;
  }

  /**
   * `--start-daemon`: opens the role's socket and, for a master, turns the engine's
   * master role on.
   *
   * @throws IpvsError EEXIST (that role runs already), ENODEV (no such interface, or no
   *   address of the group's family on it), EINVAL (not a multicast group)
   */
  start(conf: DaemonConf): ResolvedDaemon {
    const state = conf.state;
    const d = this.check(conf);
    const log = this.#log;
    if (state === "master") {
      const sock = this.#o.transport.openSender(d, log);
      const m = new SyncMaster(this.#o.engine, d, this.#sysctls.syncVersion, sock, {
        auth: this.#o.auth,
        flushMs: this.#o.flushMs,
        log,
        trace: this.#o.trace,
      });
      this.#master = { m, sock };
      this.#o.engine.setSync(syncParams(this.#sysctls, true));
    } else {
      const b = new SyncBackup(this.#o.engine, d, {
        clock: this.#o.clock,
        auth: this.#o.auth,
        log,
        trace: this.#o.trace,
      });
      const sock = this.#o.transport.openReceiver(d, (dg) => b.receive(dg), log);
      this.#backup = { b, sock };
    }
    this.#confs.set(state, { ...conf });
    log(`wvs sync: started ${daemonLine(d)}${this.#o.auth ? " with authentication" : ""}`);
    return d;
  }

  /** The settings the running daemons were started with, master first. */
  confs(): DaemonConf[] {
    return (["master", "backup"] as const).flatMap((s) => {
      const c = this.#confs.get(s);
      return c ? [{ ...c }] : [];
    });
  }

  /**
   * `--stop-daemon`: a master sends what it holds, then its role and socket end.
   *
   * @throws IpvsError ESRCH when that role does not run
   */
  async stop(state: "master" | "backup"): Promise<void> {
    if (this.running(state)) this.#confs.delete(state);
    if (state === "master") {
      const m = this.#master;
      if (!m) throw kernelError("stop-daemon", ESRCH, `the master sync daemon`);
      this.#master = null;
      this.#o.engine.setSync(syncParams(this.#sysctls, false));
      m.m.afterBatch(this.#o.clock());
      await m.m.close(this.#o.clock());
    } else {
      const b = this.#backup;
      if (!b) throw kernelError("stop-daemon", ESRCH, `the backup sync daemon`);
      this.#backup = null;
      b.sock.close();
      b.b.close();
    }
    this.#log(`wvs sync: stopped the ${state} sync daemon`);
  }

  /** Stops whatever runs. */
  async close(): Promise<void> {
    if (this.#master) await this.stop("master");
    if (this.#backup) await this.stop("backup");
  }

  /** `ipvsadm -L --daemon`: master first, then backup; "" when none runs. */
  list(): string {
    const lines = [this.#master?.m.daemon, this.#backup?.b.daemon].filter((d) => d !== undefined)
      .map((d) => daemonLine(d!) + "\n");
    return lines.join("");
  }

  /**
   * Changes sync sysctls. A master running with another sync_version restarts its buffer
   * (IPVS flushes a buffer of the other version).
   *
   * @throws IpvsError EINVAL for values the kernel refuses
   */
  setSysctls(s: Partial<SyncSysctls>): void {
    const next = { ...this.#sysctls, ...s };
    const bad = checkSysctls(next);
    if (bad) {
      throw new IpvsError(`Cannot set the sync sysctls: ${bad}`, {
        errno: EINVAL,
        text: "Invalid argument",
        status: 255,
      });
    }
    this.#sysctls = next;
    const m = this.#master;
    if (m) {
      this.#o.engine.setSync(syncParams(next, true));
      if (m.m.version !== next.syncVersion) {
        const now = this.#o.clock();
        m.m.close(now).catch(() => {});
        const sock = this.#o.transport.openSender(m.m.daemon, this.#log);
        this.#master = {
          m: new SyncMaster(this.#o.engine, m.m.daemon, next.syncVersion, sock, {
            auth: this.#o.auth,
            flushMs: this.#o.flushMs,
            log: this.#log,
            trace: this.#o.trace,
          }),
          sock,
        };
      }
    }
  }

  /** After each processBatch at `nowUs`: the master takes the engine's sync records. */
  afterBatch(nowUs: number): void {
    this.#master?.m.afterBatch(nowUs);
  }

  /** Timers: a master's partial message, a backup's pending entries. */
  tick(nowUs: number): void {
    this.#master?.m.tick(nowUs);
    const b = this.#backup?.b;
    if (b && nowUs >= this.#nextRetry) {
      this.#nextRetry = nowUs + RETRY_EVERY_US;
      if (b.stats.pending > 0) b.retry(nowUs);
    }
  }

  /** Counters of both roles, for logs, tests and metrics. */
  stats(): { master: SyncMaster["stats"] | null; backup: SyncBackup["stats"] | null } {
    return { master: this.master?.stats ?? null, backup: this.backup?.stats ?? null };
  }
}
