// The backup role (ip_vs_sync.c sync_thread_backup, ip_vs_process_message): each received
// datagram is checked (authentication when a key is set, sync_maxlen, size, syncid),
// decoded whole (wire.ts) and its entries applied to the engine (Engine.syncConn, spec §7.6):
// connections, persistence templates (so a client keeps its real server after a takeover)
// and sequence data (a NAT FTP control connection keeps its rewrite offsets). A message's
// templates go first: the master sends a controller after its entry, and the engine links
// a connection to its template only when that template is there. Entries carrying
// persistence-engine data (`--pe sip`) are skipped, as IPVS skips those of an engine it
// has not loaded: WVS has none. Runtime-agnostic; the socket calls receive().
// Entries naming a service or real server this director does not have yet stay pending and
// are retried each tick until their timeout runs out: IPVS keeps such entries unbound and
// binds them when a later message arrives; the engine keeps only bound entries, so the host
// holds them instead (bounded, oldest dropped first).
import { EEXIST, EINVAL, ENOENT, IP_VS_CONN_F_TEMPLATE } from "../engine/abi.gen.ts";
import type { Engine } from "../engine/engine.ts";
import { AUTH_TRAILER_LEN, type SyncAuth } from "./auth.ts";
import type { ResolvedDaemon } from "./config.ts";
import { messageHash } from "./master.ts";
import { decodeMessage, type SyncConn } from "./wire.ts";

export interface BackupOptions {
  /** Engine clock, µs. */
  clock: () => number;
  /** Accept only datagrams signed with this key (off by default). */
  auth?: SyncAuth | null;
  /** Most entries kept pending for a service or dest that does not exist yet. */
  pendingMax?: number;
  log?: (line: string) => void;
  /** One line per applied message (hash, entries, time in ms): lag tests. */
  trace?: (line: string) => void;
}

export interface BackupStats {
  datagrams: number;
  /** Malformed, too long, or (with a key) unauthenticated or replayed. */
  rejected: number;
  /** Another syncid. */
  filtered: number;
  entries: number;
  applied: number;
  /**
   * Skipped by the decoder or refused by the engine (protocol, state, a template with a
   * client port), and those with persistence-engine data.
   */
  skipped: number;
  /** Of `skipped`: entries with persistence-engine data (no engine here). */
  noEngine: number;
  /** Stale messages about replaced entries. */
  stale: number;
  /** Waiting for their service or dest. */
  pending: number;
  /** Engine clock (µs) of the last applied datagram, 0 if none. */
  lastAppliedUs: number;
}

interface Pending {
  conn: SyncConn;
  untilUs: number;
}

const LOG_EVERY_US = 10_000_000;
const PENDING_TIMEOUT_S = 180;

const isTemplate = (c: SyncConn) => (c.flags & IP_VS_CONN_F_TEMPLATE) !== 0;

/** The engine's lookup key of an entry (templates have their own table). */
function key(c: SyncConn): string {
  const kind = isTemplate(c) ? "t" : "c";
  const client = `${c.caddr.join(".")}/${c.cport}`;
  return `${kind}${c.af}/${c.protocol}/${client}/${c.vaddr.join(".")}/${c.vport}`;
}

export class SyncBackup {
  readonly daemon: ResolvedDaemon;
  readonly stats: BackupStats = {
    datagrams: 0,
    rejected: 0,
    filtered: 0,
    entries: 0,
    applied: 0,
    skipped: 0,
    noEngine: 0,
    stale: 0,
    pending: 0,
    lastAppliedUs: 0,
  };
  #engine: Engine;
  #o: BackupOptions;
  #log: (line: string) => void;
  #pending = new Map<string, Pending>();
  #pendingMax: number;
  #chain: Promise<void> = Promise.resolve();
  #lastLog = -Infinity;
  #closed = false;

  constructor(engine: Engine, daemon: ResolvedDaemon, o: BackupOptions) {
    this.daemon = daemon;
    this.#engine = engine;
    this.#o = o;
    this.#log = o.log ?? (() => {});
    this.#pendingMax = o.pendingMax ?? 65536;
  }

  /** One received datagram (the UDP payload). */
  receive(d: Uint8Array): void {
    if (this.#closed) return;
    this.stats.datagrams++;
    const auth = this.#o.auth;
    // The kernel receives into a buffer of sync_maxlen bytes: longer datagrams are cut and
    // then fail the size check.
    if (d.length > this.daemon.maxlen + (auth ? AUTH_TRAILER_LEN : 0)) {
      this.#reject(`datagram of ${d.length} bytes exceeds sync_maxlen ${this.daemon.maxlen}`);
      return;
    }
    if (!auth) {
      this.#apply(d);
      return;
    }
    const copy = d.slice();
    this.#chain = this.#chain.then(async () => {
      const m = await auth.verify(copy);
      if (this.#closed) return;
      if (m) this.#apply(m);
      else this.#reject("authentication failed (no trailer, bad MAC or replayed)");
    });
  }

  /** Resolves when every datagram received so far is applied. */
  settled(): Promise<void> {
    return this.#chain;
  }

  #reject(why: string): void {
    this.stats.rejected++;
    const now = this.#o.clock();
    if (now - this.#lastLog >= LOG_EVERY_US) {
      this.#lastLog = now;
      this.#log(`wvs sync: backup dropped a datagram: ${why}`);
    }
  }

  #apply(d: Uint8Array): void {
    const r = decodeMessage(d);
    if (!r.ok) {
      this.#reject(`${r.error} (offset ${r.offset})`);
      return;
    }
    const m = r.message;
    if (this.daemon.syncid !== 0 && m.syncid !== this.daemon.syncid) {
      this.stats.filtered++;
      return;
    }
    this.stats.skipped += m.skipped.length;
    const now = this.#o.clock();
    for (const c of m.conns) if (isTemplate(c)) this.#one(c, now);
    for (const c of m.conns) if (!isTemplate(c)) this.#one(c, now);
    this.stats.lastAppliedUs = now;
    this.#o.trace?.(
      `wvs sync trace: applied ${messageHash(d)} n=${m.conns.length} at=${(now / 1000).toFixed(1)}`,
    );
  }

  #one(c: SyncConn, now: number): void {
    this.stats.entries++;
    if (c.peData || c.peName !== undefined) {
      // ip_vs_conn_fill_param_sync: "no %s engine found/loaded", the entry is dropped.
      this.stats.skipped++;
      this.stats.noEngine++;
      return;
    }
    const r = this.#engine.syncConn(c, now);
    if (r >= 0) {
      this.stats.applied++;
      if (this.#pending.delete(key(c))) this.stats.pending = this.#pending.size;
    } else if (r === -ENOENT) {
      const k = key(c);
      this.#pending.delete(k);
      if (this.#pending.size >= this.#pendingMax) {
        this.#pending.delete(this.#pending.keys().next().value!);
      }
      this.#pending.set(k, { conn: c, untilUs: now + (c.timeout || PENDING_TIMEOUT_S) * 1e6 });
      this.stats.pending = this.#pending.size;
    } else if (r === -EEXIST) {
      this.stats.stale++;
    } else if (r === -EINVAL) {
      this.stats.skipped++;
    } else {
      this.stats.skipped++;
    }
  }

  /**
   * Retries pending entries (their service or dest may exist now), templates first as in a
   * message; drops expired ones.
   */
  retry(nowUs: number): void {
    for (const pass of [true, false]) this.#retry(nowUs, pass);
    this.stats.pending = this.#pending.size;
  }

  #retry(nowUs: number, templates: boolean): void {
    for (const [k, p] of this.#pending) {
      if (isTemplate(p.conn) !== templates) continue;
      if (p.untilUs <= nowUs) {
        this.#pending.delete(k);
        continue;
      }
      const r = this.#engine.syncConn(p.conn, nowUs);
      if (r !== -ENOENT) {
        this.#pending.delete(k);
        if (r >= 0) this.stats.applied++;
      }
    }
  }

  close(): void {
    this.#closed = true;
    this.#pending.clear();
  }
}
