/**
 * WVS as a library: an IPVS-compatible layer-4 load balancer engine to embed in Deno, Node,
 * browsers and edge runtimes. Runtime-agnostic (no `Deno.*`, no `node:*`).
 *
 * - **Create an engine**: {@linkcode createEngine} gives the WebAssembly engine (`"wasm"`,
 *   default) or its pure-TypeScript twin (`"ts"`); both implement {@linkcode Engine} and give
 *   the same bytes for the same input.
 * - **Configure it**: {@linkcode applyRulesText} takes rules in ipvsadm-save format
 *   (`ipvsadm -S -n`); or call `engine.addService(spec)` / `engine.addDest(svc, spec)` with
 *   {@linkcode ServiceSpec} / {@linkcode DestSpec} (constants in {@linkcode abi}). A port
 *   (`setPort`) and next hops (`setNeigh`) tell it where to send frames.
 * - **Push frames, read frames and stats**: {@linkcode FrameIo} writes frames into the engine's
 *   RX slots and copies the transmitted ones out; {@linkcode namedCounters},
 *   `engine.svcStats(i)`, `engine.destStats(i)` and `engine.dumpConns()` read the state.
 * - **Replay a capture**: {@linkcode replay} runs a pcap through an engine under a rule set
 *   and returns the output pcap and a summary; {@linkcode explainReplay} also tells, per
 *   frame, the verdict, the real server chosen and the rewritten headers.
 *
 * The WASM module is loaded from `build/wvs.wasm` next to the library (the default), from
 * any URL, or from bytes (`createEngine({ wasm })`).
 *
 * @example Push a frame, read the result
 * ```ts
 * import { abi, applyRulesText, createEngine, decodeHeaders, FrameIo, namedCounters, parseMac } from "./mod.ts";
 *
 * const engine = await createEngine({ engine: "wasm" }); // or "ts"
 * engine.setPort(0, { mac: parseMac("02:00:00:00:00:fe")!, mtu: 1500 });
 * engine.setNeigh(abi.AF_INET, null, parseMac("02:00:00:00:00:01")!, 0); // default route
 * applyRulesText(engine, `
 * -A -t 198.18.100.1:80 -s rr
 * -a -t 198.18.100.1:80 -r 198.18.1.1:8080 -m -w 1
 * `);
 *
 * // A TCP SYN from 198.18.0.100:40000 to the virtual service 198.18.100.1:80.
 * const hex = "0200000000fe0200000000010800450000280001000040068a45c6120064c61264019c40" +
 *   "005000000001000000005002ffff22c70000";
 * const syn = Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16));
 *
 * const { verdicts, tx } = new FrameIo(engine).run([syn], 1_700_000_000_000_000);
 * const out = decodeHeaders(tx[0].bytes);
 * if (verdicts[0] !== abi.V_TX) throw new Error("not forwarded");
 * if (out.ip[0].dst !== "198.18.1.1" || out.l4?.dport !== 8080) throw new Error("not NATed");
 * if (namedCounters(engine).conn_new !== 1) throw new Error("no connection");
 * ```
 *
 * @example Replay a capture
 * ```ts
 * import { createEngine, formatSummary, parseMac, PcapWriter, readPcap, replay } from "./mod.ts";
 *
 * const hex = "0200000000fe0200000000010800450000280001000040068a45c6120064c61264019c40" +
 *   "005000000001000000005002ffff22c70000";
 * const capture = new PcapWriter();
 * capture.write(1_700_000_000_000_000, Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16)));
 *
 * const rules = "-A -t 198.18.100.1:80 -s rr\n-a -t 198.18.100.1:80 -r 198.18.1.1:8080 -m\n";
 * const { outPcap, summary } = replay(await createEngine(), rules, capture.bytes(), {
 *   defaultGw: parseMac("02:00:00:00:00:01")!,
 * });
 * if (readPcap(outPcap).records.length !== 1) throw new Error("nothing transmitted");
 * if (!formatSummary(summary).includes("198.18.1.1:8080")) throw new Error("no real server");
 * ```
 *
 * @module
 */

export {
  applyRulesText,
  createEngine,
  type CreateEngineOptions,
  DEFAULT_CONFIG,
  type EngineKind,
  namedCounters,
  WASM_DEBUG_URL,
  WASM_URL,
} from "./embed.ts";
export type {
  Af,
  ConnDump,
  DestCounts,
  DestSpec,
  Engine,
  EngineConfig,
  PortSpec,
  ServiceSpec,
  Stats,
} from "./engine/engine.ts";
/** The ABI constants: verdicts (V_*), reasons (R_*, REASON_NAMES), counters (C_*), AF_*,
 * SCHED_*, IP_VS_* flags, descriptor and layout offsets. */
export * as abi from "./engine/abi.gen.ts";
export { type BatchResult, FrameIo, type TxFrame } from "./engine/frames.ts";
export { createReferenceEngine } from "./engine/reference/reference_engine.ts";
export { formatIp, formatMac, parseIp, parseMac } from "./ctl/addr.ts";
export { applyModel, applyRules, engineLimits } from "./ctl/apply.ts";
export { IpvsError } from "./ctl/errors.ts";
export { IpvsModel, type ModelLimits } from "./ctl/model.ts";
export { parseRules, type Rule } from "./ctl/rules.ts";
export {
  type DestSummary,
  formatSummary,
  neighFromFrame,
  type NeighSpec,
  prepareReplay,
  replay,
  REPLAY_DEFAULTS,
  type ReplayBatch,
  type ReplayObserver,
  type ReplayOptions,
  type ReplayPlan,
  type ReplayResult,
  type ReplaySummary,
  runReplay,
  type ServiceSummary,
} from "./replay_core.ts";
export {
  decodeHeaders,
  explainReplay,
  type Explanation,
  type FrameConn,
  type FrameHeaders,
  type FrameVerdict,
  headerChanges,
  headersText,
  type IpHeader,
  type L4Header,
} from "./explain.ts";
export {
  LINKTYPE_ETHERNET,
  type PcapFile,
  type PcapHeader,
  type PcapRecord,
  PcapWriter,
  readPcap,
} from "./io/pcap.ts";
