// The WVS packet engine's exports (house style G16: nothing else is exported).
// The host wrapper is host/engine/wasm/wasm_engine.ts; offsets and codes are in
// abi.ts. Control operations read their record from the CTL mailbox and return
// an index (>= 0) or a negated errno; the data path never traps or allocates.

export { init, layout } from "./layout";
export { processBatch, expire } from "./core";
export { setSysctl, setTimeouts, getTimeout } from "./ctl";
export { setPort, setNeigh } from "./neigh";
export { addService, editService, delService, destListInto, serviceLive } from "./service";
export {
  addDest,
  editDest,
  delDest,
  destListed,
  destActiveConns,
  destInactConns,
  destPersistConns,
  destFlags,
  destAf,
  destAddr,
  destInfoInto,
} from "./dest";
export { setSchedSlots, schedTableInto } from "./sched/table";
export { schedProbe } from "./sched/probe";
export { syncSetup, syncDrain, syncConn } from "./sync";
