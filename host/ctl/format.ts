// Text formats of ipvsadm's listings (ipvsadm.c print_* functions): numbers,
// addresses and the column layouts of `-L -n`, `--stats` and `--rate`.
// Runtime-agnostic. Widths and the "large number" rule follow
// ipvs-control-plane.md §4.1–4.3 exactly, so scripts parsing them keep working.

/** IPv4 (4 bytes) or IPv6 (16 bytes) in ipvsadm's numeric form (inet_ntop). */
export function addrText(addr: Uint8Array): string {
  if (addr.length === 4) return addr.join(".");
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((addr[i] << 8) | addr[i + 1]);
  // RFC 5952: compress the longest run (length >= 2) of zero words, the first on ties.
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) best = i, bestLen = j - i;
    i = j > i ? j : i + 1;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  if (best < 0) {
    // IPv4-mapped addresses print their tail dotted, as inet_ntop does.
    return hex(w);
  }
  const mapped = best === 0 && bestLen === 5 && w[5] === 0xffff;
  if (mapped) return `::ffff:${addr[12]}.${addr[13]}.${addr[14]}.${addr[15]}`;
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** `a.b.c.d:port` or `[v6]:port`. */
export function addrPortText(addr: Uint8Array, port: number): string {
  return addr.length === 4 ? `${addrText(addr)}:${port}` : `[${addrText(addr)}]:${port}`;
}

/**
 * ipvsadm's 9-character "large number": the plain value below 10^8, then
 * K, M, G, T units with truncating division.
 * @example
 * ```ts
 * import { largeNumber } from "./format.ts";
 * if (largeNumber(100_000_000) !== "  100000K") throw new Error("K unit");
 * ```
 */
export function largeNumber(n: number, exact = false): string {
  if (exact) return " " + String(n).padStart(Math.max(8, String(n).length));
  if (n < 1e8) return String(n).padStart(9);
  if (n < 1e9) return String(Math.floor(n / 1e3)).padStart(8) + "K";
  if (n < 1e11) return String(Math.floor(n / 1e6)).padStart(8) + "M";
  if (n < 1e14) return String(Math.floor(n / 1e9)).padStart(8) + "G";
  return String(Math.floor(n / 1e12)).padStart(8) + "T";
}

export const PROTO_NAMES: Record<number, string> = { 6: "TCP", 17: "UDP", 132: "SCTP" };
export const FWD_NAMES = ["Masq", "Local", "Tunnel", "Route"];

/** `Prot LocalAddress:Port` part of a service row: L4 protocol name, space, address, cut at 33 for IPv4. */
export function serviceName(protocol: number, addr: Uint8Array, port: number, fwmark: number): string {
  if (fwmark) return `FWM  ${fwmark}${addr.length === 16 ? " IPv6" : ""}`;
  const s = `${(PROTO_NAMES[protocol] ?? "?").padEnd(4)} ${addrPortText(addr, port)}`;
  return addr.length === 4 ? s.slice(0, 33) : s;
}

/** The real-server address column: L28, IPv4 cut at 28. */
export function destName(addr: Uint8Array, port: number): string {
  const s = addrPortText(addr, port);
  return (addr.length === 4 ? s.slice(0, 28) : s).padEnd(28);
}

export const RATE_HEADER = "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n" +
  "  -> RemoteAddress:Port";
export const STATS_HEADER = "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n" +
  "  -> RemoteAddress:Port";
export const LIST_HEADER = "Prot LocalAddress:Port Scheduler Flags\n" +
  "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn";

/** A `--rate` service row: name L33 then five large numbers. */
export function rateServiceRow(name: string, r: number[]): string {
  return name.padEnd(33) + r.map((x) => largeNumber(x)).join("");
}

/** A `--rate` real-server row: CPS, InPPS, OutPPS as plain R8 after a space, bytes large. */
export function rateDestRow(name: string, r: number[]): string {
  return "  -> " + name + r.slice(0, 3).map((x) => " " + String(x).padStart(8)).join("") +
    largeNumber(r[3]) + largeNumber(r[4]);
}

/** A default-listing real-server row. */
export function listDestRow(name: string, fwd: number, weight: number, active: number, inact: number): string {
  return ("  -> " + name + " " + (FWD_NAMES[fwd] ?? "?").padEnd(7) + " " + String(weight).padEnd(6) + " " +
    String(active).padEnd(10) + " " + String(inact).padEnd(10)).trimEnd();
}
