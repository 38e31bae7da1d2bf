// What the balancer would do with each frame of a capture: a replay (replay_core.ts) that also
// reports, per captured frame, the verdict and reason, the connection's real server and
// forwarding method, and the headers before and after the rewrite. Runtime-agnostic; it
// backs the web page (web/) and is part of the library (mod.ts).
// Invariants: the output capture is the one `replay` writes, byte for byte (the same loop,
// observed); connection details are read with `dumpConns()` after each batch that
// transmitted or dropped, and matched to frames by their 5-tuple, in or out direction.

import {
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_LOCALNODE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  R_DEST_UNAVAILABLE,
  R_MTU_EXCEEDED,
  R_NO_NEIGH,
  R_NO_TUN_SRC,
  R_TTL_EXCEEDED,
  REASON_NAMES,
  TCP_STATE_NAMES,
  V_DROP,
  V_PASS,
  V_TX,
} from "./engine/abi.gen.ts";
import type { ConnDump, Engine } from "./engine/engine.ts";
import { formatIp, formatMac, parseIp } from "./ctl/addr.ts";
import { engineLimits } from "./ctl/apply.ts";
import {
  prepareReplay,
  type ReplayBatch,
  type ReplayOptions,
  type ReplayResult,
  runReplay,
} from "./replay_core.ts";

/** One IP header. Addresses as text (dotted quad, compressed IPv6). */
export interface IpHeader {
  /** 4 or 6. */
  version: 4 | 6;
  /** Source address. */
  src: string;
  /** Destination address. */
  dst: string;
  /** TTL or hop limit. */
  ttl: number;
  /** Protocol or (last) next header. */
  protocol: number;
}

/** A TCP or UDP header. */
export interface L4Header {
  /** "tcp" or "udp". */
  protocol: "tcp" | "udp";
  /** Source port. */
  sport: number;
  /** Destination port. */
  dport: number;
  /** TCP flags, tcpdump style ("S", "S.", "P.", "F.", "R"); absent for UDP. */
  flags?: string;
}

/** The headers of an Ethernet frame, as far as they parse. */
export interface FrameHeaders {
  /** Source MAC ("" for a runt frame). */
  ethSrc: string;
  /** Destination MAC ("" for a runt frame). */
  ethDst: string;
  /** 802.1Q VLAN id, when tagged. */
  vlan?: number;
  /** Ethertype (after the VLAN tag). */
  ethType: number;
  /** IP headers, outermost first: two after IPIP or IPv6-in-IPv6 encapsulation. */
  ip: IpHeader[];
  /** TCP or UDP header of the innermost IP packet, when it parses. */
  l4?: L4Header;
}

/** The connection a frame belongs to, after its batch. */
export interface FrameConn {
  /** "in": client to virtual service; "out": real server back to the client (NAT). */
  direction: "in" | "out";
  /** The real server, "addr:port" ("[addr]:port" for IPv6). */
  dest: string;
  /** Forwarding method: masq (NAT), route (DR), tunnel (TUN), local. */
  fwd: "masq" | "route" | "tunnel" | "local";
  /** The virtual service, as its label ("198.18.0.1:80/tcp"). */
  service: string;
  /** TCP state name ("" for UDP). */
  state: string;
}

/** What happened to one captured frame. */
export interface FrameVerdict {
  /** Position in the capture (0-based). */
  index: number;
  /** Capture time, µs since the epoch. */
  time: number;
  /** Captured length, bytes. */
  length: number;
  /** TX (forwarded), DROP or PASS (left to the host's own stack). */
  verdict: "tx" | "drop" | "pass";
  /** Drop or pass reason ("" for tx), as the counters name it. */
  reason: string;
  /** The received frame's headers. */
  in: FrameHeaders;
  /** Frames transmitted for it (zero or one today), with the egress port. */
  out: { port: number; length: number; headers: FrameHeaders }[];
  /** The connection it belongs to (TX frames, and drops after the connection lookup). */
  conn?: FrameConn;
  /** The rewrite, one change per entry ("dst 198.18.0.1:80 → 198.18.1.1:8080"). */
  changes: string[];
}

/** The replay's result plus one {@linkcode FrameVerdict} per captured frame. */
export interface Explanation extends ReplayResult {
  /** One per captured frame, in capture order. */
  frames: FrameVerdict[];
}

// ---------------------------------------------------------------------------------------
// Header decoding (no checksum checks: the engine's verdict already says what it thought).

const TCP_FLAG_LETTERS: [number, string][] = [
  [0x02, "S"],
  [0x01, "F"],
  [0x04, "R"],
  [0x08, "P"],
  [0x20, "U"],
  [0x40, "E"],
  [0x80, "W"],
  [0x10, "."],
];

function tcpFlags(b: number): string {
  let s = "";
  for (const [bit, letter] of TCP_FLAG_LETTERS) if (b & bit) s += letter;
  return s || "none";
}

/** IPv6 extension headers walked as the engine walks them (hop-by-hop, routing, dest opts). */
const IP6_EXT = new Set([0, 43, 60]);

function parseIpAt(f: Uint8Array, at: number, h: FrameHeaders, depth: number): void {
  if (at >= f.length) return;
  const version = f[at] >> 4;
  let proto: number, l4: number, end: number;
  if (version === 4) {
    const ihl = (f[at] & 15) * 4;
    if (ihl < 20 || at + ihl > f.length) return;
    proto = f[at + 9];
    h.ip.push({
      version: 4,
      src: formatIp(f.subarray(at + 12, at + 16)),
      dst: formatIp(f.subarray(at + 16, at + 20)),
      ttl: f[at + 8],
      protocol: proto,
    });
    l4 = at + ihl;
    end = Math.min(f.length, at + ((f[at + 2] << 8) | f[at + 3]));
    if ((((f[at + 6] & 0x1f) << 8) | f[at + 7]) !== 0) return; // a non-first fragment
  } else if (version === 6) {
    if (at + 40 > f.length) return;
    proto = f[at + 6];
    end = Math.min(f.length, at + 40 + ((f[at + 4] << 8) | f[at + 5]));
    l4 = at + 40;
    for (let n = 0; IP6_EXT.has(proto) && n < 8 && l4 + 8 <= end; n++) {
      proto = f[l4];
      l4 += (f[l4 + 1] + 1) * 8;
    }
    h.ip.push({
      version: 6,
      src: formatIp(f.subarray(at + 8, at + 24)),
      dst: formatIp(f.subarray(at + 24, at + 40)),
      ttl: f[at + 7],
      protocol: proto,
    });
  } else {
    return;
  }
  if ((proto === 4 || proto === 41) && depth === 0) return parseIpAt(f, l4, h, 1);
  if (proto === 6 && l4 + 20 <= end) {
    h.l4 = {
      protocol: "tcp",
      sport: (f[l4] << 8) | f[l4 + 1],
      dport: (f[l4 + 2] << 8) | f[l4 + 3],
      flags: tcpFlags(f[l4 + 13]),
    };
  } else if (proto === 17 && l4 + 8 <= end) {
    h.l4 = {
      protocol: "udp",
      sport: (f[l4] << 8) | f[l4 + 1],
      dport: (f[l4 + 2] << 8) | f[l4 + 3],
    };
  }
}

/**
 * Decodes the headers of an Ethernet frame: MACs, one 802.1Q tag, IPv4 or IPv6 (and one
 * level of IP-in-IP), TCP or UDP ports and TCP flags. Stops quietly where the frame is
 * truncated or malformed.
 *
 * @param frame an Ethernet frame
 * @returns the headers that parse
 * @example
 * ```ts
 * import { decodeHeaders } from "./explain.ts";
 * const h = decodeHeaders(new Uint8Array(14).fill(0xff).fill(0x08, 12, 13).fill(0x06, 13));
 * if (h.ethType !== 0x0806 || h.ethDst !== "ff:ff:ff:ff:ff:ff") throw new Error();
 * ```
 */
export function decodeHeaders(frame: Uint8Array): FrameHeaders {
  const f = frame;
  if (f.length < 14) return { ethSrc: "", ethDst: "", ethType: 0, ip: [] };
  const h: FrameHeaders = {
    ethDst: formatMac(f.subarray(0, 6)),
    ethSrc: formatMac(f.subarray(6, 12)),
    ethType: (f[12] << 8) | f[13],
    ip: [],
  };
  let l3 = 14;
  if (h.ethType === 0x8100 && f.length >= 18) {
    h.vlan = ((f[14] << 8) | f[15]) & 0xfff;
    h.ethType = (f[16] << 8) | f[17];
    l3 = 18;
  }
  if (h.ethType === 0x0800 || h.ethType === 0x86dd) parseIpAt(f, l3, h, 0);
  return h;
}

function hostPort(addr: string, port: number): string {
  return addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`;
}

const PROTO_NAMES: Record<number, string> = { 1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6" };

/**
 * One line for a frame's headers, innermost IP and ports first:
 * `198.51.100.7:40000 → 198.18.0.1:80 TCP S ttl 64`, then the VLAN and any outer IP header.
 *
 * @param h decoded headers
 * @returns the text
 */
export function headersText(h: FrameHeaders): string {
  const ip = h.ip[h.ip.length - 1];
  if (!ip) {
    if (!h.ethDst) return "runt frame";
    const t = h.ethType === 0x0806
      ? "ARP"
      : `ethertype 0x${h.ethType.toString(16).padStart(4, "0")}`;
    return `${t} ${h.ethSrc} → ${h.ethDst}`;
  }
  const l4 = h.l4;
  let s = l4
    ? `${hostPort(ip.src, l4.sport)} → ${hostPort(ip.dst, l4.dport)} ${l4.protocol.toUpperCase()}${
      l4.flags ? " " + l4.flags : ""
    }`
    : `${ip.src} → ${ip.dst} ${PROTO_NAMES[ip.protocol] ?? `proto ${ip.protocol}`}`;
  s += ` ttl ${ip.ttl}`;
  if (h.vlan !== undefined) s += ` vlan ${h.vlan}`;
  if (h.ip.length > 1) s += ` in IPv${h.ip[0].version} ${h.ip[0].src} → ${h.ip[0].dst}`;
  return s;
}

/**
 * The differences between a frame before and after the engine: MACs, tunnel header,
 * addresses and ports, TTL.
 *
 * @param a the received frame's headers
 * @param b the transmitted frame's headers
 * @returns one short text per change
 */
export function headerChanges(a: FrameHeaders, b: FrameHeaders): string[] {
  const out: string[] = [];
  if (a.ethDst !== b.ethDst) out.push(`eth dst ${a.ethDst} → ${b.ethDst}`);
  if (a.ethSrc !== b.ethSrc) out.push(`eth src ${a.ethSrc} → ${b.ethSrc}`);
  if (b.ip.length > a.ip.length && b.ip.length > 1) {
    out.push(`+ IPv${b.ip[0].version} tunnel ${b.ip[0].src} → ${b.ip[0].dst}`);
  }
  const x = a.ip[a.ip.length - 1], y = b.ip[b.ip.length - 1];
  if (!x || !y) return out;
  const xs = a.l4 ? hostPort(x.src, a.l4.sport) : x.src,
    ys = b.l4 ? hostPort(y.src, b.l4.sport) : y.src;
  const xd = a.l4 ? hostPort(x.dst, a.l4.dport) : x.dst,
    yd = b.l4 ? hostPort(y.dst, b.l4.dport) : y.dst;
  if (xs !== ys) out.push(`src ${xs} → ${ys}`);
  if (xd !== yd) out.push(`dst ${xd} → ${yd}`);
  if (x.ttl !== y.ttl) out.push(`ttl ${x.ttl} → ${y.ttl}`);
  return out;
}

// ---------------------------------------------------------------------------------------
// Connections.

const FWD: Record<number, FrameConn["fwd"]> = {
  [IP_VS_CONN_F_MASQ]: "masq",
  [IP_VS_CONN_F_LOCALNODE]: "local",
  [IP_VS_CONN_F_TUNNEL]: "tunnel",
  [IP_VS_CONN_F_DROUTE]: "route",
};

/** An address in one spelling whatever its source (engine dumps and our decoder differ). */
function addrKey(text: string): string {
  const ip = parseIp(text);
  return ip ? ip.addr.join(".") : text;
}

function tupleKey(proto: number, src: string, sport: number, dst: string, dport: number): string {
  return `${proto}|${addrKey(src)}|${sport}|${addrKey(dst)}|${dport}`;
}

/** Drop reasons that come after the connection lookup: such a frame has a connection. */
const AFTER_LOOKUP = new Set(
  [R_TTL_EXCEEDED, R_DEST_UNAVAILABLE, R_NO_NEIGH, R_MTU_EXCEEDED, R_NO_TUN_SRC].map((r) =>
    REASON_NAMES[r]
  ),
);

interface ConnIndex {
  in: Map<string, ConnDump>;
  out: Map<string, ConnDump>;
}

function indexConns(conns: ConnDump[]): ConnIndex {
  const ix: ConnIndex = { in: new Map(), out: new Map() };
  for (const c of conns) {
    ix.in.set(tupleKey(c.protocol, c.caddr, c.cport, c.vaddr, c.vport), c);
    if ((c.flags & IP_VS_CONN_F_FWD_MASK) === IP_VS_CONN_F_MASQ) {
      ix.out.set(tupleKey(c.protocol, c.daddr, c.dport, c.caddr, c.cport), c);
    }
  }
  return ix;
}

// ---------------------------------------------------------------------------------------
// The replay, explained.

/**
 * Replays a capture through an engine under a rule set (exactly as `replay` does) and
 * explains every frame.
 *
 * @param engine a fresh engine
 * @param rulesText rules in ipvsadm-save format
 * @param pcapBytes a classic pcap file with Ethernet frames
 * @param options replay options
 * @returns the output capture, the summary, and one verdict per captured frame
 * @throws like `prepareReplay`, before the engine is touched
 * @example
 * ```ts
 * import { createEngine, explainReplay, PcapWriter } from "./mod.ts";
 * // One ARP frame: the engine passes it up to the host (not_ip).
 * const arp = new Uint8Array(42).fill(0xff, 0, 6);
 * arp.set([2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1], 6);
 * const pcap = new PcapWriter();
 * pcap.write(1_700_000_000_000_000, arp);
 * const ex = explainReplay(await createEngine({ engine: "ts" }), "", pcap.bytes());
 * if (ex.frames[0].verdict !== "pass" || ex.frames[0].reason !== "not_ip") throw new Error();
 * ```
 */
export function explainReplay(
  engine: Engine,
  rulesText: string,
  pcapBytes: Uint8Array,
  options: ReplayOptions = {},
): Explanation {
  const plan = prepareReplay(rulesText, pcapBytes, options, engineLimits(engine));
  const labels = new Map<number, string>();
  const frames: FrameVerdict[] = [];
  const observe = (b: ReplayBatch) => {
    const { io, start, n } = b;
    let needConns = b.nTx > 0;
    for (let j = 0; j < n; j++) {
      const rec = plan.records[start + j];
      const v = io.verdict(j);
      if (v === V_DROP && AFTER_LOOKUP.has(REASON_NAMES[io.reason(j)])) needConns = true;
      frames.push({
        index: start + j,
        time: rec.tsMicros,
        length: rec.data.length,
        verdict: v === V_TX ? "tx" : v === V_PASS ? "pass" : "drop",
        reason: v === V_TX ? "" : REASON_NAMES[io.reason(j)] ?? `reason ${io.reason(j)}`,
        in: decodeHeaders(rec.data),
        out: [],
        changes: [],
      });
    }
    for (let t = 0; t < b.nTx; t++) {
      const fv = frames[frames.length - n + io.txRx(t)];
      const view = io.txView(t);
      const headers = decodeHeaders(view);
      fv.out.push({ port: io.txPort(t), length: view.length, headers });
      fv.changes.push(...headerChanges(fv.in, headers));
    }
    if (!needConns) return;
    if (labels.size === 0) { for (const s of plan.model.services) labels.set(s.index, s.label); }
    const ix = indexConns(engine.dumpConns());
    for (let j = frames.length - n; j < frames.length; j++) {
      const fv = frames[j];
      const ip = fv.in.ip[0], l4 = fv.in.l4;
      if (fv.verdict === "pass" || (fv.verdict === "drop" && !AFTER_LOOKUP.has(fv.reason))) {
        continue;
      }
      if (!ip || !l4 || fv.in.ip.length > 1) continue;
      const p = l4.protocol === "tcp" ? 6 : 17;
      let c = ix.in.get(tupleKey(p, ip.src, l4.sport, ip.dst, l4.dport));
      let direction: FrameConn["direction"] = "in";
      if (!c) {
        c = ix.out.get(tupleKey(p, ip.src, l4.sport, ip.dst, l4.dport));
        direction = "out";
      }
      if (!c) continue;
      fv.conn = {
        direction,
        dest: hostPort(c.daddr, c.dport),
        fwd: FWD[c.flags & IP_VS_CONN_F_FWD_MASK] ?? "masq",
        service: labels.get(c.svc) ?? `service ${c.svc}`,
        state: c.protocol === 6 ? TCP_STATE_NAMES[c.state] ?? String(c.state) : "",
      };
    }
  };
  const result = runReplay(engine, plan, observe);
  return { ...result, frames };
}
