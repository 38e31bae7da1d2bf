// ipvsadm's option table (popt), command/option matrix and tunnel-type matrix, with ipvsadm's
// internal option names, which its messages use. Runtime-agnostic; private to rules.ts.
// Mirrors ipvsadm.c `options[]`, `commands_v_options`, `optnames` and `tunnel_types_v_options`
// (spec ipvs-control-plane.md §1.2–§1.5). Column order matters: the first violation wins.

import {
  IP_VS_CONN_F_TUNNEL_TYPE_GRE,
  IP_VS_CONN_F_TUNNEL_TYPE_GUE,
  IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
  IP_VS_SVC_F_SCHED1,
  IP_VS_SVC_F_SCHED2,
  IP_VS_SVC_F_SCHED3,
} from "../engine/abi.gen.ts";

/** Whether an option takes a value: none, a required one, or an optional one (-p). */
export type ArgKind = "none" | "required" | "optional";
export const Arg = { None: "none", Required: "required", Optional: "optional" } as const;

export interface OptDef {
  /** Internal name: a command name for commands, ipvsadm's option name otherwise. */
  name: string;
  arg: ArgKind;
  command?: boolean;
  /** For options sharing one name (-t/-u/-f, -g/-i/-m): which one. */
  variant?: string;
}

export const OPTS: [short: string | null, long: string, def: OptDef][] = [
  ["A", "add-service", { name: "add-service", arg: Arg.None, command: true }],
  ["E", "edit-service", { name: "edit-service", arg: Arg.None, command: true }],
  ["D", "delete-service", { name: "delete-service", arg: Arg.None, command: true }],
  ["C", "clear", { name: "flush", arg: Arg.None, command: true }],
  ["R", "restore", { name: "restore", arg: Arg.None, command: true }],
  ["S", "save", { name: "save", arg: Arg.None, command: true }],
  ["a", "add-server", { name: "add-server", arg: Arg.None, command: true }],
  ["e", "edit-server", { name: "edit-server", arg: Arg.None, command: true }],
  ["d", "delete-server", { name: "delete-server", arg: Arg.None, command: true }],
  ["L", "list", { name: "list", arg: Arg.None, command: true }],
  ["l", "list", { name: "list", arg: Arg.None, command: true }],
  ["Z", "zero", { name: "zero", arg: Arg.None, command: true }],
  [null, "set", { name: "set", arg: Arg.None, command: true }],
  [null, "start-daemon", { name: "start-daemon", arg: Arg.Required, command: true }],
  [null, "stop-daemon", { name: "stop-daemon", arg: Arg.Required, command: true }],
  ["h", "help", { name: "help", arg: Arg.None, command: true }],
  ["v", "version", { name: "version", arg: Arg.None, command: true }],
  ["t", "tcp-service", { name: "service-address", arg: Arg.Required, variant: "tcp" }],
  ["u", "udp-service", { name: "service-address", arg: Arg.Required, variant: "udp" }],
  [null, "sctp-service", { name: "service-address", arg: Arg.Required, variant: "sctp" }],
  ["f", "fwmark-service", { name: "service-address", arg: Arg.Required, variant: "fwmark" }],
  ["6", "ipv6", { name: "ipv6", arg: Arg.None }],
  ["s", "scheduler", { name: "scheduler", arg: Arg.Required }],
  ["p", "persistent", { name: "persistent", arg: Arg.Optional }],
  ["M", "netmask", { name: "netmask", arg: Arg.Required }],
  [null, "pe", { name: "pe", arg: Arg.Required }],
  ["b", "sched-flags", { name: "sched-flags", arg: Arg.Required }],
  ["o", "ops", { name: "ops", arg: Arg.None }],
  ["r", "real-server", { name: "real-server", arg: Arg.Required }],
  ["g", "gatewaying", { name: "forwarding-method", arg: Arg.None, variant: "g" }],
  ["i", "ipip", { name: "forwarding-method", arg: Arg.None, variant: "i" }],
  ["m", "masquerading", { name: "forwarding-method", arg: Arg.None, variant: "m" }],
  ["w", "weight", { name: "weight", arg: Arg.Required }],
  ["x", "u-threshold", { name: "u-threshold", arg: Arg.Required }],
  ["y", "l-threshold", { name: "l-threshold", arg: Arg.Required }],
  [null, "tun-type", { name: "tun-type", arg: Arg.Required }],
  [null, "tun-port", { name: "tun-port", arg: Arg.Required }],
  [null, "tun-nocsum", { name: "tun-nocsum", arg: Arg.None }],
  [null, "tun-csum", { name: "tun-csum", arg: Arg.None }],
  [null, "tun-remcsum", { name: "tun-remcsum", arg: Arg.None }],
  ["n", "numeric", { name: "numeric", arg: Arg.None }],
  ["c", "connection", { name: "connection", arg: Arg.None }],
  [null, "timeout", { name: "timeout", arg: Arg.None }],
  [null, "daemon", { name: "daemon", arg: Arg.None }],
  [null, "stats", { name: "stats", arg: Arg.None }],
  [null, "rate", { name: "rate", arg: Arg.None }],
  [null, "thresholds", { name: "thresholds", arg: Arg.None }],
  [null, "persistent-conn", { name: "persistent-conn", arg: Arg.None }],
  [null, "nosort", { name: "nosort", arg: Arg.None }],
  // Accepted with any command and not tracked (§1.3).
  [null, "sort", { name: "sort", arg: Arg.None }],
  ["X", "exact", { name: "exact", arg: Arg.None }],
  [null, "tun-info", { name: "tun-info", arg: Arg.None }],
  [null, "mcast-interface", { name: "mcast-interface", arg: Arg.Required }],
  [null, "syncid", { name: "syncid", arg: Arg.Required }],
  [null, "sync-maxlen", { name: "sync-maxlen", arg: Arg.Required }],
  [null, "mcast-group", { name: "mcast-group", arg: Arg.Required }],
  [null, "mcast-port", { name: "mcast-port", arg: Arg.Required }],
  [null, "mcast-ttl", { name: "mcast-ttl", arg: Arg.Required }],
];

export const SHORT = new Map(OPTS.filter(([s]) => s !== null).map(([s, , d]) => [s as string, d]));
export const LONG = new Map(OPTS.map(([, l, d]) => [l, d]));

/** ipvsadm's option columns, in the order `generic_opt_check` walks them (§1.4). */
export const COLUMNS = (
  "numeric connection service-address scheduler persistent netmask real-server forwarding-method " +
  "weight u-threshold l-threshold mcast-interface timeout daemon stats rate thresholds " +
  "persistent-conn nosort syncid exact ops pe sched-flags mcast-group mcast-port mcast-ttl " +
  "sync-maxlen tun-info tun-type tun-port tun-nocsum tun-csum tun-remcsum"
).split(" ");

/**
 * `commands_v_options`: per command, '+' required, 'o' optional, '1' at most one of the
 * options marked '1'; a column absent from a row is illegal ('x') with that command (§1.4).
 */
export const ALLOWED: Record<string, Record<string, "+" | "o" | "1">> = {
  "add-service": row("service-address", "scheduler persistent netmask ops pe sched-flags"),
  "edit-service": row("service-address", "scheduler persistent netmask ops pe sched-flags"),
  "delete-service": row("service-address", ""),
  "flush": row("", ""),
  "restore": row("", ""),
  "save": row("", "numeric"),
  "add-server": row(
    "service-address real-server",
    "forwarding-method weight u-threshold l-threshold tun-type tun-port tun-nocsum tun-csum tun-remcsum",
  ),
  "edit-server": row(
    "service-address real-server",
    "forwarding-method weight u-threshold l-threshold tun-type tun-port tun-nocsum tun-csum tun-remcsum",
  ),
  "delete-server": row("service-address real-server", ""),
  "list": row(
    "",
    "numeric stats rate thresholds persistent-conn nosort exact tun-info syncid",
    "service-address connection timeout daemon",
  ),
  "zero": row("", "service-address"),
  "set": row("", ""),
  "start-daemon": row(
    "",
    "mcast-interface mcast-group mcast-port mcast-ttl sync-maxlen syncid",
  ),
  "stop-daemon": row("", "syncid"),
};

function row(
  required: string,
  optional: string,
  oneOf = "",
): Record<string, "+" | "o" | "1"> {
  const r: Record<string, "+" | "o" | "1"> = {};
  const words = (s: string) => s.split(" ").filter((w) => w !== "");
  for (const o of words(required)) r[o] = "+";
  for (const o of words(optional)) r[o] = "o";
  for (const o of words(oneOf)) r[o] = "1";
  return r;
}

/** ipvsadm's tunnel-type table: options a tunnel type requires ('+'), allows one of ('1'). */
export const TUN_TYPES: Record<string, { id: number; opts: Record<string, "+" | "1"> }> = {
  ipip: { id: IP_VS_CONN_F_TUNNEL_TYPE_IPIP, opts: {} },
  gue: {
    id: IP_VS_CONN_F_TUNNEL_TYPE_GUE,
    opts: { "tun-port": "+", "tun-nocsum": "1", "tun-csum": "1", "tun-remcsum": "1" },
  },
  gre: { id: IP_VS_CONN_F_TUNNEL_TYPE_GRE, opts: { "tun-nocsum": "1", "tun-csum": "1" } },
};
export const TUN_COLUMNS = ["tun-port", "tun-nocsum", "tun-csum", "tun-remcsum"];

export const SCHED_FLAGS: Record<string, { bit: number; sched?: string }> = {
  "flag-1": { bit: IP_VS_SVC_F_SCHED1 },
  "flag-2": { bit: IP_VS_SVC_F_SCHED2 },
  "flag-3": { bit: IP_VS_SVC_F_SCHED3 },
  "sh-fallback": { bit: IP_VS_SVC_F_SCHED1, sched: "sh" },
  "sh-port": { bit: IP_VS_SVC_F_SCHED2, sched: "sh" },
  "mh-fallback": { bit: IP_VS_SVC_F_SCHED1, sched: "mh" },
  "mh-port": { bit: IP_VS_SVC_F_SCHED2, sched: "mh" },
};

export const TRY_HELP = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.";
