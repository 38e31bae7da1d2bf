// The executor of ipvsadm commands: validate in the model, then apply to the engine, all or
// nothing; plus what the kernel keeps beside the tables: counter baselines for `-Z`, the
// rate estimators, the global timeouts. Runtime-agnostic (ip_vs_ctl.c's role).
// Invariants: a command or batch that fails changes nothing (model journal rollback, engine
// undo in apply.ts); every accepted change bumps `generation` and is announced to listeners
// once, after it is in the engine; counters shown are the engine's minus the `-Z` baseline.

import {
  IP_VS_CONN_F_TEMPLATE,
  IPPROTO_TCP,
  IPPROTO_UDP,
  L_BUCKET_COUNT,
  T_TCP_BASE,
  T_UDP,
  TCP_S_ESTABLISHED,
  TCP_S_FIN_WAIT,
  TCP_STATE_NAMES,
} from "../engine/abi.gen.ts";
import { type DestCounts, type Engine, type Stats, ZERO_STATS } from "../engine/engine.ts";
import { type NameResolver, parseIp } from "./addr.ts";
import { applyOps, engineLimits } from "./apply.ts";
import type { Command, DaemonConf, ServiceConf } from "./command.ts";
import { tryHelpText } from "./cli.ts";
import {
  ESRCH,
  EXIT_PARSE,
  IpvsError,
  ipvsStrerror,
  kernelError,
  unsupportedError,
  usageError,
} from "./errors.ts";
import { Estimator, type Rates } from "./est.ts";
import { PROTO_NAMES } from "./format.ts";
import { helpText, VERSION_LINE } from "./_help.ts";
import {
  type ConnRow,
  listConnections,
  listServices,
  type ListSource,
  listTimeout,
} from "./list.ts";
import { IpvsModel, type ModelDest, type ModelService } from "./model.ts";
import { formatService } from "./rules.ts";
import { saveRules } from "./save.ts";
import { schedulerId } from "./support.ts";

/** Options of a {@linkcode Controller}. */
export interface ControllerOptions {
  /** The packet engine to drive (null: model only, for staging and tests). */
  engine?: Engine | null;
  /** Engine clock in microseconds (the one passed to processBatch/expire), for `-c`. */
  clock?: () => number;
  /** `size=` in the listing header (default: the engine's bucket count, else 4096). */
  tableSize?: number;
  /** Refuse what the engines do not implement (default true; see support.ts). */
  engineChecks?: boolean;
  /** Name lookups for listings without `-n` and for host names in commands. */
  resolver?: NameResolver;
  /** Program name for `-h` (ipvsadm's argv[0]). */
  prog?: string;
  /**
   * The connection-sync daemons (host/sync/ SyncManager) behind `--start-daemon`,
   * `--stop-daemon` and `-L --daemon`; without it those are refused as unsupported.
   */
  sync?: SyncControl;
}

/** What the Controller needs of the sync daemons (host/sync/sync.ts SyncManager has it). */
export interface SyncControl {
  /** True while the daemon of that role runs. */
  running(state: "master" | "backup"): boolean;
  /** `--start-daemon`'s checks without side effects; throws IpvsError (EEXIST, ENODEV, EINVAL). */
  check(conf: DaemonConf): unknown;
  start(conf: DaemonConf): unknown;
  stop(state: "master" | "backup"): Promise<void>;
  /** `-L --daemon` text. */
  list(): string;
  /** The running daemons' `--start-daemon` settings (saved with the configuration). */
  confs?(): DaemonConf[];
}

/** A command of a batch, with its `-R` line number. */
export interface BatchItem {
  command: Command;
  line?: number;
}

/** The three timeouts ipvsadm shows and sets, in seconds. */
export interface Timeouts {
  tcp: number;
  tcpfin: number;
  udp: number;
}

const NO_COUNTS: DestCounts = { activeConns: 0, inactConns: 0, persistConns: 0, flags: 0 };

interface StatsEntry {
  /** Engine index the baseline belongs to (a re-created record starts from zero). */
  index: number;
  base: Stats;
  est: Estimator;
}

function minus(a: Stats, b: Stats): Stats {
  return {
    conns: a.conns - b.conns,
    inPkts: a.inPkts - b.inPkts,
    outPkts: a.outPkts - b.outPkts,
    inBytes: a.inBytes - b.inBytes,
    outBytes: a.outBytes - b.outBytes,
  };
}

/**
 * The authoritative configuration and the one way to change it.
 *
 * @example
 * ```ts
 * import { Controller } from "./commands.ts";
 * import { parseCommand } from "./cli.ts";
 * const ctl = new Controller();
 * ctl.execute(parseCommand(["-A", "-t", "198.18.0.1:80", "-s", "rr"]));
 * if (ctl.execute(parseCommand(["-S", "-n"])) !== "-A -t 198.18.0.1:80 -s rr\n") throw new Error();
 * ```
 */
export class Controller implements ListSource {
  readonly model: IpvsModel;
  readonly engine: Engine | null;
  readonly tableSize: number;
  #clock: () => number;
  #resolver: NameResolver | undefined;
  #prog: string;
  #sync: SyncControl | undefined;
  #timeouts: Timeouts = { tcp: 900, tcpfin: 120, udp: 300 };
  #stats = new WeakMap<ModelService | ModelDest, StatsEntry>();
  #listeners = new Set<(generation: number) => void>();
  #generation = 0;

  constructor(options: ControllerOptions = {}) {
    this.engine = options.engine ?? null;
    this.model = new IpvsModel(this.engine ? engineLimits(this.engine) : {}, {
      engineChecks: options.engineChecks ?? true,
    });
    this.tableSize = options.tableSize ?? (this.engine?.layout[L_BUCKET_COUNT] || 4096);
    this.#clock = options.clock ?? (() => (performance.timeOrigin + performance.now()) * 1000);
    this.#resolver = options.resolver;
    this.#prog = options.prog ?? "ipvsadm";
    this.#sync = options.sync;
  }

  /** The running sync daemons' settings, for the saved state (none without sync). */
  syncDaemons(): DaemonConf[] {
    return this.#sync?.confs?.() ?? [];
  }

  /** Bumped once per accepted change. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Calls `fn(generation)` after each accepted change.
   *
   * @param fn the listener
   * @returns a function that removes it
   */
  onChange(fn: (generation: number) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * Runs one command.
   *
   * @param command a parsed command
   * @returns what it prints on stdout
   * @throws IpvsError when the kernel (here: the model, the engine) refuses it; nothing changed
   */
  execute(command: Command): string {
    return this.executeBatch([{ command }]);
  }

  /**
   * Runs commands as one transaction: every one is validated against the model as changed by
   * the ones before it; only if all pass is the engine changed. WVS's `-R`.
   *
   * @param items commands with their line numbers
   * @returns what they print on stdout, concatenated
   * @throws IpvsError for the first command refused (its `line` set); nothing changed
   */
  executeBatch(items: readonly BatchItem[]): string {
    const mark = this.model.mark();
    const effects: (() => void)[] = [];
    let out = "";
    try {
      for (const { command, line } of items) out += this.#run(command, line, effects);
      if (this.engine) applyOps(this.engine, this.model.ops.slice(mark));
    } catch (e) {
      this.model.rollback(mark);
      throw e;
    }
    const changed = this.model.ops.length > mark || effects.length > 0;
    this.model.commit();
    for (const fx of effects) fx();
    if (changed) {
      this.#generation++;
      for (const fn of this.#listeners) fn(this.#generation);
    }
    return out;
  }

  #run(c: Command, line: number | undefined, effects: (() => void)[]): string {
    const m = this.model;
    switch (c.cmd) {
      case "add-service":
        m.addService(this.#spec(c.service), c.service.schedName, line, c.service.pe);
        return "";
      case "edit-service":
        m.editService(this.#spec(c.service), c.service.schedName, line, c.service.pe);
        return "";
      case "delete-service":
        m.delService(c.service, line);
        return "";
      case "flush":
        m.flush();
        return "";
      case "add-server":
        m.addDest(c.service, c.dest, line);
        return "";
      case "edit-server":
        m.editDest(c.service, c.dest, line);
        return "";
      case "delete-server":
        m.delDest(c.service, c.dest, line);
        return "";
      case "zero": {
        const only = c.service && m.findService(c.service);
        if (c.service && !only) throw kernelError("zero", ESRCH, formatService(c.service), line);
        effects.push(() => this.#zero(only ? [only] : m.services));
        return "";
      }
      case "set": {
        const t = { ...c };
        effects.push(() => this.setTimeouts(t.tcp, t.tcpfin, t.udp));
        return "";
      }
      case "start-daemon": {
        // Without sync: refused rather than recorded, as a director that believes it syncs
        // but does not would lose every connection at failover.
        const sync = this.#sync;
        if (!sync) {
          throw unsupportedError(`the ${c.daemon.state} sync daemon (--start-daemon)`, line);
        }
        const conf = { ...c.daemon };
        sync.check(conf);
        effects.push(() => sync.start(conf));
        return "";
      }
      case "stop-daemon": {
        const sync = this.#sync;
        if (!sync?.running(c.state)) throw kernelError("stop-daemon", ESRCH, c.state, line);
        effects.push(() => void sync.stop(c.state).catch(() => {}));
        return "";
      }
      case "list":
        return this.#list(c, line);
      case "save":
        return saveRules(this, c.numeric, this.#resolver);
      case "help":
        return helpText(this.#prog);
      case "version":
        return VERSION_LINE + "\n";
      case "restore":
        // ipvsadm's guard against -R inside -R: the "Try" line.
        throw usageError(tryHelpText(this.#prog), line, "-R inside -R", EXIT_PARSE);
    }
  }

  #list(c: Extract<Command, { cmd: "list" }>, line?: number): string {
    switch (c.view) {
      case "connections":
        return listConnections(this.conns(), c.format, this.#resolver);
      case "timeout":
        return listTimeout(this.timeouts());
      case "daemon":
        return this.#sync?.list() ?? "";
      default: {
        if (!c.service) return listServices(this, c.format, undefined, this.#resolver);
        const svc = this.model.findService(c.service);
        if (!svc) {
          // ipvsadm's list_service: the text of ESRCH, then exit(1).
          const text = ipvsStrerror("list", ESRCH);
          return this.#fail(`Cannot list service ${formatService(c.service)}: ${text}`, text, line);
        }
        return listServices(this, c.format, svc, this.#resolver);
      }
    }
  }

  #fail(message: string, text: string, line?: number): never {
    throw new IpvsError(message, { errno: ESRCH, text, status: 1, line });
  }

  #spec(s: ServiceConf) {
    return {
      af: s.af,
      protocol: s.protocol,
      addr: s.addr,
      port: s.port,
      fwmark: s.fwmark,
      sched: schedulerId(s.schedName) ?? 0xff,
      flags: s.flags,
      timeout: s.timeout,
      netmask: s.netmask,
    };
  }

  // ---- Timeouts ---------------------------------------------------------------------------

  /** @returns the three settable timeouts, in seconds (the engine's, when there is one) */
  timeouts(): Timeouts {
    if (!this.engine) return { ...this.#timeouts };
    const t = this.engine.timeouts();
    return {
      tcp: t[T_TCP_BASE + TCP_S_ESTABLISHED],
      tcpfin: t[T_TCP_BASE + TCP_S_FIN_WAIT],
      udp: t[T_UDP],
    };
  }

  /**
   * `--set tcp tcpfin udp`: 0 leaves a value unchanged.
   *
   * @param tcp ESTABLISHED timeout, s
   * @param tcpfin FIN_WAIT timeout, s
   * @param udp UDP timeout, s
   */
  setTimeouts(tcp: number, tcpfin: number, udp: number): void {
    if (tcp > 0) this.#timeouts.tcp = tcp;
    if (tcpfin > 0) this.#timeouts.tcpfin = tcpfin;
    if (udp > 0) this.#timeouts.udp = udp;
    this.engine?.setTimeouts(tcp, tcpfin, udp);
  }

  // ---- Counters, baselines and rates --------------------------------------------------------

  #raw(obj: ModelService | ModelDest, isSvc: boolean): Stats {
    if (!this.engine || obj.index < 0) return { ...ZERO_STATS };
    return isSvc ? this.engine.svcStats(obj.index) : this.engine.destStats(obj.index);
  }

  #entry(obj: ModelService | ModelDest, isSvc: boolean): StatsEntry {
    let e = this.#stats.get(obj);
    if (!e || e.index !== obj.index) {
      e = { index: obj.index, base: ZERO_STATS, est: new Estimator() };
      e.est.reset(this.#raw(obj, isSvc));
      this.#stats.set(obj, e);
    }
    return e;
  }

  #zero(services: readonly ModelService[]): void {
    const zero = (obj: ModelService | ModelDest, isSvc: boolean) => {
      const e = this.#entry(obj, isSvc);
      const raw = this.#raw(obj, isSvc);
      e.base = raw;
      e.est.reset(raw);
    };
    for (const svc of services) {
      zero(svc, true);
      for (const d of svc.dests) zero(d, false);
    }
  }

  /** Takes one estimator sample of every service and real server (call every 2 s). */
  sampleRates(): void {
    for (const svc of this.model.services) {
      this.#entry(svc, true).est.sample(this.#raw(svc, true));
      for (const d of svc.dests) this.#entry(d, false).est.sample(this.#raw(d, false));
    }
  }

  /** @returns the engine's counters of a service, ignoring `-Z` (monotonic, for Prometheus) */
  svcStatsRaw(svc: ModelService): Stats {
    return this.#raw(svc, true);
  }

  /** @returns the engine's counters of a real server, ignoring `-Z` */
  destStatsRaw(dest: ModelDest): Stats {
    return this.#raw(dest, false);
  }

  /** @returns the engine's counters of a service since the last `-Z` */
  svcStats(svc: ModelService): Stats {
    return minus(this.#raw(svc, true), this.#entry(svc, true).base);
  }

  /** @returns the estimator's rates of a service */
  svcRates(svc: ModelService): Rates {
    return this.#entry(svc, true).est.rates();
  }

  /** @returns the engine's counters of a real server since the last `-Z` */
  destStats(dest: ModelDest): Stats {
    return minus(this.#raw(dest, false), this.#entry(dest, false).base);
  }

  /** @returns the estimator's rates of a real server */
  destRates(dest: ModelDest): Rates {
    return this.#entry(dest, false).est.rates();
  }

  /** @returns active, inactive and persistent connection counts of a real server */
  destCounts(dest: ModelDest): DestCounts {
    if (!this.engine || dest.index < 0) return NO_COUNTS;
    return this.engine.destCounts(dest.index);
  }

  /** @returns the services in the kernel's table order */
  kernelOrder(): ModelService[] {
    return this.model.kernelOrder();
  }

  /** @returns the connection table as `-c` prints it, in the engine's slot order */
  conns(): ConnRow[] {
    if (!this.engine) return [];
    const nowMs = Math.floor(this.#clock() / 1000) >>> 0;
    const bytes = (s: string) => parseIp(s)?.addr ?? new Uint8Array(4);
    return this.engine.dumpConns().map((c) => {
      const template = (c.flags & IP_VS_CONN_F_TEMPLATE) !== 0;
      return {
        proto: PROTO_NAMES[c.protocol] ?? "IP",
        // Engine time is u32 milliseconds; the difference is read as i32 (wrap-safe).
        expires: Math.floor(((c.expires - nowMs) | 0) / 1000),
        state: template
          ? (c.state ? "ASSURED" : "NONE")
          : c.protocol === IPPROTO_TCP
          ? TCP_STATE_NAMES[c.state] ?? "ERR!"
          : c.protocol === IPPROTO_UDP
          ? "UDP"
          : "NONE",
        caddr: bytes(c.caddr),
        cport: c.cport,
        vaddr: bytes(c.vaddr),
        vport: c.vport,
        daddr: bytes(c.daddr),
        dport: c.dport,
      };
    });
  }
}
