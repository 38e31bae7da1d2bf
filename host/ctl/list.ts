// ipvsadm's listings: `-L` in every variant (default, --stats, --rate, --thresholds,
// --persistent-conn, --tun-info, --exact, --nosort, -n), `-c`, `--timeout`, `--daemon`, and
// the sort order with libipvs's wrapping comparators. Runtime-agnostic.
// Mirrors ipvsadm.c `list_all`, `list_service`, `print_title`, `print_service_entry`,
// `list_conn`/`print_conn`, `list_timeout` and libipvs `ipvs_cmp_services`/`ipvs_cmp_dests`
// (spec ipvs-control-plane.md §4). Invariant: byte-identical text, trailing spaces included.

import {
  AF_INET6,
  IP_VS_CONN_F_TUNNEL,
  IP_VS_CONN_F_TUNNEL_TYPE_GUE,
  IPPROTO_SCTP,
  IPPROTO_UDP,
} from "../engine/abi.gen.ts";
import type { DestCounts, Stats } from "../engine/engine.ts";
import { formatIp, type NameResolver, type ServProto } from "./addr.ts";
import type { ListFormat } from "./command.ts";
import type { Rates } from "./est.ts";
import { FWD_NAMES, largeNumber, PROTO_NAMES } from "./format.ts";
import type { ModelDest, ModelService } from "./model.ts";

/** What a listing reads: the model's services plus the engine's live numbers. */
export interface ListSource {
  /** Services in the kernel's table order. */
  kernelOrder(): ModelService[];
  svcStats(svc: ModelService): Stats;
  svcRates(svc: ModelService): Rates;
  destStats(dest: ModelDest): Stats;
  destRates(dest: ModelDest): Rates;
  destCounts(dest: ModelDest): DestCounts;
  /** `--set` values: tcp (ESTABLISHED), tcpfin (FIN_WAIT), udp, in seconds. */
  timeouts(): { tcp: number; tcpfin: number; udp: number };
  /** Connection rows for `-c`. */
  conns(): ConnRow[];
  /** The `size=` of the header line. */
  tableSize: number;
}

/** One connection as `-c` prints it. */
export interface ConnRow {
  /** "TCP", "UDP", "SCTP", or "IP" for fwmark persistence templates. */
  proto: string;
  /** Seconds to expiry. */
  expires: number;
  state: string;
  caddr: Uint8Array;
  cport: number;
  vaddr: Uint8Array;
  vport: number;
  daddr: Uint8Array;
  dport: number;
  peName?: string;
  peData?: string;
}

/** The version ipvsadm reports for the kernel (IP_VS_VERSION_CODE 0x010201). */
export const IPVS_VERSION = "1.2.1";

/** `/etc/services` protocol of a service's protocol number (fwmark services count as TCP). */
export function servProto(protocol: number): ServProto {
  return protocol === IPPROTO_UDP ? "udp" : protocol === IPPROTO_SCTP ? "sctp" : "tcp";
}

/**
 * ipvsadm's `addrport_to_anyname`: numeric, or host and service names when a resolver knows
 * them; IPv6 in brackets; at most 59 characters (ipvsadm's 60-byte buffer).
 *
 * @param addr 4 or 16 bytes
 * @param port host order
 * @param proto protocol for the service-name lookup
 * @param numeric `-n`
 * @param resolver name lookups (absent: numeric)
 * @returns the text
 */
export function addrPortName(
  addr: Uint8Array,
  port: number,
  proto: ServProto,
  numeric: boolean,
  resolver?: NameResolver,
): string {
  let host = formatIp(addr);
  let serv = String(port);
  if (!numeric && resolver) {
    host = resolver.addrToHost?.(addr) ?? host;
    serv = resolver.portToService?.(port, proto) ?? serv;
  }
  return (addr.length === 16 ? `[${host}]:${serv}` : `${host}:${serv}`).slice(0, 59);
}

// ---------------------------------------------------------------------------------------
// Sorting: libipvs compares by integer subtraction of unsigned values, which wraps; glibc's
// qsort is a top-down merge sort. Both are reproduced so that the (non-transitive) order
// of, say, 10.0.0.1, 100.0.0.1 and 200.0.0.1 comes out as ipvsadm prints it.

/** glibc `msort_with_tmp`: stable top-down merge sort, left run first on ties. */
export function glibcSort<T>(a: T[], cmp: (x: T, y: T) => number): T[] {
  const tmp: T[] = new Array(a.length);
  const rec = (lo: number, n: number): void => {
    if (n <= 1) return;
    const n1 = n >> 1;
    rec(lo, n1);
    rec(lo + n1, n - n1);
    let i = lo, j = lo + n1, k = 0;
    const iEnd = lo + n1, jEnd = lo + n;
    while (i < iEnd && j < jEnd) tmp[k++] = cmp(a[i], a[j]) <= 0 ? a[i++] : a[j++];
    while (i < iEnd) tmp[k++] = a[i++];
    for (let t = 0; t < k; t++) a[lo + t] = tmp[t];
  };
  rec(0, a.length);
  return a;
}

function word(a: Uint8Array, i: number): number {
  return i + 4 <= a.length
    ? ((a[i] << 24) | (a[i + 1] << 16) | (a[i + 2] << 8) | a[i + 3]) >>> 0
    : 0;
}

/** `r = ntohl(a) - ntohl(b)` as C's int: wraps at 2^31. */
function addrCmp(af: number, a: Uint8Array, b: Uint8Array): number {
  let r = 0;
  for (let i = 0; r === 0 && i < (af === AF_INET6 ? 16 : 4); i += 4) {
    r = (word(a, i) - word(b, i)) | 0;
  }
  return r;
}

/** libipvs `ipvs_cmp_services`. */
export function cmpServices(x: ModelService, y: ModelService): number {
  const a = x.spec, b = y.spec;
  return ((a.fwmark - b.fwmark) | 0) || a.af - b.af || a.protocol - b.protocol ||
    addrCmp(a.af, a.addr, b.addr) || a.port - b.port;
}

/** libipvs `ipvs_cmp_dests` (mixed families compare by the first one's family, as in C). */
export function cmpDests(x: ModelDest, y: ModelDest): number {
  return addrCmp(x.spec.af, x.spec.addr, y.spec.addr) || x.spec.port - y.spec.port;
}

/**
 * Real servers of a service as a listing shows them: kernel list order (newest first),
 * sorted unless `nosort`.
 *
 * @param svc the service
 * @param nosort `--nosort`
 * @returns the real servers in listing order
 */
export function listedDests(svc: ModelService, nosort: boolean): ModelDest[] {
  const d = [...svc.dests].reverse();
  return nosort ? d : glibcSort(d, cmpDests);
}

/**
 * Services as a listing shows them: kernel order, sorted unless `nosort`.
 *
 * @param src the source
 * @param nosort `--nosort`
 * @returns the services in listing order
 */
export function listedServices(
  src: Pick<ListSource, "kernelOrder">,
  nosort: boolean,
): ModelService[] {
  const s = src.kernelOrder();
  return nosort ? s : glibcSort(s, cmpServices);
}

// ---------------------------------------------------------------------------------------
// Service and real-server rows.

/** ipvsadm's scheduler-flag names: sh-* for sh, mh-* for mh, flag-N otherwise. */
export function schedFlagNames(schedName: string, flags: number): string[] {
  const names = schedName === "sh"
    ? ["sh-fallback", "sh-port", "flag-3"]
    : schedName === "mh"
    ? ["mh-fallback", "mh-port", "flag-3"]
    : ["flag-1", "flag-2", "flag-3"];
  return names.filter((_, i) => flags & (8 << i));
}

/** IPv4 netmask (u32, host order) in dotted form. */
export function maskText(m: number): string {
  return `${m >>> 24}.${(m >>> 16) & 0xff}.${(m >>> 8) & 0xff}.${m & 0xff}`;
}

/** The `Prot LocalAddress:Port` part: "TCP  a:p" (IPv4 cut at 33), "FWM  n", "FWM  n IPv6". */
function svcName(svc: ModelService, f: ListFormat, resolver?: NameResolver): string {
  const s = svc.spec;
  if (s.fwmark) return `FWM  ${s.fwmark}${s.af === AF_INET6 ? " IPv6" : ""}`;
  const name = `${(PROTO_NAMES[s.protocol] ?? "?").padEnd(4)} ${
    addrPortName(s.addr, s.port, servProto(s.protocol), f.numeric, resolver)
  }`;
  return s.af === AF_INET6 ? name : name.slice(0, 33);
}

function destName(svc: ModelService, d: ModelDest, f: ListFormat, resolver?: NameResolver): string {
  const n = addrPortName(
    d.spec.addr,
    d.spec.port,
    servProto(svc.spec.protocol),
    f.numeric,
    resolver,
  );
  return (d.spec.af === AF_INET6 ? n : n.slice(0, 28)).padEnd(28);
}

/** The default service line: name, scheduler, (flags), persistence, mask, pe, ops. */
function serviceLine(svc: ModelService, name: string): string {
  const s = svc.spec;
  let line = `${name} ${svc.schedName}`;
  const flags = schedFlagNames(svc.schedName, s.flags);
  if (flags.length) line += ` (${flags.join(",")})`;
  if (s.flags & 1) {
    line += ` persistent ${s.timeout}`;
    if (s.af === AF_INET6) {
      if (s.netmask < 128) line += ` mask ${s.netmask}`;
    } else if (s.netmask !== 0xffffffff) line += ` mask ${maskText(s.netmask)}`;
    if (svc.pe) line += ` pe ${svc.pe}`;
  }
  if (s.flags & 4) line += " ops";
  return line;
}

const L = (v: string | number, n: number) => String(v).padEnd(n);
const R = (v: string | number, n: number) => String(v).padStart(n);
const five = (s: Stats | Rates): number[] =>
  "conns" in s
    ? [s.conns, s.inPkts, s.outPkts, s.inBytes, s.outBytes]
    : [s.cps, s.inPps, s.outPps, s.inBps, s.outBps];

/** The TunnelInfo column: n/a, ipip, gue:<port>:<c>, gre:<c>. */
function tunInfo(d: ModelDest): string {
  const s = d.spec;
  if (s.fwd !== IP_VS_CONN_F_TUNNEL) return "n/a";
  const c = ["-c", "+c", "r+c"][s.tunFlags] ?? "-c";
  if (s.tunType === IP_VS_CONN_F_TUNNEL_TYPE_GUE) return `gue:${s.tunPort}:${c}`;
  return s.tunType === 0 ? "ipip" : `gre:${c}`;
}

function title(f: ListFormat): string {
  const head = "Prot LocalAddress:Port".padEnd(33);
  const two = "\n  -> RemoteAddress:Port\n";
  if (f.stats) {
    return head + ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"].map((h) =>
      " " + R(h, 8)
    ).join("") + two;
  }
  if (f.rate) {
    return head + ["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"].map((h) => " " + R(h, 8)).join("") +
      two;
  }
  if (f.thresholds) {
    return head +
      ` ${L("Uthreshold", 10)} ${L("Lthreshold", 10)} ${L("ActiveConn", 10)} ${
        L("InActConn", 10)
      }` + two;
  }
  if (f.persistentConn) {
    return head +
      ` ${L("Weight", 9)} ${L("PersistConn", 11)} ${L("ActiveConn", 10)} ${L("InActConn", 10)}` +
      two;
  }
  if (f.tunInfo) {
    return "Prot LocalAddress:Port Scheduler Flags\n" +
      "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n";
  }
  return "Prot LocalAddress:Port Scheduler Flags\n" +
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";
}

function serviceEntry(
  src: ListSource,
  svc: ModelService,
  f: ListFormat,
  resolver?: NameResolver,
): string {
  const name = svcName(svc, f, resolver);
  const big = (n: number) => largeNumber(n, f.exact);
  let out: string;
  if (f.stats) out = name.padEnd(33) + five(src.svcStats(svc)).map(big).join("");
  else if (f.rate) out = name.padEnd(33) + five(src.svcRates(svc)).map(big).join("");
  else out = serviceLine(svc, name);
  out += "\n";
  for (const d of listedDests(svc, f.nosort)) {
    const dn = "  -> " + destName(svc, d, f, resolver);
    if (f.stats) {
      out += dn + five(src.destStats(d)).map(big).join("") + "\n";
      continue;
    }
    if (f.rate) {
      const r = five(src.destRates(d));
      out += dn + r.slice(0, 3).map((x) => " " + R(x, 8)).join("") + big(r[3]) + big(r[4]) + "\n";
      continue;
    }
    const k = src.destCounts(d);
    const fwd = L(FWD_NAMES[d.spec.fwd] ?? "?", 7);
    if (f.thresholds) {
      out += `${dn} ${L(d.spec.uThreshold, 10)} ${L(d.spec.lThreshold, 10)} ${
        L(k.activeConns, 10)
      } ${L(k.inactConns, 10)}\n`;
    } else if (f.persistentConn) {
      out += `${dn} ${L(d.spec.weight, 9)} ${L(k.persistConns, 11)} ${L(k.activeConns, 10)} ${
        L(k.inactConns, 10)
      }\n`;
    } else if (f.tunInfo) {
      out += `${dn} ${fwd} ${L(tunInfo(d), 13)} ${L(d.spec.weight, 6)} ${L(k.activeConns, 10)} ${
        L(k.inactConns, 10)
      }\n`;
    } else {
      out += `${dn} ${fwd} ${L(d.spec.weight, 6)} ${L(k.activeConns, 10)} ${L(k.inactConns, 10)}\n`;
    }
  }
  return out;
}

/**
 * `ipvsadm -L` of every service (with the version header), or of one (`-L -t …`, no header).
 *
 * @param src model and live numbers
 * @param f listing options
 * @param only the one service to list
 * @param resolver name lookups when not numeric
 * @returns the text
 *
 * @example
 * ```ts
 * import { listServices } from "./list.ts";
 * const src = { kernelOrder: () => [], tableSize: 4096 } as unknown as Parameters<typeof listServices>[0];
 * const fmt = { numeric: true, exact: false, nosort: false, stats: false, rate: false, thresholds: false, persistentConn: false, tunInfo: false };
 * if (!listServices(src, fmt).startsWith("IP Virtual Server version 1.2.1 (size=4096)\n")) throw new Error();
 * ```
 */
export function listServices(
  src: ListSource,
  f: ListFormat,
  only?: ModelService,
  resolver?: NameResolver,
): string {
  const parts: string[] = [];
  if (!only) parts.push(`IP Virtual Server version ${IPVS_VERSION} (size=${src.tableSize})\n`);
  parts.push(title(f));
  for (const svc of only ? [only] : listedServices(src, f.nosort)) {
    parts.push(serviceEntry(src, svc, f, resolver));
  }
  return parts.join("");
}

/**
 * `ipvsadm -L -c`: the connection table (expiry as mm:ss, minutes not wrapped).
 *
 * @param rows connections
 * @param f listing options (numeric, persistent-conn)
 * @param resolver name lookups when not numeric
 * @returns the text
 */
export function listConnections(
  rows: readonly ConnRow[],
  f: ListFormat,
  resolver?: NameResolver,
): string {
  let out = "IPVS connection entries\n";
  out += f.persistentConn
    ? `pro expire ${L("state", 11)} ${L("source", 18)} ${L("virtual", 18)} ${
      L("destination", 18)
    } ${L("pe name", 16)} pe_data\n`
    : `pro expire ${L("state", 11)} ${L("source", 18)} ${L("virtual", 18)} destination\n`;
  const p2 = (n: number) => String(n).padStart(2, "0");
  for (const c of rows) {
    const proto = c.proto === "UDP" ? "udp" : c.proto === "SCTP" ? "sctp" : "tcp";
    const name = (a: Uint8Array, p: number) => addrPortName(a, p, proto, f.numeric, resolver);
    const exp = Math.max(0, Math.floor(c.expires));
    const head =
      `${L(c.proto, 3)} ${p2(Math.floor(exp / 60))}:${p2(exp % 60)}  ${L(c.state, 11)} ` +
      `${L(name(c.caddr, c.cport), 18)} ${L(name(c.vaddr, c.vport), 18)} `;
    const dst = name(c.daddr, c.dport);
    out += f.persistentConn && c.peName
      ? `${head}${L(dst, 16)} ${L(c.peName, 18)} ${c.peData ?? ""}\n`
      : `${head}${dst}\n`;
  }
  return out;
}

/**
 * `ipvsadm -L --timeout`.
 *
 * @param t the three settable timeouts, seconds
 * @returns the text
 */
export function listTimeout(t: { tcp: number; tcpfin: number; udp: number }): string {
  return `Timeout (tcp tcpfin udp): ${t.tcp} ${t.tcpfin} ${t.udp}\n`;
}
