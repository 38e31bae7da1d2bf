// Scheduler table blocks: the slot tables of sh, dh and mh, and the bucket arrays of the
// lblc/lblcr caches, carved once at init (layout.ts) and handed to services from a LIFO
// free stack when they bind such a scheduler (registry.ts). STYLE G13: the sh/dh/mh slot
// contents are computed by the control plane (host/ctl/tables.ts) and written here as
// slot changes (setSchedSlots); the data path only reads them. An empty slot is NO_DEST.
import { ESRCH, EINVAL, NO_DEST, SCHED_DH, SCHED_MH, SCHED_SH } from "../abi";
import { DEST_LIVE, DS_SVC, DS_USED, destAt } from "../dest";
import { SV_SCHED, svcAt, svcIsLive } from "../service";
import { Eng, Mem } from "../state";
import { schedWord } from "./scheduler";

export const NO_TABLE: u32 = 0xffffffff;
/** sh and dh tables: 2^8 slots (IPVS CONFIG_IP_VS_SH_TAB_BITS / DH_TAB_BITS defaults). */
export const SH_BITS: u32 = 8;
export const SH_SIZE: u32 = 1 << SH_BITS;
/** lblc/lblcr: 2^10 buckets (CONFIG_IP_VS_LBLC_TAB_BITS), then a few header words. */
export const LBLC_BITS: u32 = 10;
export const LBLC_BUCKETS: u32 = 1 << LBLC_BITS;
export const LBLC_HEADER: u32 = 4;

/** The primes IPVS allows as MH table size, by CONFIG_IP_VS_MH_TAB_INDEX - 8. */
export const MH_SIZES: usize = memory.data<u32>([
  251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
]);

/** Words per block: the largest table (M, or the lblc buckets and header), 16-word aligned. */
export function blockWords(mhSize: u32): u32 {
  const w = max<u32>(mhSize, LBLC_BUCKETS + LBLC_HEADER);
  return (w + 15) & ~15;
}

export function tableReset(): void {
  const n = Mem.schedTableCount;
  for (let i: u32 = 0; i < n; i++) {
    store<u32>(Mem.schedTableFree + (<usize>i << 2), n - 1 - i);
  }
  Eng.schedTableTop = n;
}

@inline export function tableAt(t: u32): usize {
  return Mem.schedTables + ((<usize>t * Mem.schedBlockWords) << 2);
}

/** Slot `i` of a table block. */
@inline export function tableSlot(t: u32, i: u32): usize {
  return tableAt(t) + (<usize>i << 2);
}

/** True when a block is free for a service to take. */
@inline export function tableAvailable(): bool {
  return Eng.schedTableTop > 0;
}

/** Takes a block (call tableAvailable first) with every word NO_DEST (empty). */
export function tableAlloc(): u32 {
  Eng.schedTableTop--;
  const t = load<u32>(Mem.schedTableFree + (<usize>Eng.schedTableTop << 2));
  memory.fill(tableAt(t), 0xff, <usize>Mem.schedBlockWords << 2);
  return t;
}

export function tableFree(t: u32): void {
  store<u32>(Mem.schedTableFree + (<usize>Eng.schedTableTop << 2), t);
  Eng.schedTableTop++;
}

/** Slots of a service's slot table (sh, dh: 256; mh: M; others 0). */
export function slotCount(svc: u32): u32 {
  const id: u32 = load<u8>(svcAt(svc), SV_SCHED);
  if (id == SCHED_SH || id == SCHED_DH) return SH_SIZE;
  if (id == SCHED_MH) return Mem.mhSize;
  return 0;
}

/** A deleted dest leaves every slot it held empty until the control plane refills them. */
export function tableForget(svc: u32, dest: u32): void {
  const n = slotCount(svc);
  if (n == 0) return;
  const t = load<u32>(schedWord(svc, 0));
  for (let i: u32 = 0; i < n; i++) {
    const p = tableSlot(t, i);
    if (load<u32>(p) == dest) store<u32>(p, NO_DEST);
  }
}

/**
 * Writes `n` (slot, dest) pairs from L_SCRATCH into the service's slot table. Every pair
 * is checked first (slot in range; dest NO_DEST or a listed dest of this service), so a
 * bad change set writes nothing. Returns n, -ESRCH or -EINVAL.
 */
export function setSchedSlots(svc: u32, n: u32): i32 {
  if (!Mem.ready || !svcIsLive(svc)) return -ESRCH;
  const size = slotCount(svc);
  if (size == 0 || n > size) return -EINVAL;
  const p = Mem.scratch;
  for (let i: u32 = 0; i < n; i++) {
    const slot = load<u32>(p + (<usize>i << 3));
    const dest = load<u32>(p + (<usize>i << 3), 4);
    if (slot >= size) return -EINVAL;
    if (dest != NO_DEST) {
      if (dest >= Mem.maxDests) return -EINVAL;
      const d = destAt(dest);
      if (load<u8>(d, DS_USED) != DEST_LIVE || load<u32>(d, DS_SVC) != svc) return -EINVAL;
    }
  }
  const t = load<u32>(schedWord(svc, 0));
  for (let i: u32 = 0; i < n; i++) {
    store<u32>(tableSlot(t, load<u32>(p + (<usize>i << 3))), load<u32>(p + (<usize>i << 3), 4));
  }
  return <i32>n;
}

/** Copies the service's slot table to L_SCRATCH; returns its size (0: no slot table). */
export function schedTableInto(svc: u32): i32 {
  if (!Mem.ready || !svcIsLive(svc)) return -ESRCH;
  const n = slotCount(svc);
  if (n > 0) memory.copy(Mem.scratch, tableAt(load<u32>(schedWord(svc, 0))), <usize>n << 2);
  return <i32>n;
}
