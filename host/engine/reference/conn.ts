// The connection table: a slab of entries (struct of typed arrays) with LIFO free stacks
// for entries and IPv6 address blocks, and one chained hash keyed like IPVS on the client
// side (proto, caddr, cport), so in and out lookups of a connection land in the same
// bucket. Mirrors ip_vs_conn.c (ip_vs_conn_in_get / ip_vs_conn_out_get, ip_vs_conn_expire)
// and assembly/conn.ts. Chains are newest first; nothing here allocates. Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import type { DestTable } from "./dest.ts";
import type { Packet } from "./state.ts";

// Hot-path bindings as module-local consts: see state.ts, "Why local consts".
const {
  AF_INET,
  AF_INET6,
  C_CONN_EXPIRED,
  C_CONNS,
  C_CONNS6,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_NO_CPORT,
  IP_VS_CONN_F_TEMPLATE,
  TEMPLATE_RETRY,
} = abi;

/** Frames per chunk of the batch prefetch (core.ts `prefetch`): the hint arrays' length. */
export const HINT_CHUNK = 32;
/** Chain nodes a hint walk advances at most. */
const HINT_STEPS = 3;

/** Words per IPv6 address block: caddr, vaddr, daddr (4 little-endian u32 words each). */
export const CONN6_WORDS = 12;

/** Hash of the client side of a key (words of a v4 address: w0, then zeros). */
function hashClient(
  seed: number,
  proto: number,
  w0: number,
  w1: number,
  w2: number,
  w3: number,
  port: number,
): number {
  let h = Math.imul(seed ^ w0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15) ^ w1, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 13) ^ w2, 0xc2b2ae3d);
  h = Math.imul(h ^ (h >>> 16) ^ w3 ^ (port | (proto << 16)), 0x27d4eb2f);
  return h ^ (h >>> 15);
}

export class ConnTable {
  readonly max: number;
  readonly max6: number;
  /** Address family of a used entry; 0 marks a free one. */
  readonly af: Uint8Array;
  readonly proto: Uint8Array;
  readonly state: Uint8Array;
  readonly flags: Uint16Array;
  /** IPv4 addresses as little-endian words of wire bytes; for IPv6 the last word (a cheap
   * first compare), the full addresses being in the entry's block. */
  readonly caddr: Uint32Array;
  readonly vaddr: Uint32Array;
  readonly daddr: Uint32Array;
  /** Ports in wire order (little-endian u16 loads). */
  readonly cport: Uint16Array;
  readonly vport: Uint16Array;
  readonly dport: Uint16Array;
  readonly dest: Int32Array;
  readonly svc: Int32Array;
  /** Absolute expiry and current timeout, engine milliseconds (u32, wraps). */
  readonly expires: Uint32Array;
  readonly timeout: Uint32Array;
  readonly inPkts: Uint32Array;
  /** Entries this one controls (a persistence template's connections). */
  readonly nControl: Uint16Array;
  /** The entry controlling this one (its persistence template), or -1. */
  readonly control: Int32Array;
  /** The template chains (persist.ts), which free() unlinks TEMPLATE entries from. */
  templates!: { unlink(c: number): void };
  /** Live entries with NO_CPORT (FTP passive data, issue 7): in lookups retry port 0. */
  noCport = 0;
  /** IPv6 block of an entry (-1 for IPv4) and the blocks themselves. */
  readonly block: Int32Array;
  readonly addr6: Uint32Array;
  readonly #next: Int32Array;
  readonly #prev: Int32Array;
  readonly #bucketOf: Int32Array;
  readonly #buckets: Int32Array;
  readonly #mask: number;
  readonly #seed: number;
  readonly #free: Int32Array;
  #top: number;
  readonly #free6: Int32Array;
  #top6: number;
  /** The next slot a budgeted expire() examines (< max). */
  #cursor = 0;
  readonly #dests: DestTable;
  readonly #counters: Float64Array;
  // Lookup hints (hint, hintWalk): per frame of a chunk, the walk's node (a bucket index
  // until the heads are loaded), the client word and port it looks for (port -1: done), and
  // the out key (1: still to walk, -1: walked or none) and its words.
  readonly #hNode = new Int32Array(HINT_CHUNK);
  readonly #hKey = new Uint32Array(HINT_CHUNK);
  readonly #hPort = new Int32Array(HINT_CHUNK);
  readonly #hOut = new Int32Array(HINT_CHUNK);
  readonly #hOutKey = new Uint32Array(HINT_CHUNK);
  readonly #hOutPort = new Int32Array(HINT_CHUNK);
  readonly #hProto = new Int32Array(HINT_CHUNK);
  readonly #hDst = new Uint32Array(HINT_CHUNK * 4);
  /** Where hintWalk leaves the words it loads, so that they are not dead loads. */
  sink = 0;

  constructor(max: number, max6: number, seed: number, dests: DestTable, counters: Float64Array) {
    this.max = max;
    this.max6 = max6;
    this.af = new Uint8Array(max);
    this.proto = new Uint8Array(max);
    this.state = new Uint8Array(max);
    this.flags = new Uint16Array(max);
    this.caddr = new Uint32Array(max);
    this.vaddr = new Uint32Array(max);
    this.daddr = new Uint32Array(max);
    this.cport = new Uint16Array(max);
    this.vport = new Uint16Array(max);
    this.dport = new Uint16Array(max);
    this.dest = new Int32Array(max);
    this.svc = new Int32Array(max);
    this.expires = new Uint32Array(max);
    this.timeout = new Uint32Array(max);
    this.inPkts = new Uint32Array(max);
    this.nControl = new Uint16Array(max);
    this.control = new Int32Array(max).fill(-1);
    this.block = new Int32Array(max).fill(-1);
    this.addr6 = new Uint32Array(max6 * CONN6_WORDS);
    this.#next = new Int32Array(max).fill(-1);
    this.#prev = new Int32Array(max).fill(-1);
    this.#bucketOf = new Int32Array(max);
    let nb = 16;
    while (nb < max) nb *= 2;
    this.#buckets = new Int32Array(nb).fill(-1);
    this.#mask = nb - 1;
    this.#seed = seed | 0;
    // LIFO stacks filled so that pops hand out 0, 1, 2, ... (ARCHITECTURE.md, Expiry).
    this.#free = Int32Array.from({ length: max }, (_, k) => max - 1 - k);
    this.#top = max;
    this.#free6 = Int32Array.from({ length: max6 }, (_, k) => max6 - 1 - k);
    this.#top6 = max6;
    this.#dests = dests;
    this.#counters = counters;
  }

  /**
   * In-direction lookup for a client→VIP packet: key (af, proto, caddr = src, cport = sport,
   * vaddr = dst, vport = dport). Returns the newest match or -1.
   */
  inGet(p: Packet): number {
    const proto = p.proto;
    const cport = p.sport;
    const vport = p.dport;
    if (p.af === AF_INET) {
      const ca = p.s0;
      const va = p.d0;
      let c = this.#buckets[hashClient(this.#seed, proto, ca, 0, 0, 0, cport) & this.#mask];
      for (; c >= 0; c = this.#next[c]) {
        if (
          this.caddr[c] === ca && this.cport[c] === cport && this.vaddr[c] === va &&
          this.vport[c] === vport && this.proto[c] === proto && this.af[c] === AF_INET
        ) return c;
      }
      return -1;
    }
    const a6 = this.addr6;
    let c =
      this.#buckets[hashClient(this.#seed, proto, p.s0, p.s1, p.s2, p.s3, cport) & this.#mask];
    for (; c >= 0; c = this.#next[c]) {
      if (
        this.caddr[c] === p.s3 && this.cport[c] === cport && this.vaddr[c] === p.d3 &&
        this.vport[c] === vport && this.proto[c] === proto && this.af[c] === AF_INET6
      ) {
        const b = this.block[c] * CONN6_WORDS;
        if (
          a6[b] === p.s0 && a6[b + 1] === p.s1 && a6[b + 2] === p.s2 &&
          a6[b + 4] === p.d0 && a6[b + 5] === p.d1 && a6[b + 6] === p.d2
        ) return c;
      }
    }
    return -1;
  }

  /**
   * Out-direction lookup for a real server→client packet, NAT entries only: key
   * (af, proto, daddr = src, dport = sport, caddr = dst, cport = dport). Newest match or -1.
   */
  outGet(p: Packet): number {
    const proto = p.proto;
    const cport = p.dport;
    const dport = p.sport;
    if (p.af === AF_INET) {
      const ca = p.d0;
      const da = p.s0;
      let c = this.#buckets[hashClient(this.#seed, proto, ca, 0, 0, 0, cport) & this.#mask];
      for (; c >= 0; c = this.#next[c]) {
        if (
          this.caddr[c] === ca && this.cport[c] === cport && this.daddr[c] === da &&
          this.dport[c] === dport && this.proto[c] === proto && this.af[c] === AF_INET &&
          (this.flags[c] & IP_VS_CONN_F_FWD_MASK) === IP_VS_CONN_F_MASQ
        ) return c;
      }
      return -1;
    }
    const a6 = this.addr6;
    let c =
      this.#buckets[hashClient(this.#seed, proto, p.d0, p.d1, p.d2, p.d3, cport) & this.#mask];
    for (; c >= 0; c = this.#next[c]) {
      if (
        this.caddr[c] === p.d3 && this.cport[c] === cport && this.daddr[c] === p.s3 &&
        this.dport[c] === dport && this.proto[c] === proto && this.af[c] === AF_INET6 &&
        (this.flags[c] & IP_VS_CONN_F_FWD_MASK) === IP_VS_CONN_F_MASQ
      ) {
        const b = this.block[c] * CONN6_WORDS;
        if (
          a6[b] === p.d0 && a6[b + 1] === p.d1 && a6[b + 2] === p.d2 &&
          a6[b + 8] === p.s0 && a6[b + 9] === p.s1 && a6[b + 10] === p.s2
        ) return c;
      }
    }
    return -1;
  }

  /**
   * Starts the lookup hint of frame `k` of a chunk (core.ts `prefetch`) from what its
   * headers seem to say: the in key's bucket (client = src, sport) and the out key's (client
   * = dst, dport). `v4`: the words s1..s3 and d1..d3 are 0 and the compare word is word 0.
   */
  hint(
    k: number,
    v4: boolean,
    proto: number,
    s0: number,
    s1: number,
    s2: number,
    s3: number,
    sport: number,
    d0: number,
    d1: number,
    d2: number,
    d3: number,
    dport: number,
  ): void {
    this.#hNode[k] = hashClient(this.#seed, proto, s0, s1, s2, s3, sport) & this.#mask;
    this.#hKey[k] = v4 ? s0 : s3;
    this.#hPort[k] = sport;
    // The out key's bucket only when an in walk ends (hintWalk): most frames need none.
    this.#hOut[k] = 1;
    this.#hProto[k] = proto;
    const d = k * 4;
    this.#hDst[d] = d0;
    this.#hDst[d + 1] = d1;
    this.#hDst[d + 2] = d2;
    this.#hDst[d + 3] = d3;
    this.#hOutKey[k] = v4 ? d0 : d3;
    this.#hOutPort[k] = dport;
  }

  /** Frame `k` needs no lookup (not TCP/UDP over IP, or a bad descriptor). */
  hintNone(k: number): void {
    this.#hPort[k] = -1;
  }

  /**
   * Walks the hints of frames [0, n) of the chunk: one loop loads every bucket head, then up
   * to HINT_STEPS rounds touch each walk's node (client word, port, link) and compare; a
   * match touches every other array the pipeline reads for that entry (struct of arrays: a
   * miss each, all overlapping), a mismatch moves on along the chain, and the end of an in
   * walk turns it into the out walk (its bucket hashed only then). Nothing here decides
   * anything: the pipeline looks everything up again. Bench "NAT established, 1,000,000
   * conns", TS engine, ns a frame: 1217 without hints, 797 touching every array of every
   * node, 693 with the out bucket hashed lazily and the full touch on a match only.
   */
  hintWalk(n: number): void {
    const node = this.#hNode, key = this.#hKey, port = this.#hPort, buckets = this.#buckets;
    for (let k = 0; k < n; k++) if (port[k] >= 0) node[k] = buckets[node[k]];
    const next = this.#next;
    let sink = this.sink;
    for (let step = 0; step < HINT_STEPS; step++) {
      for (let k = 0; k < n; k++) {
        const c = node[k];
        if (port[k] < 0 || c < 0) continue;
        sink = (sink + this.caddr[c] + this.cport[c] + next[c]) | 0;
      }
      let active = 0;
      for (let k = 0; k < n; k++) {
        const want = port[k];
        if (want < 0) continue;
        const c = node[k];
        if (c < 0) {
          if (this.#hOut[k] > 0) {
            const d = k * 4, dst = this.#hDst;
            const ob = hashClient(
              this.#seed,
              this.#hProto[k],
              dst[d],
              dst[d + 1],
              dst[d + 2],
              dst[d + 3],
              this.#hOutPort[k],
            ) & this.#mask;
            node[k] = buckets[ob];
            key[k] = this.#hOutKey[k];
            port[k] = this.#hOutPort[k];
            this.#hOut[k] = -1;
            active++;
          } else {
            port[k] = -1;
          }
        } else if (this.caddr[c] === key[k] && this.cport[c] === want) {
          // The entry the lookup will find: the rest of what the pipeline reads.
          sink = (sink + this.vaddr[c] + this.vport[c] + this.proto[c] + this.af[c] +
            this.flags[c] + this.state[c] + this.dest[c] + this.svc[c] + this.expires[c] +
            this.timeout[c] + this.inPkts[c] + this.daddr[c] + this.dport[c] +
            this.nControl[c] + this.control[c]) | 0;
          port[k] = -1;
        } else {
          node[k] = next[c];
          active++;
        }
      }
      if (active === 0) break;
    }
    this.sink = sink;
  }

  /** True when an entry's idle time is up (wrap-safe: (now - expires) as i32 >= 0). */
  isExpired(c: number, nowMs: number): boolean {
    return ((nowMs - this.expires[c]) | 0) >= 0;
  }

  /** True when an entry and, for IPv6, an address block are free. */
  hasRoom(af: number): boolean {
    return this.#top > 0 && (af !== AF_INET6 || this.#top6 > 0);
  }

  /**
   * Takes a free entry (call hasRoom first) and, for IPv6, an address block (block[c]; -1
   * for IPv4). The caller fills the rest.
   */
  take(af: number): number {
    const c = this.#free[--this.#top];
    this.block[c] = af === AF_INET6 ? this.#free6[--this.#top6] : -1;
    return c;
  }

  /**
   * Creates an entry for packet `p` scheduled to dest `d` (call hasRoom first) and links it
   * at the head of its chain. Addresses come from the packet and the dest record.
   */
  create(p: Packet, d: number, dportW: number, flags: number, svc: number): number {
    const c = this.take(p.af);
    const da = this.#dests.addr;
    const dw = d * 4;
    const af = p.af;
    this.af[c] = af;
    this.proto[c] = p.proto;
    this.state[c] = 0;
    this.flags[c] = flags;
    this.cport[c] = p.sport;
    this.vport[c] = p.dport;
    this.dport[c] = dportW;
    this.dest[c] = d;
    this.svc[c] = svc;
    this.inPkts[c] = 0;
    this.nControl[c] = 0;
    this.control[c] = -1;
    let h;
    if (af === AF_INET) {
      this.caddr[c] = p.s0;
      this.vaddr[c] = p.d0;
      this.daddr[c] = da[dw];
      this.block[c] = -1;
      h = hashClient(this.#seed, p.proto, p.s0, 0, 0, 0, p.sport);
    } else {
      const blk = this.block[c];
      const a6 = this.addr6;
      const b = blk * CONN6_WORDS;
      a6[b] = p.s0;
      a6[b + 1] = p.s1;
      a6[b + 2] = p.s2;
      a6[b + 3] = p.s3;
      a6[b + 4] = p.d0;
      a6[b + 5] = p.d1;
      a6[b + 6] = p.d2;
      a6[b + 7] = p.d3;
      a6[b + 8] = da[dw];
      a6[b + 9] = da[dw + 1];
      a6[b + 10] = da[dw + 2];
      a6[b + 11] = da[dw + 3];
      this.caddr[c] = p.s3;
      this.vaddr[c] = p.d3;
      this.daddr[c] = da[dw + 3];
      this.#counters[C_CONNS6]++;
      h = hashClient(this.#seed, p.proto, p.s0, p.s1, p.s2, p.s3, p.sport);
    }
    const bi = h & this.#mask;
    const first = this.#buckets[bi];
    this.#bucketOf[c] = bi;
    this.#next[c] = first;
    this.#prev[c] = -1;
    if (first >= 0) this.#prev[first] = c;
    this.#buckets[bi] = c;
    this.#counters[C_CONNS]++;
    return c;
  }

  /**
   * Frees an entry (ARCHITECTURE.md, Expiry): unlink it, unbind its dest (which may clear
   * OVERLOAD and free a trashed dest), count C_CONN_EXPIRED, push its slot and block.
   */
  free(c: number): void {
    const template = (this.flags[c] & IP_VS_CONN_F_TEMPLATE) !== 0;
    if ((this.flags[c] & IP_VS_CONN_F_NO_CPORT) !== 0) this.noCport--; // issue 7 (app.ts)
    if (template) {
      this.templates.unlink(c);
    } else {
      const n = this.#next[c];
      const pv = this.#prev[c];
      if (pv >= 0) this.#next[pv] = n;
      else this.#buckets[this.#bucketOf[c]] = n;
      if (n >= 0) this.#prev[n] = pv;
    }
    // ip_vs_control_del: the controller (a template) stops counting this entry.
    const ctl = this.control[c];
    if (ctl >= 0) this.nControl[ctl]--;
    this.#dests.unbind(this.dest[c], (this.flags[c] & IP_VS_CONN_F_INACTIVE) !== 0, template);
    const ctr = this.#counters;
    ctr[C_CONN_EXPIRED]++;
    ctr[C_CONNS]--;
    if (this.af[c] === AF_INET6) {
      this.#free6[this.#top6++] = this.block[c];
      this.block[c] = -1;
      ctr[C_CONNS6]--;
    }
    this.af[c] = 0;
    this.#free[this.#top++] = c;
  }

  /**
   * Fills in the client port of a NO_CPORT entry (ip_vs_conn_fill_cport; issue 7, FTP
   * passive data) and re-links it at the head of its new chain.
   */
  setCport(c: number, cport: number): void {
    const n = this.#next[c];
    const pv = this.#prev[c];
    if (pv >= 0) this.#next[pv] = n;
    else this.#buckets[this.#bucketOf[c]] = n;
    if (n >= 0) this.#prev[n] = pv;
    this.cport[c] = cport;
    let h;
    if (this.af[c] === AF_INET) {
      h = hashClient(this.#seed, this.proto[c], this.caddr[c], 0, 0, 0, cport);
    } else {
      const b = this.block[c] * CONN6_WORDS;
      const a6 = this.addr6;
      h = hashClient(this.#seed, this.proto[c], a6[b], a6[b + 1], a6[b + 2], a6[b + 3], cport);
    }
    const bi = h & this.#mask;
    const first = this.#buckets[bi];
    this.#bucketOf[c] = bi;
    this.#next[c] = first;
    this.#prev[c] = -1;
    if (first >= 0) this.#prev[first] = c;
    this.#buckets[bi] = c;
  }

  /** A template's timer fired while it controls entries: keep it, retry in 60 s. */
  retry(c: number, nowMs: number): void {
    this.timeout[c] = TEMPLATE_RETRY * 1000;
    this.expires[c] = (nowMs + TEMPLATE_RETRY * 1000) >>> 0;
  }

  /**
   * Frees the expired entries among `budget` slots from the expiry cursor, in slot order
   * (wrapping to 0), and moves the cursor past them; budget 0, or one over `max`, is the
   * whole table. Returns how many were freed. Same windows, order and passes as
   * assembly/conn.ts connExpire (ARCHITECTURE.md, Expiry), so the free stacks agree.
   */
  expire(nowMs: number, budget = 0): number {
    const max = this.max;
    if (max === 0) return 0;
    const span = budget > 0 && budget <= max ? budget : max;
    const start = this.#cursor;
    this.#cursor = start + span >= max ? start + span - max : start + span;
    let n = 0;
    let deferred = 0;
    const af = this.af;
    // Pass 1: entries that control nothing. Pass 2: the window's controllers met with
    // nControl > 0 (templates): pass 1 may have freed their last connection, as the
    // kernel's per-entry timers would have (a connection's timer fires before its
    // template's). A template whose expired connection sits in a later window of the lap
    // is retried rather than freed: within a lap, slot order stands for time.
    let c = start;
    for (let i = 0; i < span; i++) {
      if (af[c] !== 0 && this.isExpired(c, nowMs)) {
        if (this.nControl[c] !== 0) {
          deferred++;
        } else {
          this.free(c);
          n++;
        }
      }
      if (++c === max) c = 0;
    }
    c = start;
    for (let i = 0; deferred > 0 && i < span; i++) {
      if (af[c] !== 0 && this.isExpired(c, nowMs)) {
        deferred--;
        // A controller is kept while it controls entries, and retried later.
        if (this.nControl[c] !== 0) {
          this.retry(c, nowMs);
        } else {
          this.free(c);
          n++;
        }
      }
      if (++c === max) c = 0;
    }
    return n;
  }
}
