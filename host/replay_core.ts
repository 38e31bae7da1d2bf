// The `replay` feature without its CLI: rules (ipvsadm-save text) + capture (classic pcap) in,
// the frames the engine transmits (pcap) and a summary out. Runtime-agnostic.
// Follows issue 2 item 8: each frame's capture timestamp is the clock, output frames carry
// the timestamp of the RX frame that produced them, next hops come from options or are
// learnt from ARP (and IPv6 neighbour discovery) frames in the input.
// Invariants: all input is validated before the engine is touched; frames are fed in file
// order, a batch never spans two timestamps, and a neighbour frame ends its batch, so that
// what is learnt from it applies to the very next frame, as on a live director.

import {
  AF_INET,
  AF_INET6,
  C_REASON_BASE,
  COUNTER_NAMES,
  REASON_NAMES,
  V_PASS,
} from "./engine/abi.gen.ts";
import type { Af, DestCounts, Engine, Stats } from "./engine/engine.ts";
import { FrameIo } from "./engine/frames.ts";
import { formatIp, formatMac } from "./ctl/addr.ts";
import { applyModel, engineLimits } from "./ctl/apply.ts";
import {
  destName,
  largeNumber,
  LIST_HEADER,
  listDestRow,
  serviceName,
  STATS_HEADER,
} from "./ctl/format.ts";
import { IpvsModel, type ModelLimits } from "./ctl/model.ts";
import { parseRules } from "./ctl/rules.ts";
import { LINKTYPE_ETHERNET, type PcapRecord, PcapWriter, readPcap } from "./io/pcap.ts";
import { markOf, type MarkRule } from "./fwmark.ts";

/** Defaults of the replay command. */
export const REPLAY_DEFAULTS = {
  /** Locally administered MAC of director port 0. */
  mac: Uint8Array.of(0x02, 0, 0, 0, 0, 0xfe),
  mtu: 1500,
  batch: 64,
} as const;

/** A static next hop: `addr` is reached at `mac` (through port 0). */
export interface NeighSpec {
  af: Af;
  addr: Uint8Array;
  mac: Uint8Array;
}

/** Options of a replay; every field is optional. */
export interface ReplayOptions {
  /** MAC of director port 0 (default 02:00:00:00:00:fe). */
  mac?: Uint8Array;
  /** MTU of port 0 (default 1500). */
  mtu?: number;
  /** IPv4 source address of port 0 for TUN outer headers. */
  portAddr4?: Uint8Array;
  /** IPv6 source address of port 0 for TUN outer headers. */
  portAddr6?: Uint8Array;
  /** Static neighbours, set before the first frame. */
  neigh?: NeighSpec[];
  /** MAC of the default gateway of both families (used when no neighbour matches). */
  defaultGw?: Uint8Array;
  /** Frames per batch at most (default 64, never more than the engine's batch). */
  batch?: number;
  /** Learn neighbours from ARP / neighbour-discovery frames in the input (default true). */
  learn?: boolean;
  /** Firewall-mark rules applied to every input frame (fwmark services); none by default. */
  marks?: MarkRule[];
  /**
   * The engine's timers: `expire(now)` runs when the capture clock has advanced this many
   * microseconds since the last run (default 1e6; 0 = never), so idle entries and
   * persistence templates expire as on a live director.
   */
  expireEvery?: number;
}

/** Validated input, ready to run on an engine. */
export interface ReplayPlan {
  model: IpvsModel;
  records: PcapRecord[];
  options:
    & Required<Omit<ReplayOptions, "portAddr4" | "portAddr6" | "defaultGw">>
    & Pick<ReplayOptions, "portAddr4" | "portAddr6" | "defaultGw">;
}

/** One real server in the summary. */
export interface DestSummary {
  index: number;
  addr: Uint8Array;
  port: number;
  fwd: number;
  weight: number;
  stats: Stats;
  counts: DestCounts;
}

/** One virtual service in the summary. */
export interface ServiceSummary {
  index: number;
  label: string;
  protocol: number;
  addr: Uint8Array;
  port: number;
  fwmark: number;
  sched: string;
  stats: Stats;
  /** In IPVS list order (newest first). */
  dests: DestSummary[];
}

/** What a replay did. */
export interface ReplaySummary {
  engine: "wasm" | "ts";
  frames: number;
  batches: number;
  txFrames: number;
  /** Neighbours learnt from the capture (each ARP/ND frame that taught one). */
  learnt: number;
  /** Learnt neighbours the engine refused (its neighbour table is full). */
  learnRefused: number;
  /** Non-zero global counters, by name, in counter order. */
  counters: { name: string; value: number }[];
  services: ServiceSummary[];
}

/** Result of {@linkcode replay}. */
export interface ReplayResult {
  outPcap: Uint8Array;
  summary: ReplaySummary;
}

function badOption(what: string): never {
  throw new RangeError(`Cannot replay: ${what}`);
}

/**
 * Parses and validates everything a replay needs, without an engine.
 *
 * @param rulesText rules in ipvsadm-save format (`ipvsadm -S -n`)
 * @param pcapBytes a classic pcap file with Ethernet frames
 * @param options replay options
 * @param limits the capacities of the engine that will run it
 * @returns the plan
 * @throws IpvsError for a bad rule (message "line N: ..."); Error "Cannot read pcap: ..." for
 *   a bad capture; RangeError "Cannot replay: ..." for a bad option
 */
export function prepareReplay(
  rulesText: string,
  pcapBytes: Uint8Array,
  options: ReplayOptions = {},
  limits: ModelLimits = {},
): ReplayPlan {
  const model = IpvsModel.fromRules(parseRules(rulesText), limits);
  const { header, records } = readPcap(pcapBytes);
  if (header.linkType !== LINKTYPE_ETHERNET) {
    throw new Error(
      `Cannot read pcap: link type ${header.linkType} is not Ethernet (${LINKTYPE_ETHERNET})`,
    );
  }
  const mtu = options.mtu ?? REPLAY_DEFAULTS.mtu;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    badOption(`MTU ${mtu} is not in 68..65535`);
  }
  const batch = options.batch ?? REPLAY_DEFAULTS.batch;
  if (!Number.isInteger(batch) || batch < 1) badOption(`batch ${batch} is not a positive integer`);
  const mac = options.mac ?? REPLAY_DEFAULTS.mac.slice();
  if (mac.length !== 6) badOption("the port MAC must be 6 bytes");
  if (options.portAddr4 && options.portAddr4.length !== 4) {
    badOption("the IPv4 port address must be 4 bytes");
  }
  if (options.portAddr6 && options.portAddr6.length !== 16) {
    badOption("the IPv6 port address must be 16 bytes");
  }
  for (const m of options.marks ?? []) {
    if (
      (m.daddr.length !== 4 && m.daddr.length !== 16) || !Number.isInteger(m.mark) || m.mark <= 0
    ) {
      badOption("malformed mark rule");
    }
  }
  const expireEvery = options.expireEvery ?? 1_000_000;
  if (!Number.isFinite(expireEvery) || expireEvery < 0) {
    badOption(`expireEvery ${expireEvery} is not a non-negative number`);
  }
  for (const n of options.neigh ?? []) {
    if (n.addr.length !== (n.af === AF_INET ? 4 : 16) || n.mac.length !== 6) {
      badOption("malformed neighbour");
    }
  }
  return {
    model,
    records,
    options: {
      mac,
      mtu,
      batch,
      neigh: options.neigh ?? [],
      learn: options.learn ?? true,
      marks: options.marks ?? [],
      expireEvery: options.expireEvery ?? 1_000_000,
      portAddr4: options.portAddr4,
      portAddr6: options.portAddr6,
      defaultGw: options.defaultGw,
    },
  };
}

// ---------------------------------------------------------------------------------------
// Neighbours from the capture.

const ETH_P_IP = 0x0800;
const ETH_P_ARP = 0x0806;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_8021Q = 0x8100;
const IPPROTO_ICMPV6 = 58;
const ND_NEIGHBOR_SOLICIT = 135;
const ND_NEIGHBOR_ADVERT = 136;
const ND_OPT_SOURCE_LL = 1;
const ND_OPT_TARGET_LL = 2;

/** Ethertype and L3 offset, looking through one 802.1Q tag (as the engine does). */
function l3Of(f: Uint8Array): { type: number; l3: number } | null {
  if (f.length < 14) return null;
  const type = (f[12] << 8) | f[13];
  if (type !== ETH_P_8021Q) return { type, l3: 14 };
  if (f.length < 18) return null;
  return { type: (f[16] << 8) | f[17], l3: 18 };
}

/** True for frames that may teach a neighbour (they end their batch). */
function isNeighFrame(f: Uint8Array): boolean {
  const e = l3Of(f);
  if (!e) return false;
  if (e.type === ETH_P_ARP) return true;
  if (e.type !== ETH_P_IPV6 || f.length < e.l3 + 41) return false;
  const t = f[e.l3 + 40];
  return f[e.l3 + 6] === IPPROTO_ICMPV6 && (t === ND_NEIGHBOR_SOLICIT || t === ND_NEIGHBOR_ADVERT);
}

function unicastMac(m: Uint8Array): boolean {
  return (m[0] & 1) === 0 && m.some((b) => b !== 0);
}

/**
 * The neighbour an ARP or IPv6 neighbour-discovery frame announces, if any.
 * ARP (RFC 826): request or reply over Ethernet/IPv4 → sender IP at sender MAC (probes
 * from 0.0.0.0 teach nothing). ND (RFC 4861 §4.3, §4.4, hop limit 255 as §7.1.1 requires):
 * a solicitation with a source link-layer option → source address at that MAC; an
 * advertisement with a target link-layer option → target address at that MAC.
 *
 * @param f an Ethernet frame
 * @returns the neighbour, or null
 */
export function neighFromFrame(f: Uint8Array): NeighSpec | null {
  const e = l3Of(f);
  if (!e) return null;
  const p = e.l3;
  if (e.type === ETH_P_ARP) {
    if (f.length < p + 28) return null;
    const htype = (f[p] << 8) | f[p + 1], ptype = (f[p + 2] << 8) | f[p + 3];
    const op = (f[p + 6] << 8) | f[p + 7];
    if (
      htype !== 1 || ptype !== ETH_P_IP || f[p + 4] !== 6 || f[p + 5] !== 4 ||
      (op !== 1 && op !== 2)
    ) return null;
    const mac = f.slice(p + 8, p + 14), addr = f.slice(p + 14, p + 18);
    if (!unicastMac(mac) || addr.every((b) => b === 0)) return null;
    return { af: AF_INET, addr, mac };
  }
  if (e.type !== ETH_P_IPV6 || f.length < p + 40 + 24) return null;
  if (f[p + 6] !== IPPROTO_ICMPV6 || f[p + 7] !== 255) return null;
  const end = Math.min(f.length, p + 40 + ((f[p + 4] << 8) | f[p + 5]));
  const icmp = p + 40;
  const type = f[icmp];
  if (f[icmp + 1] !== 0 || (type !== ND_NEIGHBOR_SOLICIT && type !== ND_NEIGHBOR_ADVERT)) {
    return null;
  }
  const addr = type === ND_NEIGHBOR_SOLICIT ? f.slice(p + 8, p + 24) : f.slice(icmp + 8, icmp + 24);
  if (addr.every((b) => b === 0)) return null; // duplicate address detection
  const want = type === ND_NEIGHBOR_SOLICIT ? ND_OPT_SOURCE_LL : ND_OPT_TARGET_LL;
  for (let o = icmp + 24; o + 8 <= end;) {
    const len = f[o + 1] * 8;
    if (len === 0) return null; // RFC 4861 §4.6: a zero length is invalid
    if (f[o] === want && len >= 8) {
      const mac = f.slice(o + 2, o + 8);
      return unicastMac(mac) ? { af: AF_INET6, addr, mac } : null;
    }
    o += len;
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// Running.

function check(what: string, r: number): void {
  if (r < 0) throw new Error(`Cannot replay: the engine refused ${what} (errno ${-r})`);
}

/**
 * One engine call of a replay, as an observer of {@linkcode runReplay} sees it. The views of
 * `io` (verdicts, reasons, TX frames) are valid only during the call.
 */
export interface ReplayBatch {
  /** Index in the capture of the batch's first frame (RX descriptor 0). */
  start: number;
  /** Frames in the batch (RX descriptors [0, n)). */
  n: number;
  /** The clock of the batch, µs (the frames' capture time). */
  now: number;
  /** TX descriptors written (their `rx` is relative to `start`). */
  nTx: number;
  engine: Engine;
  io: FrameIo;
}

/** Called after each batch, before neighbours are learnt from it. */
export type ReplayObserver = (batch: ReplayBatch) => void;

/**
 * Configures port 0, neighbours and rules on `engine`, then runs the capture through it.
 *
 * @param engine a fresh engine
 * @param plan from {@linkcode prepareReplay}
 * @param observe called after every batch (per-frame traces: host/explain.ts)
 * @returns the output capture and the summary
 */
export function runReplay(
  engine: Engine,
  plan: ReplayPlan,
  observe?: ReplayObserver,
): ReplayResult {
  const o = plan.options;
  check(
    "port 0",
    engine.setPort(0, { mac: o.mac, mtu: o.mtu, addr4: o.portAddr4, addr6: o.portAddr6 }),
  );
  if (o.defaultGw) {
    check("the IPv4 default route", engine.setNeigh(AF_INET, null, o.defaultGw, 0));
    check("the IPv6 default route", engine.setNeigh(AF_INET6, null, o.defaultGw, 0));
  }
  for (const n of o.neigh) {
    check(
      `neighbour ${formatIp(n.addr)} at ${formatMac(n.mac)}`,
      engine.setNeigh(n.af, n.addr, n.mac, 0),
    );
  }
  applyModel(engine, plan.model);

  const io = new FrameIo(engine);
  const batchMax = Math.min(o.batch, io.batch);
  const records = plan.records;
  const out = new PcapWriter();
  let batches = 0, learnt = 0, learnRefused = 0, txFrames = 0;
  let lastExpire = records.length > 0 ? records[0].tsMicros : 0;
  for (let i = 0; i < records.length;) {
    const start = i;
    const now = records[i].tsMicros;
    let n = 0;
    while (i < records.length && n < batchMax && records[i].tsMicros === now) {
      const f = records[i].data;
      io.put(n++, f, 0, markOf(o.marks, f));
      i++;
      if (o.learn && isNeighFrame(f)) break;
    }
    if (o.expireEvery > 0 && now - lastExpire >= o.expireEvery) {
      engine.expire(now);
      lastExpire = now;
    }
    const nTx = engine.processBatch(n, now);
    batches++;
    for (let t = 0; t < nTx; t++) {
      out.write(records[start + io.txRx(t)].tsMicros, io.txView(t));
    }
    txFrames += nTx;
    observe?.({ start, n, now, nTx, engine, io });
    if (o.learn) {
      // The engine passes ARP (not_ip) and ICMPv6 (not_l4) up to the host stack; the
      // host is where neighbours are learnt.
      for (let j = 0; j < n; j++) {
        if (io.verdict(j) !== V_PASS) continue;
        const nb = neighFromFrame(records[start + j].data);
        if (!nb) continue;
        if (engine.setNeigh(nb.af, nb.addr, nb.mac, 0) < 0) learnRefused++;
        else learnt++;
      }
    }
  }

  const c = engine.counters();
  const counters: { name: string; value: number }[] = [];
  COUNTER_NAMES.forEach((name, i) => {
    if (c[i]) counters.push({ name, value: c[i] });
  });
  REASON_NAMES.forEach((name, r) => {
    const v = c[C_REASON_BASE + r];
    if (v) counters.push({ name, value: v });
  });
  const services: ServiceSummary[] = plan.model.services.map((s) => {
    const byIndex = new Map(s.dests.map((d) => [d.index, d]));
    return {
      index: s.index,
      label: s.label,
      protocol: s.spec.protocol,
      addr: s.spec.addr,
      port: s.spec.port,
      fwmark: s.spec.fwmark,
      sched: s.schedName,
      stats: engine.svcStats(s.index),
      dests: engine.destList(s.index).map((di) => {
        const d = byIndex.get(di);
        return {
          index: di,
          addr: d?.spec.addr ?? new Uint8Array(4),
          port: d?.spec.port ?? 0,
          fwd: d?.spec.fwd ?? 0,
          weight: d?.spec.weight ?? 0,
          stats: engine.destStats(di),
          counts: engine.destCounts(di),
        };
      }),
    };
  });
  return {
    outPcap: out.bytes(),
    summary: {
      engine: engine.kind,
      frames: records.length,
      batches,
      txFrames,
      learnt,
      learnRefused,
      counters,
      services,
    },
  };
}

/**
 * Replays a capture through an engine under a rule set.
 *
 * @param engine a fresh engine (port 0 and the rules are set up here)
 * @param rulesText rules in ipvsadm-save format
 * @param pcapBytes a classic pcap file with Ethernet frames
 * @param options replay options
 * @param observe called after every batch (see {@linkcode runReplay})
 * @returns the output capture (every transmitted frame, stamped with its RX frame's time)
 *   and a summary
 * @throws like {@linkcode prepareReplay}, before the engine is touched
 */
export function replay(
  engine: Engine,
  rulesText: string,
  pcapBytes: Uint8Array,
  options: ReplayOptions = {},
  observe?: ReplayObserver,
): ReplayResult {
  const plan = prepareReplay(rulesText, pcapBytes, options, engineLimits(engine));
  return runReplay(engine, plan, observe);
}

// ---------------------------------------------------------------------------------------
// Summary text.

function statsRow(head: string, s: Stats): string {
  return head +
    [s.conns, s.inPkts, s.outPkts, s.inBytes, s.outBytes].map((x) => largeNumber(x, true)).join("");
}

/**
 * The summary as text: totals, non-zero counters, then the service table twice, as
 * `ipvsadm -L -n` and `ipvsadm -L -n --stats --exact` print it.
 *
 * @param s a summary
 * @returns printable text ending in a newline
 */
export function formatSummary(s: ReplaySummary): string {
  const lines: string[] = [];
  lines.push(
    `replay (${s.engine} engine): ${s.frames} frames in ${s.batches} batches, ${s.txFrames} transmitted, ` +
      `${s.learnt} neighbours learnt${
        s.learnRefused ? ` (${s.learnRefused} refused: table full)` : ""
      }`,
  );
  lines.push("");
  lines.push("Counters:");
  const width = Math.max(0, ...s.counters.map((c) => c.name.length));
  for (const c of s.counters) {
    lines.push(`  ${c.name.padEnd(width)} ${String(c.value).padStart(12)}`);
  }
  if (s.services.length) {
    lines.push("");
    lines.push(LIST_HEADER);
    for (const svc of s.services) {
      lines.push(`${serviceName(svc.protocol, svc.addr, svc.port, svc.fwmark)} ${svc.sched}`);
      for (const d of svc.dests) {
        lines.push(
          listDestRow(
            destName(d.addr, d.port),
            d.fwd,
            d.weight,
            d.counts.activeConns,
            d.counts.inactConns,
          ),
        );
      }
    }
    lines.push("");
    lines.push(STATS_HEADER);
    for (const svc of s.services) {
      lines.push(
        statsRow(serviceName(svc.protocol, svc.addr, svc.port, svc.fwmark).padEnd(33), svc.stats),
      );
      for (const d of svc.dests) lines.push(statsRow("  -> " + destName(d.addr, d.port), d.stats));
    }
  }
  return lines.join("\n") + "\n";
}
