// The linear-memory map: init() carves every region once, with a single
// memory.grow, and publishes the host-visible offsets in the layout table
// (abi.ts L_*). Memory never grows afterwards and nothing is allocated per
// frame. Regions start on 64-byte boundaries (a cache line; one conn entry).
//
//  __heap_base (rounded up to 64)
//  +-------------------------+ layout table   L_WORDS × u32
//  | CTL mailbox             | CTL_SIZE
//  | counters                | C_COUNT × u64                   L_COUNTERS
//  | timeouts | sysctls      | T_COUNT × u32 | SYS_COUNT × u32
//  | RX descriptors          | batch × RXD_SIZE                L_RX_DESC
//  | TX descriptors          | (2·batch + FRAG_HOLD) × TXD_SIZE  L_TX_DESC
//  | frame slots             | (2·batch + FRAG_HOLD) × SLOT_SIZE L_SLOTS (host slots first,
//  |                         |   then one per RX frame, then held fragments: issue 7)
//  | lookup hints            | batch × HINT_SIZE (conn.ts)
//  | conn entries            | maxConns × CONN_SIZE            L_CONNS (+ bucket heads)
//  | IPv6 address blocks     | maxConns6 × CONN6_SIZE          L_CONN6
//  | services                | maxServices × SVC_SIZE          L_SVCS
//  | service buckets, stack  | svcBuckets × u32, maxServices × u32
//  | dests, dest stack       | maxDests × DEST_SIZE, × u32     L_DESTS
//  | service stats           | maxServices × STATS_WORDS × u64 L_SVC_STATS
//  | dest stats              | maxDests × STATS_WORDS × u64    L_DEST_STATS
//  | scratch (dest lists)    | max(maxDests, 2·block) × u32    L_SCRATCH
//  | ports                   | PORT_MAX × PORT_SIZE
//  | neighbours              | NEIGH_RECORDS × NEIGH_SIZE
//  | next hop per dest       | maxDests × NH_CACHE_SIZE (neigh.ts)
//  | template buckets, key   | tplBuckets × u32, 32 bytes
//  | sched table blocks      | schedTables × block × u32, stack (sched/table.ts)
//  | lblc entries, stack     | lblcEntries × LBLC_SIZE, × u32  (sched/locality.ts)
//  | lblcr set nodes, stack  | lblcNodes × NODE_SIZE, × u32
//  | sched index blocks      | schedIndexes × IDX_WORDS × u32, stack (sched/index.ts)
//  | sync ring, entry state  | batch × 4 × SYNC_REC_SIZE, maxConns × 8  L_SYNC_RING (sync.ts)
//  | edge region             | edgeBytes(batch, maxConns)   (issue 7: edge.ts)
//  +-------------------------+ L_END
import {
  CN_BUCKET,
  CONN6_SIZE,
  CONN_SIZE,
  CTL_SIZE,
  C_COUNT,
  EBUSY,
  FRAG_HOLD,
  EINVAL,
  ENOMEM,
  L_BATCH,
  L_BUCKETS,
  L_BUCKET_COUNT,
  L_CONN6,
  L_CONNS,
  L_COUNTERS,
  L_CTL,
  L_DESTS,
  L_DEST_STATS,
  L_END,
  L_MAX_CONNS,
  L_MAX_CONNS6,
  L_MAX_DESTS,
  L_MAX_SVCS,
  L_MH_SIZE,
  L_RX_DESC,
  L_SCHED_TABLES,
  L_SCRATCH,
  L_SYNC_CAP,
  L_SYNC_RING,
  L_SLOTS,
  L_SLOT_COUNT,
  L_SVCS,
  L_SVC_STATS,
  L_TX_CAP,
  L_TX_DESC,
  L_WORDS,
  PORT_MAX,
  RXD_SIZE,
  SLOT_SIZE,
  STATS_WORDS,
  SYNC_RING_PER_FRAME,
  SYS_COUNT,
  T_COUNT,
  TXD_SIZE,
} from "./abi";
import { HINT_SIZE, connReset } from "./conn";
import { edgeBytes, edgeReset } from "./edge";
import { ctlReset } from "./ctl";
import { DEST_SIZE, destReset } from "./dest";
import { NEIGH_RECORDS, NEIGH_SIZE, NH_CACHE_SIZE, PORT_SIZE, neighReset } from "./neigh";
import { SVC_SIZE, svcReset } from "./service";
import { LBLC_SIZE, NODE_SIZE, localityReset } from "./sched/locality";
import { MH_SIZES, blockWords, tableReset } from "./sched/table";
import { IDX_WORDS, indexReset } from "./sched/index";
import { Eng, Mem } from "./state";
import { syncConnBytes, syncReset, syncRingBytes } from "./sync";

const ALIGN: u64 = 64;
/** Size limits (shared with the reference engine); they also keep every product in range. */
const MAX_CONNS: u32 = 1 << 24;
const MAX_SERVICES: u32 = 1 << 16;
const MAX_DESTS: u32 = 1 << 20;
const MAX_BATCH: u32 = 4096;
const MAX_LBLC: u32 = 1 << 22;
/** Highest usable end of memory: 4 GiB minus one page. */
const MEMORY_LIMIT: u64 = (<u64>1 << 32) - 65536;

/** Smallest power of two >= n (n >= 1). */
function pow2(n: u32): u32 {
  let p: u32 = 1;
  while (p < n) p <<= 1;
  return p;
}

/** The end of a region of `bytes` starting at `at`, rounded up to 64 bytes. */
@inline function after(at: u64, bytes: u64): u64 {
  return (at + bytes + ALIGN - 1) & ~(ALIGN - 1);
}

function publish(word: u32, value: usize): void {
  store<u32>(Mem.layout + (<usize>word << 2), <u32>value);
}

/**
 * Sizes and carves all engine memory. `maxConns6` (<= maxConns) IPv6 entries
 * get address blocks; `batch` host frame slots are followed by `batch`
 * engine-owned ones. Returns 0, -EINVAL (bad size), -EBUSY (already initialised)
 * or -ENOMEM (memory cannot grow that far).
 */
export function init(
  maxConns: u32,
  maxConns6: u32,
  maxServices: u32,
  maxDests: u32,
  batch: u32,
  seed: u32,
  schedTables: u32,
  mhIndex: u32,
  lblcEntries: u32,
  lblcNodes: u32,
  schedSeed: u32,
  schedIndexes: u32,
  schedIndexMin: u32,
): i32 {
  if (Mem.ready) return -EBUSY;
  // mhIndex is IPVS's CONFIG_IP_VS_MH_TAB_INDEX (8..17): M = MH_SIZES[mhIndex - 8].
  if (mhIndex < 8 || mhIndex > 17) return -EINVAL;
  if (schedTables > MAX_SERVICES || lblcEntries > MAX_LBLC || lblcNodes > MAX_LBLC) return -EINVAL;
  if (schedIndexes > MAX_SERVICES) return -EINVAL;
  if (maxConns == 0 || maxConns > MAX_CONNS || maxConns6 > maxConns) return -EINVAL;
  if (maxServices == 0 || maxServices > MAX_SERVICES) return -EINVAL;
  if (maxDests == 0 || maxDests > MAX_DESTS) return -EINVAL;
  if (batch == 0 || batch > MAX_BATCH) return -EINVAL;
  const svcBucketCount = pow2(maxServices << 1);
  const tplBucketCount = max<u32>(16, pow2(maxConns) >> 2);
  const mhSize = load<u32>(MH_SIZES + (<usize>(mhIndex - 8) << 2));
  const block = blockWords(mhSize);
  const scratchWords = max<u32>(maxDests, block << 1);

  let p: u64 = after(<u64>__heap_base, 0);
  const layoutAt = <usize>p;
  p = after(p, <u64>L_WORDS << 2);
  const ctl = <usize>p;
  p = after(p, CTL_SIZE);
  const counters = <usize>p;
  p = after(p, <u64>C_COUNT << 3);
  const timeouts = <usize>p;
  p = after(p, <u64>T_COUNT << 2);
  const sysctls = <usize>p;
  p = after(p, <u64>SYS_COUNT << 2);
  const rxDesc = <usize>p;
  p = after(p, <u64>batch * RXD_SIZE);
  const txDesc = <usize>p;
  p = after(p, (<u64>batch * 2 + FRAG_HOLD) * TXD_SIZE); // issue 7: + held fragments
  const slots = <usize>p;
  p = after(p, (<u64>batch * 2 + FRAG_HOLD) * SLOT_SIZE); // issue 7: + held fragments
  const hints = <usize>p;
  p = after(p, <u64>batch * HINT_SIZE);
  const conns = <usize>p;
  p = after(p, <u64>maxConns * CONN_SIZE);
  const conn6 = <usize>p;
  p = after(p, <u64>maxConns6 * CONN6_SIZE);
  const svcs = <usize>p;
  p = after(p, <u64>maxServices * SVC_SIZE);
  const svcBuckets = <usize>p;
  p = after(p, <u64>svcBucketCount << 2);
  const svcFree = <usize>p;
  p = after(p, <u64>maxServices << 2);
  const dests = <usize>p;
  p = after(p, <u64>maxDests * DEST_SIZE);
  const destFree = <usize>p;
  p = after(p, <u64>maxDests << 2);
  const svcStats = <usize>p;
  p = after(p, <u64>maxServices * STATS_WORDS << 3);
  const destStats = <usize>p;
  p = after(p, <u64>maxDests * STATS_WORDS << 3);
  const scratch = <usize>p;
  p = after(p, <u64>scratchWords << 2);
  const ports = <usize>p;
  p = after(p, <u64>PORT_MAX * PORT_SIZE);
  const neigh = <usize>p;
  p = after(p, <u64>NEIGH_RECORDS * NEIGH_SIZE);
  const nhCache = <usize>p;
  p = after(p, <u64>maxDests * NH_CACHE_SIZE);
  const tplBuckets = <usize>p;
  p = after(p, <u64>tplBucketCount << 2);
  const tplKey = <usize>p;
  p = after(p, 32);
  const tables = <usize>p;
  p = after(p, (<u64>schedTables * block) << 2);
  const tableFree = <usize>p;
  p = after(p, <u64>schedTables << 2);
  const lblc = <usize>p;
  p = after(p, <u64>lblcEntries * LBLC_SIZE);
  const lblcFree = <usize>p;
  p = after(p, <u64>lblcEntries << 2);
  const nodes = <usize>p;
  p = after(p, <u64>lblcNodes * NODE_SIZE);
  const nodeFree = <usize>p;
  p = after(p, <u64>lblcNodes << 2);
  const idx = <usize>p;
  p = after(p, (<u64>schedIndexes * IDX_WORDS) << 2);
  const idxFree = <usize>p;
  p = after(p, <u64>schedIndexes << 2);
  const syncRing = <usize>p;
  p = after(p, syncRingBytes(batch));
  const syncConns = <usize>p;
  p = after(p, syncConnBytes(maxConns));
  const edge = <usize>p;
  p = after(p, edgeBytes(batch, maxConns));
  const end = p;
  if (end > MEMORY_LIMIT) return -ENOMEM;

  // The one memory.grow: everything the engine will ever use.
  const pages = <i32>((end + 0xffff) >> 16);
  const have = memory.size();
  if (pages > have && memory.grow(pages - have) < 0) return -ENOMEM;

  Mem.layout = layoutAt;
  Mem.ctl = ctl;
  Mem.counters = counters;
  Mem.timeouts = timeouts;
  Mem.sysctls = sysctls;
  Mem.rxDesc = rxDesc;
  Mem.txDesc = txDesc;
  Mem.slots = slots;
  Mem.hints = hints;
  Mem.batch = batch;
  Mem.txCap = batch * 2 + FRAG_HOLD;
  Mem.conns = conns;
  Mem.maxConns = maxConns;
  Mem.conn6 = conn6;
  Mem.maxConns6 = maxConns6;
  Mem.svcs = svcs;
  Mem.maxSvcs = maxServices;
  Mem.svcBuckets = svcBuckets;
  Mem.svcBucketMask = svcBucketCount - 1;
  Mem.svcFree = svcFree;
  Mem.dests = dests;
  Mem.maxDests = maxDests;
  Mem.destFree = destFree;
  Mem.svcStats = svcStats;
  Mem.destStats = destStats;
  Mem.scratch = scratch;
  Mem.ports = ports;
  Mem.neigh = neigh;
  Mem.nhCache = nhCache;
  Mem.tplBuckets = tplBuckets;
  Mem.tplBucketMask = tplBucketCount - 1;
  Mem.tplKey = tplKey;
  Mem.schedTables = tables;
  Mem.schedTableCount = schedTables;
  Mem.schedBlockWords = block;
  Mem.schedTableFree = tableFree;
  Mem.mhSize = mhSize;
  Mem.mhBits = mhIndex >> 1;
  Mem.lblcEntries = lblc;
  Mem.lblcMax = lblcEntries;
  Mem.lblcFree = lblcFree;
  Mem.lblcNodes = nodes;
  Mem.lblcNodeMax = lblcNodes;
  Mem.lblcNodeFree = nodeFree;
  Mem.idxBlocks = idx;
  Mem.idxCount = schedIndexes;
  Mem.idxFree = idxFree;
  Mem.idxMin = schedIndexMin;
  Eng.seed = seed;
  Eng.schedSeed = schedSeed;
  Eng.ftpSvcs = 0;
  Eng.nullSvcs = 0;
  Eng.nowMs = 0;
  Eng.ipId = 0;
  Eng.nTx = 0;

  // Fresh memory from grow is zero; the regions below __heap_base are not ours.
  memory.fill(layoutAt, 0, <usize>(end - <u64>layoutAt));
  connReset();
  svcReset();
  destReset();
  neighReset();
  ctlReset();
  syncReset(syncRing, batch * SYNC_RING_PER_FRAME, syncConns);
  edgeReset(edge); // issue 7 (edge.ts)
  memory.fill(tplBuckets, 0xff, <usize>tplBucketCount << 2);
  tableReset();
  localityReset();
  indexReset();

  publish(L_RX_DESC, rxDesc);
  publish(L_TX_DESC, txDesc);
  publish(L_BATCH, batch);
  publish(L_TX_CAP, batch * 2 + FRAG_HOLD);
  publish(L_SLOTS, slots);
  publish(L_SLOT_COUNT, batch * 2 + FRAG_HOLD);
  publish(L_CTL, ctl);
  publish(L_COUNTERS, counters);
  publish(L_CONNS, conns);
  publish(L_MAX_CONNS, maxConns);
  publish(L_CONN6, conn6);
  publish(L_MAX_CONNS6, maxConns6);
  // Bucket i's head is the word at L_BUCKETS + i × CONN_SIZE (conn.ts connBucket).
  publish(L_BUCKETS, conns + CN_BUCKET);
  publish(L_BUCKET_COUNT, maxConns);
  publish(L_SVCS, svcs);
  publish(L_MAX_SVCS, maxServices);
  publish(L_DESTS, dests);
  publish(L_MAX_DESTS, maxDests);
  publish(L_SVC_STATS, svcStats);
  publish(L_DEST_STATS, destStats);
  publish(L_END, <usize>end);
  publish(L_SCRATCH, scratch);
  publish(L_SYNC_RING, syncRing);
  publish(L_SYNC_CAP, batch * SYNC_RING_PER_FRAME);
  publish(L_MH_SIZE, mhSize);
  publish(L_SCHED_TABLES, schedTables);
  Mem.ready = true;
  return 0;
}

/** Address of the layout table (0 before init). */
export function layout(): usize {
  return Mem.layout;
}
