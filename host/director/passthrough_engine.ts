// A stand-in engine that passes every frame to the director's slow path and
// forwards nothing. Runtime-agnostic. It has the real I/O layout (descriptors,
// slots at the ABI's offsets), so the frame backends, ARP/ND and the daemon loop
// can be run and tested on real interfaces without a data plane
// (`"engine": "passthrough"` in a director config). Services are accepted and
// ignored; counters count RX and PASS only.
import {
  C_COUNT,
  C_PASS,
  C_REASON_BASE,
  C_RX,
  ENOENT,
  HEADROOM,
  L_BATCH,
  L_RX_DESC,
  L_SLOT_COUNT,
  L_SLOTS,
  L_TX_CAP,
  L_TX_DESC,
  L_WORDS,
  R_NOT_IP,
  R_NOT_VIP,
  RXD_REASON,
  RXD_SIZE,
  RXD_SLOT,
  RXD_VERDICT,
  SLOT_SIZE,
  T_COUNT,
  TXD_SIZE,
  V_PASS,
} from "../engine/abi.gen.ts";
import type { DestCounts, Engine, EngineConfig, Stats } from "../engine/engine.ts";

const PAGE = 4096;

export function createPassthroughEngine(config: EngineConfig): Engine {
  const batch = config.batch;
  const txCap = batch * 2;
  const rxDesc = 0;
  const txDesc = rxDesc + batch * RXD_SIZE;
  const slots = Math.ceil((txDesc + txCap * TXD_SIZE) / PAGE) * PAGE;
  const slotCount = batch;
  const memory = new ArrayBuffer(slots + slotCount * SLOT_SIZE);
  const layout = new Uint32Array(L_WORDS);
  layout[L_RX_DESC] = rxDesc;
  layout[L_TX_DESC] = txDesc;
  layout[L_BATCH] = batch;
  layout[L_TX_CAP] = txCap;
  layout[L_SLOTS] = slots;
  layout[L_SLOT_COUNT] = slotCount;
  const u8 = new Uint8Array(memory);
  const dv = new DataView(memory);
  const counters = new Array<number>(C_COUNT).fill(0);
  const zeroStats = (): Stats => ({ conns: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0 });
  let nextSvc = 0;
  let nextDest = 0;
  const dests = new Map<number, number[]>();
  return {
    kind: "ts",
    memory,
    layout,
    setSysctl() {},
    setTimeouts() {},
    timeouts: () => new Array<number>(T_COUNT).fill(0),
    setPort: () => 0,
    setNeigh: () => 0,
    addService: () => nextSvc++,
    editService: () => 0,
    delService: () => 0,
    addDest(svc) {
      const d = nextDest++;
      dests.set(svc, [d, ...(dests.get(svc) ?? [])]);
      return d;
    },
    editDest: () => 0,
    delDest: () => 0,
    destList: (svc) => dests.get(svc) ?? [],
    processBatch(n: number): number {
      for (let i = 0; i < n; i++) {
        const d = rxDesc + i * RXD_SIZE;
        const f = slots + dv.getUint32(d + RXD_SLOT, true) * SLOT_SIZE + HEADROOM;
        const type = (u8[f + 12] << 8) | u8[f + 13];
        const reason = type === 0x0800 || type === 0x86dd || type === 0x8100 ? R_NOT_VIP : R_NOT_IP;
        u8[d + RXD_VERDICT] = V_PASS;
        u8[d + RXD_REASON] = reason;
        counters[C_RX]++;
        counters[C_PASS]++;
        counters[C_REASON_BASE + reason]++;
      }
      return 0;
    },
    expire: () => 0,
    counters: () => counters.slice(),
    svcStats: zeroStats,
    destStats: zeroStats,
    destCounts: (): DestCounts => ({ activeConns: 0, inactConns: 0, persistConns: 0, flags: 0 }),
    dumpConns: () => [],
    setSync() {},
    syncDrain: () => 0,
    syncConn: () => -ENOENT,
    setSchedSlots: () => -ENOENT,
    schedTable: () => new Int32Array(0),
    destInfo: () => null,
    schedProbe: () => -1,
  };
}
