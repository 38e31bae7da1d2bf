// The engine's sync records (assembly/abi.ts SR_*), read from its memory after a batch:
// the seam between the engine's per-packet sync decision and the host's message builder.
// A record with SR_OPT_SEQ carries the entry's sequence data (sent as option 1).
// Runtime-agnostic.
import {
  L_SYNC_RING,
  SR_AF,
  SR_CADDR,
  SR_CPORT,
  SR_DADDR,
  SR_DPORT,
  SR_FLAGS,
  SR_FWMARK,
  SR_IN_SEQ,
  SR_OPT_SEQ,
  SR_OPTS,
  SR_OUT_SEQ,
  SR_PROTO,
  SR_STATE,
  SR_TIMEOUT,
  SR_VADDR,
  SR_VPORT,
  SYNC_REC_SIZE,
} from "../engine/abi.gen.ts";
import type { Engine } from "../engine/engine.ts";
import type { SyncConn } from "./wire.ts";

/**
 * Reads record `i` of the ring at `ring` in `mem`.
 *
 * @param mem the engine's memory
 * @param ring layout[L_SYNC_RING]
 * @param i record index
 * @returns the entry as a sync message carries it
 */
export function readSyncRecord(mem: Uint8Array, ring: number, i: number): SyncConn {
  const r = ring + i * SYNC_REC_SIZE;
  const dv = new DataView(mem.buffer, mem.byteOffset + r, SYNC_REC_SIZE);
  const af = dv.getUint8(SR_AF) === 10 ? 10 : 2;
  const alen = af === 10 ? 16 : 4;
  const at = (o: number) => mem.slice(r + o, r + o + alen);
  const c: SyncConn = {
    af,
    protocol: dv.getUint8(SR_PROTO),
    flags: dv.getUint32(SR_FLAGS, true),
    state: dv.getUint16(SR_STATE, true),
    cport: dv.getUint16(SR_CPORT, false),
    vport: dv.getUint16(SR_VPORT, false),
    dport: dv.getUint16(SR_DPORT, false),
    fwmark: dv.getUint32(SR_FWMARK, true),
    timeout: dv.getUint32(SR_TIMEOUT, true),
    caddr: at(SR_CADDR),
    vaddr: at(SR_VADDR),
    daddr: at(SR_DADDR),
  };
  if (dv.getUint8(SR_OPTS) & SR_OPT_SEQ) {
    const seq = (o: number) => ({
      initSeq: dv.getUint32(o, true),
      delta: dv.getUint32(o + 4, true),
      previousDelta: dv.getUint32(o + 8, true),
    });
    c.inSeq = seq(SR_IN_SEQ);
    c.outSeq = seq(SR_OUT_SEQ);
  }
  return c;
}

/**
 * Takes the records of the last batch from `engine` (syncDrain) as entries.
 *
 * @param engine the engine, master role on
 * @returns the entries, in the order the engine decided them
 */
export function drainSyncRecords(engine: Engine): SyncConn[] {
  const n = engine.syncDrain();
  if (n === 0) return [];
  const mem = new Uint8Array(engine.memory);
  const ring = engine.layout[L_SYNC_RING];
  const out: SyncConn[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = readSyncRecord(mem, ring, i);
  return out;
}
