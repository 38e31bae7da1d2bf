// WasmEngine: the AssemblyScript packet engine (build/wvs.wasm, from assembly/)
// behind the `Engine` interface. It instantiates the module with raw exports (no
// generated bindings), makes its typed-array views once after init (memory never
// grows afterwards), and turns the interface's objects into CTL mailbox records
// (assembly/abi.ts CTL_*) and back. Loads the module with Deno.readFile,
// node:fs/promises or fetch, so it runs in Deno, Node and browsers.
import {
  AF_INET,
  AF_INET6,
  C_COUNT,
  CN_AF,
  CN_CADDR,
  CN_CPORT,
  CN_DADDR,
  CN_DEST,
  CN_DPORT,
  CN_EXPIRES,
  CN_EXT,
  CN_FLAGS,
  CN_IN_PKTS,
  CN_PROTO,
  CN_STATE,
  CN_SVC,
  CN_TIMEOUT,
  CN_USED,
  CN_VADDR,
  CN_VPORT,
  CONN6_SIZE,
  CONN_SIZE,
  CTL_ADDR,
  CTL_ADDR2,
  CTL_AF,
  CTL_FLAGS,
  CTL_FWD,
  CTL_FWMARK,
  CTL_LTHRESH,
  CTL_MAC,
  CTL_MTU,
  CTL_NETMASK,
  CTL_PORT,
  CTL_PROTO,
  CTL_SCHED,
  CTL_SIZE,
  CTL_TIMEOUT,
  CTL_TUN_FLAGS,
  CTL_TUN_PORT,
  CTL_TUN_TYPE,
  CTL_UTHRESH,
  CTL_WEIGHT,
  EINVAL,
  ENOENT,
  ESRCH,
  L_BATCH,
  L_CONN6,
  L_CONNS,
  L_COUNTERS,
  L_CTL,
  L_DEST_STATS,
  L_MAX_CONNS,
  L_MAX_DESTS,
  L_MAX_SVCS,
  L_MH_SIZE,
  L_SCRATCH,
  L_SVC_STATS,
  L_WORDS,
  PORT_F_ADDR4,
  PORT_F_ADDR6,
  PORT_MAX,
  S_CONNS,
  S_IN_BYTES,
  S_IN_PKTS,
  S_OUT_BYTES,
  S_OUT_PKTS,
  SCHED_COUNT,
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
  SYS_COUNT,
  T_COUNT,
} from "../abi.gen.ts";
import type {
  Af,
  ConnDump,
  DestCounts,
  DestInfo,
  DestSpec,
  Engine,
  EngineConfig,
  PortSpec,
  ServiceSpec,
  Stats,
  SyncConnSpec,
  SyncParams,
  SyncSeqSpec,
} from "../engine.ts";
import { expireSlots } from "../engine.ts";

import { schedConfig } from "../sched_config.ts";
import {
  destFieldsOk,
  formatAddr,
  index,
  isAddr,
  isAf,
  isInt,
  isMac,
  isObject,
  serviceFieldsOk,
  sizeOf,
  STATS_BYTES,
  timeoutArg,
  U32_MAX,
} from "./_checks.ts";
import { readModule, type WvsExports } from "./_module.ts";

/** Options of createWasmEngine. */
export interface WasmEngineOptions {
  /** Load build/wvs.debug.wasm instead of the release build. */
  debug?: boolean;
  /** Load the module from this URL instead. */
  wasmUrl?: URL;
}

const RELEASE_URL = new URL("../../../build/wvs.wasm", import.meta.url);
const DEBUG_URL = new URL("../../../build/wvs.debug.wasm", import.meta.url);

/**
 * Instantiates the WASM engine and initialises it with `config`.
 * `maxConns6` defaults to `maxConns` (every entry may be IPv6) and is clamped to it.
 * Throws a RangeError for a size out of range (the limits of the reference engine).
 *
 * @param config sizes and hash seed
 * @param opts debug build or another module URL
 * @returns an Engine whose memory holds the descriptors and frame slots
 * @example
 * ```ts ignore
 * const engine = await createWasmEngine({ maxConns: 1024, maxServices: 16, maxDests: 64, batch: 32, seed: 1 });
 * ```
 */
export async function createWasmEngine(
  config: EngineConfig,
  opts: WasmEngineOptions = {},
): Promise<Engine> {
  const url = opts.wasmUrl ?? (opts.debug ? DEBUG_URL : RELEASE_URL);
  const bytes = await readModule(url);
  const imports = {
    env: {
      abort(_msg: number, _file: number, line: number, column: number): never {
        throw new Error(`wvs.wasm aborted at ${line}:${column}`);
      },
    },
  };
  const batch = sizeOf(config.batch, "batch", 1, 4096);
  const maxConns = sizeOf(config.maxConns, "maxConns", 1, 1 << 24);
  const maxConns6 = Math.min(
    sizeOf(config.maxConns6 ?? maxConns, "maxConns6", 0, 1 << 24),
    maxConns,
  );
  const maxServices = sizeOf(config.maxServices, "maxServices", 1, 1 << 16);
  const maxDests = sizeOf(config.maxDests, "maxDests", 1, 1 << 20);
  const seed = Number.isFinite(config.seed) ? config.seed >>> 0 : 0;
  const sc = schedConfig(config);
  const { instance } = await WebAssembly.instantiate(bytes, imports);
  const x = instance.exports as unknown as WvsExports;
  const rc = x.init(
    maxConns,
    maxConns6,
    maxServices,
    maxDests,
    batch,
    seed,
    sc.schedTables,
    sc.mhIndex,
    sc.lblcEntries,
    sc.lblcNodes,
    sc.schedSeed,
    sc.schedIndexes,
    sc.schedIndexMin,
  );
  if (rc !== 0) throw new RangeError(`Cannot initialise the wasm engine: init returned ${rc}`);
  return new WasmEngine(x);
}

/** The Engine over the raw exports. Construct through createWasmEngine. */
class WasmEngine implements Engine {
  readonly kind = "wasm" as const;
  readonly memory: ArrayBuffer;
  readonly layout: Uint32Array;
  #x: WvsExports;
  #u8: Uint8Array;
  #u32: Uint32Array;
  #dv: DataView;
  #ctl: number;

  constructor(x: WvsExports) {
    this.#x = x;
    // init() grew the memory once; these views stay valid from here on.
    this.memory = x.memory.buffer as ArrayBuffer;
    this.#u8 = new Uint8Array(this.memory);
    this.#u32 = new Uint32Array(this.memory);
    this.#dv = new DataView(this.memory);
    const at = x.layout() >>> 0;
    this.layout = new Uint32Array(this.memory, at, L_WORDS);
    this.#ctl = this.layout[L_CTL];
  }

  // ---- Mailbox --------------------------------------------------------------------

  #clearCtl(): void {
    this.#u8.fill(0, this.#ctl, this.#ctl + CTL_SIZE);
  }

  #put8(off: number, v: number): void {
    this.#dv.setUint8(this.#ctl + off, v & 0xff);
  }

  /** u16 in network byte order (ports, as on the wire). */
  #put16be(off: number, v: number): void {
    this.#dv.setUint16(this.#ctl + off, v & 0xffff, false);
  }

  #put16(off: number, v: number): void {
    this.#dv.setUint16(this.#ctl + off, v & 0xffff, true);
  }

  #put32(off: number, v: number): void {
    this.#dv.setUint32(this.#ctl + off, v >>> 0, true);
  }

  /** A sync record's sequence data (initial seq, delta, previous delta), zeros when absent. */
  #putSeq(off: number, q: SyncSeqSpec | undefined): void {
    this.#put32(off, q?.initSeq ?? 0);
    this.#put32(off + 4, q?.delta ?? 0);
    this.#put32(off + 8, q?.previousDelta ?? 0);
  }

  #putBytes(off: number, b: Uint8Array, max: number): void {
    this.#u8.set(b.subarray(0, max), this.#ctl + off);
  }

  /** A checked service spec; identity fields only when `identity` (add). */
  #putService(spec: ServiceSpec, identity: boolean): void {
    this.#clearCtl();
    this.#put8(CTL_SCHED, spec.sched);
    this.#put32(CTL_FLAGS, spec.flags);
    this.#put32(CTL_TIMEOUT, spec.timeout);
    this.#put32(CTL_NETMASK, spec.netmask);
    if (!identity) return;
    this.#put8(CTL_AF, spec.af);
    this.#put32(CTL_FWMARK, spec.fwmark);
    if (spec.fwmark === 0) {
      this.#put8(CTL_PROTO, spec.protocol);
      this.#put16be(CTL_PORT, spec.port);
      this.#putBytes(CTL_ADDR, spec.addr, spec.af === AF_INET ? 4 : 16);
    }
  }

  /** A checked dest spec; identity fields (af, addr, port) only when `identity` (add). */
  #putDest(spec: DestSpec, identity: boolean): void {
    this.#clearCtl();
    this.#put8(CTL_FWD, spec.fwd);
    this.#put32(CTL_WEIGHT, spec.weight | 0);
    this.#put32(CTL_UTHRESH, spec.uThreshold);
    this.#put32(CTL_LTHRESH, spec.lThreshold);
    this.#put8(CTL_TUN_TYPE, spec.tunType);
    this.#put16be(CTL_TUN_PORT, spec.tunPort);
    this.#put16(CTL_TUN_FLAGS, spec.tunFlags);
    if (!identity) return;
    this.#put8(CTL_AF, spec.af);
    this.#put16be(CTL_PORT, spec.port);
    this.#putBytes(CTL_ADDR, spec.addr, spec.af === AF_INET ? 4 : 16);
  }

  // ---- Control ----------------------------------------------------------------------

  setSysctl(index: number, value: number): void {
    if (isInt(index, 0, SYS_COUNT - 1)) this.#x.setSysctl(index, value | 0);
  }

  setTimeouts(tcp: number, tcpfin: number, udp: number): void {
    this.#x.setTimeouts(timeoutArg(tcp), timeoutArg(tcpfin), timeoutArg(udp));
  }

  timeouts(): number[] {
    const out: number[] = [];
    for (let s = 0; s < T_COUNT; s++) out.push(this.#x.getTimeout(s) >>> 0);
    return out;
  }

  setPort(port: number, spec: PortSpec): number {
    if (!isInt(port, 0, PORT_MAX - 1) || !isObject(spec)) return -EINVAL;
    const { mac, mtu, addr4, addr6 } = spec;
    if (!isMac(mac) || !isInt(mtu, 0, U32_MAX)) return -EINVAL;
    if (addr4 !== undefined && !isAddr(AF_INET, addr4)) return -EINVAL;
    if (addr6 !== undefined && !isAddr(AF_INET6, addr6)) return -EINVAL;
    this.#clearCtl();
    this.#putBytes(CTL_MAC, mac, 6);
    this.#put32(CTL_MTU, mtu);
    let has = 0;
    if (addr4) {
      has |= PORT_F_ADDR4;
      this.#putBytes(CTL_ADDR, addr4, 4);
    }
    if (addr6) {
      has |= PORT_F_ADDR6;
      this.#putBytes(CTL_ADDR2, addr6, 16);
    }
    this.#put32(CTL_FLAGS, has);
    return this.#x.setPort(port);
  }

  setNeigh(af: Af, addr: Uint8Array | null, mac: Uint8Array, port: number): number {
    if (!isAf(af) || !isMac(mac) || !isInt(port, 0, PORT_MAX - 1)) return -EINVAL;
    if (addr !== null && !isAddr(af, addr)) return -EINVAL;
    this.#clearCtl();
    if (addr) this.#putBytes(CTL_ADDR, addr, af === AF_INET ? 4 : 16);
    this.#putBytes(CTL_MAC, mac, 6);
    return this.#x.setNeigh(af, addr ? 0 : 1, port);
  }

  addService(spec: ServiceSpec): number {
    if (!isObject(spec) || !isAf(spec.af) || !serviceFieldsOk(spec)) return -EINVAL;
    if (!isInt(spec.fwmark, 0, U32_MAX)) return -EINVAL;
    if (spec.sched >= SCHED_COUNT) return -ENOENT;
    if (
      spec.fwmark === 0 &&
      (!isAddr(spec.af, spec.addr) || !isInt(spec.port, 0, 0xffff) ||
        !isInt(spec.protocol, 1, 0xff))
    ) return -EINVAL;
    this.#putService(spec, true);
    return this.#x.addService();
  }

  editService(svc: number, spec: ServiceSpec): number {
    const s = index(svc);
    if (!this.#x.serviceLive(s)) return -ESRCH;
    if (!isObject(spec) || !serviceFieldsOk(spec)) return -EINVAL;
    if (spec.sched >= SCHED_COUNT) return -ENOENT;
    this.#putService(spec, false);
    return this.#x.editService(s);
  }

  delService(svc: number): number {
    return this.#x.delService(index(svc));
  }

  addDest(svc: number, spec: DestSpec): number {
    const s = index(svc);
    if (!this.#x.serviceLive(s)) return -ESRCH;
    if (!isObject(spec) || !isAf(spec.af)) return -EINVAL;
    if (!isAddr(spec.af, spec.addr) || !isInt(spec.port, 0, 0xffff) || !destFieldsOk(spec)) {
      return -EINVAL;
    }
    // The engine checks the family against the service's, then weight and thresholds.
    this.#putDest(spec, true);
    return this.#x.addDest(s);
  }

  editDest(dest: number, spec: DestSpec): number {
    const d = index(dest);
    if (!this.#x.destListed(d)) return -ENOENT;
    if (!isObject(spec) || !destFieldsOk(spec)) return -EINVAL;
    this.#putDest(spec, false);
    return this.#x.editDest(d);
  }

  delDest(dest: number): number {
    return this.#x.delDest(index(dest));
  }

  destList(svc: number): number[] {
    const n = this.#x.destListInto(index(svc));
    const base = this.layout[L_SCRATCH] >>> 2;
    return n > 0 ? Array.from(this.#u32.subarray(base, base + n)) : [];
  }

  // ---- Data path --------------------------------------------------------------------

  processBatch(n: number, now: number): number {
    const batch = this.layout[L_BATCH];
    const count = n > batch ? batch : n > 0 ? Math.floor(n) : 0;
    return this.#x.processBatch(count, Number.isFinite(now) ? now : 0) >>> 0;
  }

  expire(now: number, budget = 0): number {
    const slots = expireSlots(budget);
    return this.#x.expire(Number.isFinite(now) ? now : 0, slots) >>> 0;
  }

  // ---- Introspection ----------------------------------------------------------------

  /** A u64 at byte offset `off` as a number (exact below 2^53). */
  #u64(off: number): number {
    const i = off >>> 2;
    return this.#u32[i] + this.#u32[i + 1] * 0x1_0000_0000;
  }

  counters(): number[] {
    const base = this.layout[L_COUNTERS];
    const out: number[] = [];
    for (let c = 0; c < C_COUNT; c++) out.push(this.#u64(base + c * 8));
    return out;
  }

  #stats(base: number, index: number, max: number): Stats {
    if (!isInt(index, 0, max - 1)) {
      return { conns: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0 };
    }
    const p = base + index * STATS_BYTES;
    return {
      conns: this.#u64(p + S_CONNS * 8),
      inPkts: this.#u64(p + S_IN_PKTS * 8),
      outPkts: this.#u64(p + S_OUT_PKTS * 8),
      inBytes: this.#u64(p + S_IN_BYTES * 8),
      outBytes: this.#u64(p + S_OUT_BYTES * 8),
    };
  }

  svcStats(svc: number): Stats {
    return this.#stats(this.layout[L_SVC_STATS], svc, this.layout[L_MAX_SVCS]);
  }

  destStats(dest: number): Stats {
    return this.#stats(this.layout[L_DEST_STATS], dest, this.layout[L_MAX_DESTS]);
  }

  destCounts(dest: number): DestCounts {
    const x = this.#x;
    if (!isInt(dest, 0, this.layout[L_MAX_DESTS] - 1)) {
      return { activeConns: 0, inactConns: 0, persistConns: 0, flags: 0 };
    }
    return {
      activeConns: x.destActiveConns(dest) >>> 0,
      inactConns: x.destInactConns(dest) >>> 0,
      persistConns: x.destPersistConns(dest) >>> 0,
      flags: x.destFlags(dest) >>> 0,
    };
  }

  // ---- Scheduler tables (host/ctl/tables.ts computes them) -------------------------

  setSchedSlots(svc: number, changes: ArrayLike<number>): number {
    const s = index(svc);
    if (!this.#x.serviceLive(s)) return -ESRCH;
    const n = changes.length >>> 1;
    if (changes.length % 2 !== 0 || n > Math.max(this.layout[L_MH_SIZE], 256)) return -EINVAL;
    const base = this.layout[L_SCRATCH] >>> 2;
    for (let i = 0; i < 2 * n; i++) {
      const v = changes[i];
      if (!isInt(v, -1, U32_MAX)) return -EINVAL;
      this.#u32[base + i] = v >>> 0;
    }
    return this.#x.setSchedSlots(s, n);
  }

  schedTable(svc: number): Int32Array {
    const n = this.#x.schedTableInto(index(svc));
    const base = this.layout[L_SCRATCH] >>> 2;
    return n > 0
      ? Int32Array.from(this.#u32.subarray(base, base + n), (v) => v | 0)
      : new Int32Array(0);
  }

  destInfo(dest: number): DestInfo | null {
    if (this.#x.destInfoInto(index(dest)) < 0) return null;
    const p = this.layout[L_SCRATCH];
    const dv = this.#dv;
    const af = dv.getUint32(p + 4, true) as Af;
    return {
      svc: dv.getUint32(p, true),
      af,
      addr: this.#u8.slice(p + 24, p + 24 + (af === AF_INET ? 4 : 16)),
      port: dv.getUint32(p + 8, true),
      weight: dv.getInt32(p + 12, true),
      lastWeight: dv.getInt32(p + 16, true),
      flags: dv.getUint32(p + 20, true),
    };
  }

  schedProbe(svc: number, n: number, seed: number): number {
    if (!isInt(n, 0, U32_MAX)) return -1;
    return this.#x.schedProbe(index(svc), n, seed >>> 0) | 0;
  }

  dumpConns(): ConnDump[] {
    const out: ConnDump[] = [];
    const conns = this.layout[L_CONNS];
    const conn6 = this.layout[L_CONN6];
    const max = this.layout[L_MAX_CONNS];
    const dv = this.#dv;
    for (let slot = 0; slot < max; slot++) {
      const e = conns + slot * CONN_SIZE;
      if (this.#u8[e + CN_USED] === 0) continue;
      const af = this.#u8[e + CN_AF] as Af;
      const dest = dv.getUint32(e + CN_DEST, true);
      let caddr: string, vaddr: string, daddr: string;
      if (af === AF_INET) {
        caddr = formatAddr(af, this.#u8, e + CN_CADDR);
        vaddr = formatAddr(af, this.#u8, e + CN_VADDR);
        daddr = formatAddr(af, this.#u8, e + CN_DADDR);
      } else {
        const x = conn6 + dv.getUint32(e + CN_EXT, true) * CONN6_SIZE;
        caddr = formatAddr(af, this.#u8, x);
        vaddr = formatAddr(af, this.#u8, x + 16);
        daddr = formatAddr(af, this.#u8, x + 32);
      }
      // A tunnel dest may be of the other family: show its own address then.
      const destAf = this.#x.destAf(dest);
      if (destAf !== 0 && destAf !== af) {
        daddr = formatAddr(destAf as Af, this.#u8, this.#x.destAddr(dest) >>> 0);
      }
      out.push({
        index: slot,
        af,
        protocol: this.#u8[e + CN_PROTO],
        caddr,
        cport: dv.getUint16(e + CN_CPORT, false),
        vaddr,
        vport: dv.getUint16(e + CN_VPORT, false),
        daddr,
        dport: dv.getUint16(e + CN_DPORT, false),
        state: this.#u8[e + CN_STATE],
        flags: dv.getUint32(e + CN_FLAGS, true),
        expires: dv.getUint32(e + CN_EXPIRES, true),
        timeout: dv.getUint32(e + CN_TIMEOUT, true),
        dest,
        svc: dv.getUint32(e + CN_SVC, true),
        inPkts: dv.getUint32(e + CN_IN_PKTS, true),
      });
    }
    return out;
  }

  // ---- Connection sync ----------------------------------------------------------------

  setSync(p: SyncParams): void {
    const u = (v: number) => (isInt(v, 0, U32_MAX) ? v : 0);
    this.#x.syncSetup(
      p.master ? 1 : 0,
      p.version === 0 ? 0 : 1,
      u(p.threshold),
      u(p.period),
      u(Math.floor(p.refreshPeriod * 1000)),
      u(p.retries),
      u(p.persistMode),
    );
  }

  syncDrain(): number {
    return this.#x.syncDrain() >>> 0;
  }

  syncConn(c: SyncConnSpec, now: number): number {
    if (!isAf(c.af) || !isAddr(c.af, c.caddr) || !isAddr(c.af, c.vaddr) || !isAddr(c.af, c.daddr)) {
      return -EINVAL;
    }
    this.#clearCtl();
    this.#put8(SR_AF, c.af);
    this.#put8(SR_PROTO, c.protocol);
    this.#put16(SR_STATE, isInt(c.state, 0, 0xffff) ? c.state : 0xffff);
    this.#put32(SR_FLAGS, c.flags);
    this.#put16be(SR_CPORT, c.cport);
    this.#put16be(SR_VPORT, c.vport);
    this.#put16be(SR_DPORT, c.dport);
    this.#put32(SR_FWMARK, c.fwmark);
    this.#put32(SR_TIMEOUT, c.timeout);
    this.#putBytes(SR_CADDR, c.caddr, 16);
    this.#putBytes(SR_VADDR, c.vaddr, 16);
    this.#putBytes(SR_DADDR, c.daddr, 16);
    if (c.inSeq || c.outSeq) {
      this.#put8(SR_OPTS, SR_OPT_SEQ);
      this.#putSeq(SR_IN_SEQ, c.inSeq);
      this.#putSeq(SR_OUT_SEQ, c.outSeq);
    }
    return this.#x.syncConn(Number.isFinite(now) ? now : 0) | 0;
  }
}
