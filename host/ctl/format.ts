// Text formats of ipvsadm's listings (ipvsadm.c print_* functions): numbers,
// addresses and the column layouts of `-L -n`, `--stats` and `--rate`.
// Runtime-agnostic. Widths and the "large number" rule follow
// ipvs-control-plane.md §4.1–4.3 exactly, so scripts parsing them keep working.
import { formatHostPort } from "./addr.ts";

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
export function serviceName(
  protocol: number,
  addr: Uint8Array,
  port: number,
  fwmark: number,
): string {
  if (fwmark) return `FWM  ${fwmark}${addr.length === 16 ? " IPv6" : ""}`;
  const s = `${(PROTO_NAMES[protocol] ?? "?").padEnd(4)} ${formatHostPort(addr, port)}`;
  return addr.length === 4 ? s.slice(0, 33) : s;
}

/** The real-server address column: L28, IPv4 cut at 28. */
export function destName(addr: Uint8Array, port: number): string {
  const s = formatHostPort(addr, port);
  return (addr.length === 4 ? s.slice(0, 28) : s).padEnd(28);
}

export const RATE_HEADER =
  "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n" +
  "  -> RemoteAddress:Port";
export const STATS_HEADER =
  "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n" +
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
export function listDestRow(
  name: string,
  fwd: number,
  weight: number,
  active: number,
  inact: number,
): string {
  return ("  -> " + name + " " + (FWD_NAMES[fwd] ?? "?").padEnd(7) + " " +
    String(weight).padEnd(6) + " " +
    String(active).padEnd(10) + " " + String(inact).padEnd(10)).trimEnd();
}
