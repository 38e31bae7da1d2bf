// The director's neighbour cache: which addresses it must resolve (real servers,
// gateways), what it has learned, and when to ask again. Runtime-agnostic and
// engine-free: the director pushes changes into the engine (`setNeigh`).
// Policy, as in net/core/neighbour.c in spirit: an unresolved address is
// solicited every RETRY_MS; a resolved one is refreshed every REFRESH_MS; a
// learned entry is only replaced by a newer answer, never expired (a dead
// server is a health-check matter, not an ARP one).

/** Ask an unresolved neighbour again after this long. */
export const RETRY_MS = 1000;
/** Re-ask a resolved neighbour this often (catches MAC changes without GARP). */
export const REFRESH_MS = 30_000;

export interface NeighEntry {
  /** 4 or 16 bytes. */
  addr: Uint8Array;
  key: string;
  /** Port the address is on-link at. */
  port: number;
  mac: Uint8Array | null;
  /** Wanted: real server or gateway (solicited until resolved). */
  wanted: boolean;
  /** Default route of its family (a gateway). */
  gateway: boolean;
  /** When we last asked, ms. */
  askedAt: number;
  asks: number;
}

export class NeighTable {
  #byKey = new Map<string, NeighEntry>();

  /** Registers an address to resolve on `port`; idempotent. */
  want(addr: Uint8Array, key: string, port: number, gateway = false): NeighEntry {
    let e = this.#byKey.get(key);
    if (!e) {
      e = { addr, key, port, mac: null, wanted: true, gateway, askedAt: -Infinity, asks: 0 };
      this.#byKey.set(key, e);
    }
    e.wanted = true;
    e.gateway ||= gateway;
    e.port = port;
    return e;
  }

  get(key: string): NeighEntry | undefined {
    return this.#byKey.get(key);
  }

  /**
   * Records that `addr` is at `mac` on `port`. `create` = false only updates
   * an entry that exists (gratuitous announcements from strangers are not
   * cached). Returns the entry when its MAC or port changed, else null.
   */
  learn(
    addr: Uint8Array,
    key: string,
    mac: Uint8Array,
    port: number,
    create: boolean,
  ): NeighEntry | null {
    let e = this.#byKey.get(key);
    if (!e) {
      if (!create) return null;
      e = {
        addr,
        key,
        port,
        mac: null,
        wanted: false,
        gateway: false,
        askedAt: -Infinity,
        asks: 0,
      };
      this.#byKey.set(key, e);
    }
    const same = e.mac !== null && e.port === port && e.mac.every((b, i) => b === mac[i]);
    if (same) return null;
    e.mac = mac.slice(0, 6);
    e.port = port;
    return e;
  }

  /** Wanted entries to solicit at `nowMs`; marks them asked. */
  due(nowMs: number): NeighEntry[] {
    const out: NeighEntry[] = [];
    for (const e of this.#byKey.values()) {
      if (!e.wanted) continue;
      const every = e.mac === null ? RETRY_MS : REFRESH_MS;
      if (nowMs - e.askedAt >= every) {
        e.askedAt = nowMs;
        e.asks++;
        out.push(e);
      }
    }
    return out;
  }

  /** Wanted entries still without a MAC. */
  unresolved(): NeighEntry[] {
    return [...this.#byKey.values()].filter((e) => e.wanted && e.mac === null);
  }

  wantedCount(): number {
    let n = 0;
    for (const e of this.#byKey.values()) if (e.wanted) n++;
    return n;
  }

  entries(): NeighEntry[] {
    return [...this.#byKey.values()];
  }
}
