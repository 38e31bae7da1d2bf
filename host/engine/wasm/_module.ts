// The raw interface of build/wvs.wasm (assembly/index.ts exports) and the
// runtime-neutral way to read its bytes: Deno.readFile, node:fs/promises (the
// one guarded Node import, declared in _tools/portable.d.ts) or fetch.
// It feature-detects its runtime (so it carries no runtime-agnostic mark: the
// guarded node: import is the one exception). Private to host/engine/wasm/.

export /** The raw exports of build/wvs.wasm (assembly/index.ts). */
interface WvsExports {
  memory: WebAssembly.Memory;
  init(
    maxConns: number,
    maxConns6: number,
    maxServices: number,
    maxDests: number,
    batch: number,
    seed: number,
    schedTables: number,
    mhIndex: number,
    lblcEntries: number,
    lblcNodes: number,
    schedSeed: number,
    schedIndexes: number,
    schedIndexMin: number,
  ): number;
  layout(): number;
  processBatch(n: number, now: number): number;
  expire(now: number, budget: number): number;
  setSysctl(index: number, value: number): void;
  setTimeouts(tcp: number, tcpfin: number, udp: number): void;
  getTimeout(slot: number): number;
  setPort(port: number): number;
  setNeigh(af: number, isDefault: number, port: number): number;
  serviceLive(svc: number): number;
  destListed(dest: number): number;
  addService(): number;
  editService(svc: number): number;
  delService(svc: number): number;
  destListInto(svc: number): number;
  addDest(svc: number): number;
  editDest(dest: number): number;
  delDest(dest: number): number;
  destActiveConns(dest: number): number;
  destInactConns(dest: number): number;
  destPersistConns(dest: number): number;
  destFlags(dest: number): number;
  destAf(dest: number): number;
  destAddr(dest: number): number;
  destInfoInto(dest: number): number;
  setSchedSlots(svc: number, n: number): number;
  schedTableInto(svc: number): number;
  schedProbe(svc: number, n: number, seed: number): number;
  syncSetup(
    master: number,
    version: number,
    threshold: number,
    period: number,
    refreshMs: number,
    retries: number,
    persistMode: number,
  ): void;
  syncDrain(): number;
  syncConn(now: number): number;
}

interface RuntimeGlobals {
  Deno?: { readFile(path: URL): Promise<Uint8Array<ArrayBuffer>> };
  process?: { versions?: { node?: string } };
}

/** Reads the module bytes with whatever the runtime offers. */
export async function readModule(url: URL): Promise<ArrayBuffer | Uint8Array<ArrayBuffer>> {
  const g = globalThis as RuntimeGlobals;
  if (url.protocol === "file:") {
    if (g.Deno?.readFile) return await g.Deno.readFile(url);
    if (g.process?.versions?.node) {
      const fs = await import("node:fs/promises");
      return new Uint8Array(await fs.readFile(url));
    }
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`Cannot load ${url.href}: HTTP ${res.status}`);
  return await res.arrayBuffer();
}
