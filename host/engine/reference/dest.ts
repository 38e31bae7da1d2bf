// Real servers (dests): a slot table with a LIFO free stack, per-service doubly linked
// lists in IPVS order (new dests at the head), connection counts, thresholds, and the
// trash (deleted records kept while connections refer to them). Mirrors the dest half of
// ip_vs_ctl.c (__ip_vs_update_dest, ip_vs_dest_trash) and ip_vs_conn.c
// (ip_vs_bind_dest / ip_vs_unbind_dest), and assembly/dest.ts. Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import type { ServiceTable } from "./service.ts";
import type { SchedIndex } from "./sched/index.ts";
import * as stats from "./stats.ts";

// Hot-path bindings as module-local consts: see state.ts, "Why local consts".
const { IP_VS_DEST_F_AVAILABLE, IP_VS_DEST_F_OVERLOAD } = abi;
const { createStats } = stats;

export class DestTable {
  readonly max: number;
  /**
   * List links. Indices [0, max) are dests; max + svc is the list head of service `svc`,
   * so the schedulers walk `next[]` exactly like IPVS walks its list_head ring.
   */
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** 1 for an allocated record (listed, or trashed while connections hold it). */
  readonly used: Uint8Array;
  readonly af: Uint8Array;
  /** 4 little-endian u32 words of wire bytes per dest (IPv4 in word 0). */
  readonly addr: Uint32Array;
  readonly port: Uint16Array;
  readonly portW: Uint16Array;
  readonly fwd: Uint8Array;
  readonly weight: Int32Array;
  readonly uThresh: Uint32Array;
  readonly lThresh: Uint32Array;
  readonly tunType: Uint8Array;
  readonly tunPort: Uint16Array;
  readonly tunFlags: Uint16Array;
  /** IP_VS_DEST_F_AVAILABLE | IP_VS_DEST_F_OVERLOAD. */
  readonly flags: Uint8Array;
  readonly active: Int32Array;
  readonly inact: Int32Array;
  /** Persistence templates bound to the dest (persistConns). */
  readonly persist: Int32Array;
  /** The latest non-zero weight (set on add and by edits to a non-zero weight; mh uses it). */
  readonly lastWeight: Int32Array;
  /** List position while the service has a scheduler index (sched/index.ts). */
  readonly pos: Int32Array;
  /** The scheduler indexes, told of every change of counts, weight or OVERLOAD. */
  index!: SchedIndex;
  /** Connections bound to the record; a trashed record is freed when this reaches 0. */
  readonly refs: Int32Array;
  readonly svc: Int32Array;
  /** The dest's next hop (NeighTable entry or -1), valid while neighGen = NeighTable.gen. */
  readonly neigh: Int32Array;
  readonly neighGen: Uint32Array;
  /** Path MTU toward the dest learned from tunnel errors (0: none) and when, ms (pmtu.ts). */
  readonly pmtu: Uint32Array;
  readonly pmtuAt: Uint32Array;
  readonly stats: Float64Array;
  readonly #svcs: ServiceTable;
  readonly #free: Int32Array;
  #top: number;

  constructor(max: number, svcs: ServiceTable) {
    this.max = max;
    this.#svcs = svcs;
    const links = max + svcs.max;
    this.next = Int32Array.from({ length: links }, (_, i) => i);
    this.prev = Int32Array.from({ length: links }, (_, i) => i);
    this.used = new Uint8Array(max);
    this.af = new Uint8Array(max);
    this.addr = new Uint32Array(max * 4);
    this.port = new Uint16Array(max);
    this.portW = new Uint16Array(max);
    this.fwd = new Uint8Array(max);
    this.weight = new Int32Array(max);
    this.uThresh = new Uint32Array(max);
    this.lThresh = new Uint32Array(max);
    this.tunType = new Uint8Array(max);
    this.tunPort = new Uint16Array(max);
    this.tunFlags = new Uint16Array(max);
    this.flags = new Uint8Array(max);
    this.active = new Int32Array(max);
    this.inact = new Int32Array(max);
    this.persist = new Int32Array(max);
    this.lastWeight = new Int32Array(max);
    this.pos = new Int32Array(max);
    this.refs = new Int32Array(max);
    this.svc = new Int32Array(max);
    this.neigh = new Int32Array(max);
    this.neighGen = new Uint32Array(max); // 0: never valid (gen starts at 1)
    this.pmtu = new Uint32Array(max);
    this.pmtuAt = new Uint32Array(max);
    this.stats = createStats(max);
    this.#free = Int32Array.from({ length: max }, (_, k) => max - 1 - k);
    this.#top = max;
  }

  /** The list head of service `svc`. */
  head(svc: number): number {
    return this.max + svc;
  }

  /** True for a listed dest (allocated and AVAILABLE): the only kind control ops edit. */
  isListed(d: number): boolean {
    return Number.isInteger(d) && d >= 0 && d < this.max && this.used[d] === 1 &&
      (this.flags[d] & IP_VS_DEST_F_AVAILABLE) !== 0;
  }

  /** Takes a free slot (-1 when none). */
  alloc(): number {
    return this.#top > 0 ? this.#free[--this.#top] : -1;
  }

  /** Inserts `d` at the head of `svc`'s list (IPVS order: newest first). */
  linkHead(svc: number, d: number): void {
    const h = this.head(svc);
    const first = this.next[h];
    this.next[d] = first;
    this.prev[d] = h;
    this.prev[first] = d;
    this.next[h] = d;
  }

  /** Unlinks `d`; its own links keep naming its old neighbours (rr's delete hook reads prev). */
  unlink(d: number): void {
    const n = this.next[d];
    const p = this.prev[d];
    this.next[p] = n;
    this.prev[n] = p;
  }

  /** A new connection binds to `d`: it starts inactive; the upper threshold may overload `d`. */
  bind(d: number): void {
    this.inact[d]++;
    this.refs[d]++;
    const u = this.uThresh[d];
    if (u > 0 && this.active[d] + this.inact[d] >= u) this.flags[d] |= IP_VS_DEST_F_OVERLOAD;
    this.index.touch(d);
  }

  /** A connection of `d` changes class: inactive to active, or back (TCP state change). */
  setActive(d: number, active: boolean): void {
    if (active) {
      this.inact[d]--;
      this.active[d]++;
    } else {
      this.active[d]--;
      this.inact[d]++;
    }
    this.index.touch(d);
  }

  /**
   * A connection leaves `d`: the count it was in drops, OVERLOAD clears below the lower
   * threshold (or 3/4 of the upper one), and the reference goes.
   */
  unbind(d: number, inactive: boolean, template = false): void {
    if (template) this.persist[d]--;
    else if (inactive) this.inact[d]--;
    else this.active[d]--;
    const total = this.active[d] + this.inact[d];
    const l = this.lThresh[d];
    const u = this.uThresh[d];
    if (l > 0 ? total < l : u > 0 ? total * 4 < u * 3 : true) {
      this.flags[d] &= ~IP_VS_DEST_F_OVERLOAD;
    }
    this.index.touch(d);
    if (--this.refs[d] === 0 && (this.flags[d] & IP_VS_DEST_F_AVAILABLE) === 0) this.release(d);
  }

  /** A persistence template binds to `d`: persistConns++; the upper threshold may overload. */
  bindTemplate(d: number): void {
    this.persist[d]++;
    this.refs[d]++;
    const u = this.uThresh[d];
    if (u > 0 && this.active[d] + this.inact[d] >= u) this.flags[d] |= IP_VS_DEST_F_OVERLOAD;
    this.index.touch(d);
  }

  /** Takes a reference on `d` (an lblc/lblcr cache entry naming it). */
  hold(d: number): void {
    this.refs[d]++;
  }

  /** Drops a reference; a trashed record with none left is freed. */
  put(d: number): void {
    if (--this.refs[d] === 0 && (this.flags[d] & IP_VS_DEST_F_AVAILABLE) === 0) this.release(d);
  }

  /** Frees a trashed record (no longer AVAILABLE, no connection left). */
  release(d: number): void {
    this.used[d] = 0;
    this.#free[this.#top++] = d;
    this.#svcs.dropDestRecord(this.svc[d]);
  }
}
