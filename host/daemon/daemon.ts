// The director daemon's control side: the authoritative configuration (a Controller around
// an Engine), the control API on a Unix socket, the saved configuration, the timers
// (windowed expiry, a lap a second; the estimator every 2 s) and the optional Prometheus endpoint.
// Deno-specific (sockets, files, timers). The network attachment is not here: a director
// embeds this with createDaemon(engine) and runs its own frame loop beside it.
// Invariants: requests are handled one at a time to completion (each command atomic, any
// number of clients); a change is on disk before its response is sent.

import { type Engine, expireWindow } from "../engine/engine.ts";
import { L_MAX_CONNS } from "../engine/abi.gen.ts";
import type { NameResolver } from "../ctl/addr.ts";
import { Controller, type SyncControl } from "../ctl/commands.ts";
import { portMetricsText, prometheusText } from "./metrics.ts";
import type { PortStats } from "../io/frame_io.ts";
import {
  type Context,
  DEFAULT_SOCKET,
  type Failover,
  handleRequest,
  parseRequest,
  type Response,
} from "./protocol.ts";
import { fileResolver } from "./resolver_deno.ts";
import { restoreItems, RULES_FILE, STATE_FILE, stateTexts } from "./state.ts";

export { DEFAULT_SOCKET };
/** Where `deno task daemon` keeps its configuration unless told otherwise. */
export const DEFAULT_STATE_DIR = "/var/lib/wvs";

/** Options of {@linkcode createDaemon}. */
export interface DaemonOptions {
  /** The packet engine (a fresh one: the saved configuration is applied to it). */
  engine: Engine;
  /** Engine name for `info` (default: engine.kind). */
  engineName?: string;
  /** Control socket path (default DEFAULT_SOCKET); null: no socket (embedded use, tests). */
  socketPath?: string | null;
  /** Directory of the saved configuration; null (default): nothing saved or restored. */
  stateDir?: string | null;
  /** "host:port" for Prometheus text on /metrics; null (default): off. */
  metrics?: string | null;
  /** Engine clock in microseconds (default: wall clock, as the director uses). */
  clock?: () => number;
  /**
   * Expiry lap, ms: the whole connection table is examined once per lap, in windows every
   * EXPIRE_WINDOW_MS (default 1000; 0: the host calls expire itself).
   */
  expireEveryMs?: number;
  /** Estimator period, ms (default 2000, IPVS's; 0: off). */
  estimateEveryMs?: number;
  /** `size=` of the listing header (default: the engine's bucket count, else 4096). */
  tableSize?: number;
  /** Name lookups (default: /etc/hosts and /etc/services). */
  resolver?: NameResolver;
  /** Log sink (default: stderr). */
  log?: (line: string) => void;
  /** Connection-sync daemons (host/sync/ SyncManager): `--start-daemon` and friends work. */
  sync?: SyncControl;
  /** VIP takeover and release (a director's failover), for the `takeover` / `release` ops. */
  failover?: Failover;
  /** A director's interfaces, sampled for /metrics (their counters follow the engine's). */
  ports?: () => readonly { ifname: string; stats: PortStats }[];
  /**
   * Runs before each request (and each /metrics scrape; `line` is then ""): a director whose
   * engines are in Workers fetches their figures here (host/director/control_workers.ts).
   */
  beforeRequest?: (line: string) => Promise<void>;
  /** Runs after each request, before the save: such a director hands the changes over here. */
  afterRequest?: () => Promise<void>;
}

/**
 * Period of the expiry windows (issue 5): a whole sweep of 2^20 slots blocks the event
 * loop 4-10 ms; a window of a hundredth of the lap, 20-55 µs (bench/RESULTS.md).
 */
const EXPIRE_WINDOW_MS = 10;

const enc = new TextEncoder();

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) out.set(p, off), off += p.length;
  return out;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, text, { mode: 0o600 });
  await Deno.rename(tmp, path);
}

function readIfExists(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** A running daemon. Create with {@linkcode createDaemon}. */
export class Daemon {
  readonly controller: Controller;
  readonly socketPath: string | null;
  #o: DaemonOptions;
  #ctx: Context;
  #log: (line: string) => void;
  #listener: Deno.Listener | null = null;
  #conns = new Set<Deno.Conn>();
  #timers: ReturnType<typeof setInterval>[] = [];
  #http: Deno.HttpServer | null = null;
  #saved = 0;
  #saving: Promise<void> | null = null;
  #closed = false;

  constructor(o: DaemonOptions) {
    this.#o = o;
    this.#log = o.log ?? ((l) => console.error(l));
    const resolver = o.resolver ?? fileResolver();
    this.controller = new Controller({
      engine: o.engine,
      clock: o.clock,
      tableSize: o.tableSize,
      resolver,
      sync: o.sync,
    });
    this.socketPath = o.socketPath === undefined ? DEFAULT_SOCKET : o.socketPath;
    this.#ctx = {
      resolver,
      failover: o.failover,
      info: {
        engine: o.engineName ?? o.engine.kind,
        socket: this.socketPath ?? "",
        stateDir: o.stateDir ?? null,
        metrics: o.metrics ?? null,
      },
    };
  }

  /** The address the metrics server listens on, once started. */
  get metricsAddr(): Deno.NetAddr | null {
    return this.#http ? this.#http.addr as Deno.NetAddr : null;
  }

  /** Restores the saved configuration, then starts timers, socket and metrics. */
  async start(): Promise<void> {
    this.#restore();
    const clock = this.#o.clock ?? (() => (performance.timeOrigin + performance.now()) * 1000);
    const expireMs = this.#o.expireEveryMs ?? 1000;
    if (expireMs > 0) {
      // The slots owed since the last window, as the director does (director.ts tick).
      const max = this.#o.engine.layout[L_MAX_CONNS];
      let last = -Infinity;
      const sweep = () => {
        const now = clock();
        this.#o.engine.expire(now, expireWindow(max, (now - last) / 1000, expireMs));
        last = now;
      };
      this.#timers.push(setInterval(sweep, Math.min(expireMs, EXPIRE_WINDOW_MS)));
    }
    const estMs = this.#o.estimateEveryMs ?? 2000;
    if (estMs > 0) this.#timers.push(setInterval(() => this.controller.sampleRates(), estMs));
    if (this.socketPath) await this.#listen(this.socketPath);
    if (this.#o.metrics) this.#serveMetrics(this.#o.metrics);
  }

  #restore(): void {
    const dir = this.#o.stateDir;
    if (!dir) return;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const rules = readIfExists(`${dir}/${RULES_FILE}`);
    if (rules === null) return;
    const { items, timeouts, daemons } = restoreItems(
      rules,
      readIfExists(`${dir}/${STATE_FILE}`),
      this.#ctx.resolver,
    );
    try {
      this.controller.executeBatch(items);
    } catch (e) {
      throw new Error(`Cannot restore ${dir}/${RULES_FILE}: ${(e as Error).message}`, { cause: e });
    }
    if (timeouts) this.controller.setTimeouts(timeouts.tcp, timeouts.tcpfin, timeouts.udp);
    // The sync daemons that ran, unless the director's file started that role already. One
    // that cannot start (its interface is gone) is reported; forwarding goes on without it.
    for (const daemon of daemons) {
      if (this.#o.sync?.running(daemon.state)) continue;
      try {
        this.controller.execute({ cmd: "start-daemon", daemon });
      } catch (e) {
        this.#log(
          `wvs daemon: cannot restart the ${daemon.state} sync daemon: ${(e as Error).message}`,
        );
      }
    }
    this.#saved = this.controller.generation;
    this.#log(
      `wvs daemon: restored ${this.controller.model.serviceCount} services, ` +
        `${this.controller.model.destCount} real servers from ${dir}`,
    );
  }

  /** Resolves once every change so far is on disk. */
  async flush(): Promise<void> {
    const dir = this.#o.stateDir;
    if (!dir) return;
    while (this.#saved < this.controller.generation) {
      this.#saving ??= (async () => {
        const gen = this.controller.generation;
        const { rules, state } = stateTexts(this.controller);
        await writeAtomic(`${dir}/${RULES_FILE}`, rules);
        await writeAtomic(`${dir}/${STATE_FILE}`, state);
        this.#saved = gen;
      })().finally(() => this.#saving = null);
      await this.#saving;
    }
  }

  async #listen(path: string): Promise<void> {
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (dir) Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
    try {
      Deno.lstatSync(path);
      // A socket file is there: another daemon, or one left behind by a crash.
      let alive = false;
      try {
        (await Deno.connect({ transport: "unix", path })).close();
        alive = true;
      } catch { /* stale */ }
      if (alive) throw new Error(`Cannot listen on ${path}: another WVS daemon is running there`);
      Deno.removeSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    this.#listener = Deno.listen({ transport: "unix", path });
    Deno.chmodSync(path, 0o600);
    (async () => {
      for await (const conn of this.#listener!) this.#serve(conn);
    })().catch(() => {/* closed */});
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    this.#conns.add(conn);
    const writer = conn.writable.getWriter();
    const dec = new TextDecoder();
    // Bytes of the line being received, kept as chunks: a `-R` request of 110,000 rules is
    // one 5 MB line, and growing one string chunk by chunk would copy it again and again.
    let parts: Uint8Array[] = [];
    try {
      for await (const chunk of conn.readable) {
        let start = 0, nl: number;
        while ((nl = chunk.indexOf(10, start)) >= 0) {
          parts.push(chunk.subarray(start, nl));
          start = nl + 1;
          const line = parts.length === 1 ? dec.decode(parts[0]) : dec.decode(concat(parts));
          parts = [];
          if (line.trim() === "") continue;
          const resp = await this.handleLine(line);
          await writer.write(enc.encode(JSON.stringify(resp) + "\n"));
        }
        if (start < chunk.length) parts.push(chunk.slice(start));
      }
    } catch {
      /* the client went away */
    } finally {
      this.#conns.delete(conn);
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  /**
   * Handles one request line as the socket does (parse, run, save): for embedding hosts.
   *
   * @param line one JSON request
   * @returns the response
   */
  async handleLine(line: string): Promise<Response> {
    const parsed = parseRequest(line);
    if ("bad" in parsed) return parsed.bad;
    await this.#o.beforeRequest?.(line);
    const resp = handleRequest(this.controller, parsed.req, this.#ctx);
    try {
      await this.#o.afterRequest?.();
    } catch (e) {
      this.#log(`wvs daemon: ${(e as Error).message}`);
    }
    try {
      await this.flush();
    } catch (e) {
      this.#log(`wvs daemon: cannot save the configuration: ${(e as Error).message}`);
    }
    return resp;
  }

  #serveMetrics(addr: string): void {
    const colon = addr.lastIndexOf(":");
    const hostname = addr.slice(0, colon).replace(/^\[|\]$/g, "") || "127.0.0.1";
    const port = Number(addr.slice(colon + 1));
    this.#http = Deno.serve({ hostname, port, onListen: () => {} }, async (req) => {
      if (new URL(req.url).pathname !== "/metrics") {
        return new Response("not found\n", { status: 404 });
      }
      await this.#o.beforeRequest?.("");
      const ports = this.#o.ports?.();
      const text = prometheusText(this.controller) + (ports ? portMetricsText(ports) : "");
      return new Response(text, {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    });
  }

  /** Stops timers, socket and metrics, after the last change is saved. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timers.forEach((t) => clearInterval(t));
    this.#listener?.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    await this.#http?.shutdown();
    await this.flush();
    if (this.socketPath) {
      try {
        Deno.removeSync(this.socketPath);
      } catch { /* gone */ }
    }
  }
}

/**
 * Creates and starts a daemon around an existing engine: the seam for the director, which
 * keeps its own frame loop and leaves the configuration to this.
 *
 * @param options the engine, socket, state directory, metrics address, clock and timers
 * @returns the running daemon
 * @throws Error if the saved configuration cannot be restored, or the socket is taken
 *
 * @example
 * ```ts ignore
 * const engine = await createWasmEngine({ maxConns: 1 << 16, maxServices: 1024, maxDests: 8192, batch: 64, seed: 1 });
 * const daemon = await createDaemon({ engine, socketPath: "/run/wvs/wvs.sock", stateDir: "/var/lib/wvs" });
 * ```
 */
export async function createDaemon(options: DaemonOptions): Promise<Daemon> {
  const d = new Daemon(options);
  await d.start();
  return d;
}
