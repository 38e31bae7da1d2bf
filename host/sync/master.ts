// The master role (ip_vs_sync.c sync_thread_master): after each batch it takes the entries
// the engine decided to send (its sync ring), packs them into messages the way the kernel's
// sync buffer fills (wire.ts SyncBuilder, sync_maxlen), and sends full messages at once and
// a partial one when it is `flushMs` old. Runtime-agnostic; the socket is a SyncSender.
// WVS difference: IPVS sends a partial buffer after 2 s; WVS after 20 ms by default (the
// delay IPVS's sender thread uses for full buffers), so a backup lags the master by
// milliseconds, not seconds. Messages are sent in the order they were filled.
import type { Engine } from "../engine/engine.ts";
import type { SyncAuth } from "./auth.ts";
import { AUTH_TRAILER_LEN } from "./auth.ts";
import type { ResolvedDaemon } from "./config.ts";
import { drainSyncRecords } from "./records.ts";
import { SyncBuilder } from "./wire.ts";

/** Where a master's datagrams go (a UDP multicast socket, or a test's array). */
export interface SyncSender {
  send(datagram: Uint8Array): void;
  close(): void;
}

export interface MasterOptions {
  /** Oldest a partial message may get before it is sent, ms (default 20). */
  flushMs?: number;
  /** Sign every datagram (off by default: plain IPVS wire). */
  auth?: SyncAuth | null;
  log?: (line: string) => void;
  /** One line per message sent (hash, entries, oldest decision and send time, ms): lag tests. */
  trace?: (line: string) => void;
}

/** FNV-1a of a message, to match a master's trace line with a backup's. */
export function messageHash(m: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < m.length; i++) h = Math.imul(h ^ m[i], 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

export interface MasterStats {
  entries: number;
  messages: number;
  bytes: number;
  errors: number;
  /** Engine clock (µs) of the last datagram handed to the socket, 0 if none. */
  lastSentUs: number;
}

export const DEFAULT_FLUSH_MS = 20;

export class SyncMaster {
  readonly daemon: ResolvedDaemon;
  readonly stats: MasterStats = { entries: 0, messages: 0, bytes: 0, errors: 0, lastSentUs: 0 };
  #engine: Engine;
  #sender: SyncSender;
  #builder: SyncBuilder;
  #flushMs: number;
  #auth: SyncAuth | null;
  #log: (line: string) => void;
  #trace?: (line: string) => void;
  #signing: Promise<void> = Promise.resolve();

  /**
   * @param engine the engine; the caller turns its master role on (setSync)
   * @param daemon the daemon's settings (syncid, maxlen)
   * @param version sync_version of the messages
   * @param sender the socket
   * @param o flush delay, authentication, log
   */
  constructor(
    engine: Engine,
    daemon: ResolvedDaemon,
    version: 0 | 1,
    sender: SyncSender,
    o: MasterOptions = {},
  ) {
    this.daemon = daemon;
    this.#engine = engine;
    this.#sender = sender;
    this.#auth = o.auth ?? null;
    // The trailer must fit in the datagram budget too.
    const maxlen = this.#auth ? Math.max(1, daemon.maxlen - AUTH_TRAILER_LEN) : daemon.maxlen;
    this.#builder = new SyncBuilder({ version, syncid: daemon.syncid, maxlen });
    this.#flushMs = o.flushMs ?? DEFAULT_FLUSH_MS;
    this.#log = o.log ?? (() => {});
    this.#trace = o.trace;
  }

  /** The sync_version of the messages being built. */
  get version(): 0 | 1 {
    return this.#builder.version;
  }

  /** Takes the engine's records of the batch just processed at `nowUs`. */
  afterBatch(nowUs: number): void {
    const recs = drainSyncRecords(this.#engine);
    if (recs.length === 0) return;
    const ms = nowUs / 1000;
    for (const c of recs) {
      this.stats.entries++;
      const first = this.#builder.firstUse;
      for (const m of this.#builder.add(c, ms)) this.#send(m, nowUs, first);
    }
    this.tick(nowUs);
  }

  /** Sends the partial message once it is `flushMs` old. */
  tick(nowUs: number): void {
    const b = this.#builder;
    if (b.count > 0 && nowUs / 1000 - b.firstUse >= this.#flushMs) {
      const first = b.firstUse;
      const m = b.flush();
      if (m) this.#send(m, nowUs, first);
    }
  }

  /** Resolves when every message so far is handed to the socket (signing is asynchronous). */
  settled(): Promise<void> {
    return this.#signing;
  }

  /** Sends what is pending and closes the socket. */
  close(nowUs = 0): Promise<void> {
    const first = this.#builder.firstUse;
    const m = this.#builder.flush();
    if (m) this.#send(m, nowUs, first);
    return this.#signing.then(() => this.#sender.close());
  }

  #send(m: Uint8Array, nowUs: number, firstMs: number): void {
    this.stats.messages++;
    this.stats.lastSentUs = nowUs;
    this.#trace?.(
      `wvs sync trace: sent ${messageHash(m)} n=${m[0] || m[4]} first=${firstMs.toFixed(1)} ` +
        `at=${(nowUs / 1000).toFixed(1)}`,
    );
    if (!this.#auth) {
      this.#out(m);
      return;
    }
    const auth = this.#auth;
    // Signing is asynchronous (WebCrypto); the chain keeps datagrams in order.
    this.#signing = this.#signing.then(() => auth.sign(m)).then((d) => this.#out(d));
  }

  #out(d: Uint8Array): void {
    try {
      this.#sender.send(d);
      this.stats.bytes += d.length;
    } catch (e) {
      this.stats.errors++;
      this.#log(`wvs sync: master cannot send: ${(e as Error).message}`);
    }
  }
}
