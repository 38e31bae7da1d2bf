// The slot tables of the hashing schedulers, computed in the control plane (STYLE G13) and
// written into an engine as changes: sh and dh (256 slots) and mh (Maglev, M slots, 4093 by
// default), exactly as ip_vs_sh.c, ip_vs_dh.c and ip_vs_mh.c build them (spec
// ipvs-data-plane.md §1.11-1.13). The engines only read them (Engine.setSchedSlots); a dest
// deletion empties its slots in the engine until the next sync refills them.
// Runtime-agnostic. Invariant: after syncSchedTable(engine, svc, ...) the engine's table
// equals computeTable(...) of the engine's current dest list.

import { AF_INET, SCHED_DH, SCHED_MH, SCHED_SH } from "../engine/abi.gen.ts";
import type { Af, DestSpec, Engine, ServiceSpec } from "../engine/engine.ts";
import { L_MH_SIZE } from "../engine/abi.gen.ts";
import { addrFoldHost, hsiphash32, MH_KEY1, MH_KEY2 } from "../engine/reference/sched/hashing.ts";

/** sh and dh table size (CONFIG_IP_VS_SH_TAB_BITS / DH_TAB_BITS = 8). */
export const SH_SIZE = 256;

/** What a table is computed from: one dest, in the service's list order (newest first). */
export interface TableDest {
  /** The engine's dest index (what a slot holds). */
  index: number;
  af: Af;
  /** 4 or 16 bytes, network order. */
  addr: Uint8Array;
  /** Host order. */
  port: number;
  weight: number;
  /** The latest non-zero weight (mh); the current weight when never edited. */
  lastWeight: number;
}

/** True for the schedulers whose slot table the control plane computes. */
export function hasSlotTable(sched: number): boolean {
  return sched === SCHED_SH || sched === SCHED_DH || sched === SCHED_MH;
}

/** An address's four little-endian words of wire bytes (IPv4: word 0, zeros). */
function words(addr: Uint8Array): [number, number, number, number] {
  const w: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < addr.length && i < 16; i++) w[i >> 2] |= addr[i] << (8 * (i & 3));
  w.forEach((x, i) => w[i] = x >>> 0);
  return w;
}

/** ntohl of the address fold as ip_vs_mh.c takes it: by the *service's* family. */
function foldFor(svcAf: Af, addr: Uint8Array): number {
  const [w0, w1, w2, w3] = words(addr);
  return svcAf === AF_INET ? addrFoldHost(w0, 0, 0, 0) : addrFoldHost(w0, w1, w2, w3);
}

/**
 * ip_vs_sh_reassign: walking the list, each dest takes max(weight, 1) consecutive slots,
 * round after round, until all 256 are filled; no dest leaves every slot empty (-1).
 *
 * @param dests the service's dests in list order
 * @returns 256 dest indices
 */
export function shTable(dests: readonly TableDest[]): Int32Array {
  const t = new Int32Array(SH_SIZE).fill(-1);
  if (dests.length === 0) return t;
  let i = 0, count = 0;
  for (let b = 0; b < SH_SIZE; b++) {
    t[b] = dests[i].index;
    if (++count >= dests[i].weight) {
      i = (i + 1) % dests.length;
      count = 0;
    }
  }
  return t;
}

/**
 * ip_vs_dh_reassign: slot i is the (i mod n)-th dest in list order; weights are ignored.
 *
 * @param dests the service's dests in list order
 * @returns 256 dest indices (-1 when there is no dest)
 */
export function dhTable(dests: readonly TableDest[]): Int32Array {
  const t = new Int32Array(SH_SIZE).fill(-1);
  if (dests.length > 0) { for (let b = 0; b < SH_SIZE; b++) t[b] = dests[b % dests.length].index; }
  return t;
}

/**
 * A dest's Maglev permutation: offset = hsiphash(v, key1) mod M, skip = hsiphash(v, key2)
 * mod (M - 1) + 1, with v = port + ntohl(address fold by the service's family).
 *
 * @example
 * ```ts
 * import { mhPermutation } from "./tables.ts";
 * const d = { index: 0, af: 2 as const, addr: Uint8Array.of(192, 0, 2, 13), port: 80, weight: 1, lastWeight: 1 };
 * const p = mhPermutation(2, d, 4093);
 * if (p.offset !== 2261 || p.skip !== 1546) throw new Error("spec §1.16 vector");
 * ```
 */
export function mhPermutation(
  svcAf: Af,
  d: TableDest,
  m: number,
): { offset: number; skip: number } {
  const v = (d.port + foldFor(svcAf, d.addr)) >>> 0;
  return { offset: hsiphash32(v, MH_KEY1) % m, skip: (hsiphash32(v, MH_KEY2) % (m - 1)) + 1 };
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Bits of x (the kernel's fls: 0 for 0). */
function fls(x: number): number {
  return x <= 0 ? 0 : 32 - Math.clz32(x);
}

/**
 * ip_vs_mh_populate: Maglev population over the dests' permutations. Each dest takes
 * `turns` slots in a row per round (turns = (lastWeight / gcd) >> shift, at least 1 for a
 * non-zero last weight, 0 for a dest added with weight 0); a taken slot sends a dest on by
 * its skip. shift keeps the largest turns within `bits` bits (bits = table index / 2).
 *
 * @param svcAf the service's family (it selects the address fold)
 * @param dests the service's dests in list order
 * @param m the table size (a prime)
 * @param bits CONFIG_IP_VS_MH_TAB_INDEX / 2 (6 for M = 4093)
 * @returns m dest indices (all -1 when no last weight is positive)
 */
export function mhTable(
  svcAf: Af,
  dests: readonly TableDest[],
  m: number,
  bits: number,
): Int32Array {
  const t = new Int32Array(m).fill(-1);
  let g = 0, mw = 0;
  for (const d of dests) {
    if (d.lastWeight > 0) g = g > 0 ? gcd(d.lastWeight, g) : d.lastWeight;
    mw = Math.max(mw, d.lastWeight);
  }
  if (g < 1) return t;
  const shift = Math.max(0, fls(Math.floor(mw / g)) - bits);
  const perm = dests.map((d) => {
    const p = mhPermutation(svcAf, d, m);
    const lw = d.lastWeight;
    return { ...p, perm: p.offset, turns: (Math.floor(lw / g) >> shift) || (lw !== 0 ? 1 : 0) };
  });
  let n = 0;
  for (;;) {
    for (let i = 0; i < dests.length; i++) {
      const ds = perm[i];
      if (ds.turns < 1) continue;
      for (let k = 0; k < ds.turns; k++) {
        while (t[ds.perm] !== -1) {
          ds.perm += ds.skip;
          if (ds.perm >= m) ds.perm -= m;
        }
        t[ds.perm] = dests[i].index;
        if (++n === m) return t;
      }
    }
  }
}

/** The MH table bits for a table size (IPVS: CONFIG_IP_VS_MH_TAB_INDEX / 2). */
export function mhBits(m: number): number {
  const sizes = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071];
  const i = sizes.indexOf(m);
  if (i < 0) throw new RangeError(`Cannot compute an MH table: ${m} is not an IPVS table size`);
  return (i + 8) >> 1;
}

/**
 * The slot table a scheduler wants for these dests, or null for a scheduler without one.
 *
 * @param sched SCHED_* id
 * @param svcAf the service's family
 * @param dests list order
 * @param mhSize the engine's M (layout L_MH_SIZE)
 */
export function computeTable(
  sched: number,
  svcAf: Af,
  dests: readonly TableDest[],
  mhSize: number,
): Int32Array | null {
  if (sched === SCHED_SH) return shTable(dests);
  if (sched === SCHED_DH) return dhTable(dests);
  if (sched === SCHED_MH) return mhTable(svcAf, dests, mhSize, mhBits(mhSize));
  return null;
}

/**
 * The changes that turn `current` into `next`, as (slot, dest) pairs (dest -1: empty):
 * what Engine.setSchedSlots takes (Katran's RealPos deltas).
 */
export function tableChanges(current: ArrayLike<number>, next: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < next.length; i++) {
    const cur = i < current.length ? current[i] : -1;
    if (cur !== next[i]) out.push(i, next[i]);
  }
  return out;
}

/** The service's dests as an engine has them (list order, weights, last weights). */
export function engineTableDests(engine: Engine, svc: number): TableDest[] {
  const out: TableDest[] = [];
  for (const index of engine.destList(svc)) {
    const info = engine.destInfo(index);
    if (!info) continue;
    const { af, addr, port, weight, lastWeight } = info;
    out.push({ index, af, addr, port, weight, lastWeight });
  }
  return out;
}

/**
 * Recomputes a service's slot table from the engine's dests and writes only the changed
 * slots. Call after every add, edit or delete of a dest of an sh, dh or mh service, and
 * after binding one of them (add or edit of the service).
 *
 * @param engine the engine
 * @param svc the service index
 * @param sched its SCHED_* id
 * @param svcAf its family
 * @returns the number of slots written (0 for a scheduler without a table), or -errno
 */
export function syncSchedTable(engine: Engine, svc: number, sched: number, svcAf: Af): number {
  if (!hasSlotTable(sched)) return 0;
  const next = computeTable(sched, svcAf, engineTableDests(engine, svc), engine.layout[L_MH_SIZE])!;
  const changes = tableChanges(engine.schedTable(svc), next);
  if (changes.length === 0) return 0;
  return engine.setSchedSlots(svc, changes);
}

/**
 * An Engine whose control operations keep sh/dh/mh tables in sync: every add, edit and
 * delete of a service or dest is followed by syncSchedTable. Everything else passes
 * through. For tests, tools and embedders that drive an engine without the model.
 *
 * @param engine the engine to wrap
 * @returns the same engine behind the table-keeping control operations
 */
export function withSchedTables(engine: Engine): Engine {
  const services = new Map<number, { af: Af; sched: number }>();
  const sync = (svc: number) => {
    const s = services.get(svc);
    if (s) syncSchedTable(engine, svc, s.sched, s.af);
  };
  const hooks: Partial<Engine> = {
    addService(spec: ServiceSpec) {
      const r = engine.addService(spec);
      if (r >= 0) {
        services.set(r, { af: spec.af, sched: spec.sched });
        sync(r);
      }
      return r;
    },
    editService(svc: number, spec: ServiceSpec) {
      const r = engine.editService(svc, spec);
      const s = services.get(svc);
      if (r >= 0 && s) {
        s.sched = spec.sched;
        sync(svc);
      }
      return r;
    },
    delService(svc: number) {
      const r = engine.delService(svc);
      if (r >= 0) services.delete(svc);
      return r;
    },
    addDest(svc: number, spec: DestSpec) {
      const r = engine.addDest(svc, spec);
      if (r >= 0) sync(svc);
      return r;
    },
    editDest(dest: number, spec: DestSpec) {
      const r = engine.editDest(dest, spec);
      const info = r >= 0 ? engine.destInfo(dest) : null;
      if (info) sync(info.svc);
      return r;
    },
    delDest(dest: number) {
      const info = engine.destInfo(dest);
      const r = engine.delDest(dest);
      if (r >= 0 && info) sync(info.svc);
      return r;
    },
  };
  return new Proxy(engine, {
    get(target, key) {
      const hook = (hooks as Record<PropertyKey, unknown>)[key];
      if (hook !== undefined) return hook;
      const v = Reflect.get(target, key);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
