// Parser of rules files in ipvsadm-save format (`ipvsadm -S -n`): `-A` and `-a` lines into
// validated ServiceSpec / DestSpec operations. Runtime-agnostic.
// Mirrors ipvsadm.c `parse_options` + `process_options` + `generic_opt_check` and
// config_stream.c (how `-R` tokenises a line): spec ipvs-control-plane.md §1 and §3.3.
// Invariants: every message is ipvsadm's own text, prefixed with the line number; anything
// IPVS accepts but this engine does not implement is an error, never silently ignored.

import {
  AF_INET,
  AF_INET6,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
  IP_VS_SVC_F_ONEPACKET,
  IP_VS_SVC_F_PERSISTENT,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  SCHED_RR,
  SCHED_WLC,
  SCHED_WRR,
} from "../engine/abi.gen.ts";
import type { Af, DestSpec, ServiceSpec } from "../engine/engine.ts";
import {
  ALLOWED,
  Arg,
  COLUMNS,
  LONG,
  type OptDef,
  SCHED_FLAGS,
  SHORT,
  TRY_HELP,
  TUN_COLUMNS,
  TUN_TYPES,
} from "./_ipvsadm_options.ts";
import { formatHostPort, inetAton, parseHostPort, stringToNumber } from "./addr.ts";
import { ENOENT, EXIT_PARSE, kernelError, unsupportedError, usageError } from "./errors.ts";

/** Schedulers this engine implements, by ipvsadm name. */
export const SCHEDULERS: Readonly<Record<string, number>> = {
  rr: SCHED_RR,
  wrr: SCHED_WRR,
  wlc: SCHED_WLC,
};

/** Every scheduler name the Linux kernel knows (the rest are "not found"). */
const KERNEL_SCHEDULERS = "rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos none".split(" ");

/** ipvsadm's default scheduler (§5.1). */
export const DEFAULT_SCHEDULER = "wlc";
/** `-p` without a value: 360 s (libipvs IPVS_SVC_PERSISTENT_TIMEOUT; the man page's 300 is wrong). */
export const DEFAULT_PERSISTENCE = 360;
const MAX_PERSISTENCE = 2678400; // 31 days
const INT_MAX = 2147483647;

/** An `-A` line. */
export interface ServiceRule {
  cmd: "add-service";
  /** 1-based line number in the rules text. */
  line: number;
  service: ServiceSpec;
  /** Scheduler name as written (or the default). */
  schedName: string;
}

/** An `-a` line: `service` carries the identity (af, protocol, addr, port, fwmark) only. */
export interface DestRule {
  cmd: "add-server";
  line: number;
  service: ServiceSpec;
  dest: DestSpec;
}

export type Rule = ServiceRule | DestRule;

// ---------------------------------------------------------------------------------------
// Helpers shared with the model and the replay summary.

/** Protocol name as ipvsadm's service tokens spell it. */
export function protocolName(protocol: number): string {
  return protocol === IPPROTO_TCP
    ? "tcp"
    : protocol === IPPROTO_UDP
    ? "udp"
    : protocol === IPPROTO_SCTP
    ? "sctp"
    : `proto ${protocol}`;
}

/**
 * The identity of a service, as the kernel hashes it: (af, protocol, addr, port) or (af, fwmark).
 *
 * @param s a service spec
 * @returns a string key, equal for equal identities
 */
export function serviceKey(s: ServiceSpec): string {
  return s.fwmark ? `f/${s.af}/${s.fwmark}` : `${s.af}/${s.protocol}/${s.addr.join(".")}/${s.port}`;
}

/**
 * @param s a service spec
 * @returns "198.18.0.1:80/tcp", "[2001:2::1]:53/udp", "fwmark 5" or "fwmark 5/ipv6"
 */
export function formatService(s: ServiceSpec): string {
  if (s.fwmark) return `fwmark ${s.fwmark}${s.af === AF_INET6 ? "/ipv6" : ""}`;
  return `${formatHostPort(s.addr, s.port)}/${protocolName(s.protocol)}`;
}

/**
 * @param d a dest spec
 * @returns "198.18.1.1:8080" or "[2001:2:0:1::1]:8080"
 */
export function formatDest(d: DestSpec): string {
  return formatHostPort(d.addr, d.port);
}

// ---------------------------------------------------------------------------------------
// One line.

interface LineState {
  cmd: string;
  seen: Set<string>;
  protocol: number;
  af: Af;
  addr: Uint8Array;
  port: number;
  fwmark: number;
  schedName: string;
  flags: number;
  timeout: number;
  netmask: number;
  pe: string;
  schedFlagsArg: string | undefined;
  dest: DestSpec | undefined;
  fwdGiven: boolean;
  tunTypeName: string;
}

/**
 * Tokenises one line as `ipvsadm -R` does: split on blanks, tabs and CR; the word
 * `ipvsadm` is dropped wherever it appears; no quoting.
 *
 * @param text one line
 * @returns the words
 */
export function tokenizeLine(text: string): string[] {
  return text.split(/[ \t\r]+/).filter((w) => w !== "" && w !== "ipvsadm");
}

/**
 * Parses and validates one `-A` or `-a` command line.
 *
 * @param words the line's words (see {@linkcode tokenizeLine})
 * @param line 1-based line number, for messages
 * @returns the operation
 * @throws IpvsError with ipvsadm's text, or naming an unsupported feature
 */
export function parseRuleWords(words: string[], line: number): Rule {
  const st: LineState = {
    cmd: "",
    seen: new Set(),
    protocol: 0,
    af: AF_INET,
    addr: new Uint8Array(4),
    port: 0,
    fwmark: 0,
    schedName: "",
    flags: 0,
    timeout: 0,
    netmask: 0xffffffff,
    pe: "",
    schedFlagsArg: undefined,
    dest: undefined,
    fwdGiven: false,
    tunTypeName: "ipip",
  };
  const leftovers: string[] = [];
  // `ipvsadm -R`: a line whose first word is not an option gives the "Try" line.
  if (words.length === 0 || !words[0].startsWith("-") || words[0] === "-") {
    throw usageError(TRY_HELP, line, "a line must start with a command", EXIT_PARSE);
  }
  let i = 0;
  const takeArg = (
    def: OptDef,
    attached: string | undefined,
    shown: string,
  ): string | undefined => {
    if (attached !== undefined || def.arg === Arg.None) return attached;
    const next = words[i];
    if (def.arg === Arg.Required) {
      if (next === undefined) {
        throw usageError(`${shown}: missing argument`, line, undefined, EXIT_PARSE);
      }
      i++;
      return next;
    }
    // Optional argument (-p): the next word, unless it looks like an option.
    if (next !== undefined && !next.startsWith("-")) {
      i++;
      return next;
    }
    return undefined;
  };
  while (i < words.length) {
    const word = words[i++];
    if (word.startsWith("--") && word.length > 2) {
      const eq = word.indexOf("=");
      const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      const def = LONG.get(name);
      const shown = `--${name}`;
      if (!def) throw usageError(`${shown}: unknown option`, line, undefined, EXIT_PARSE);
      if (def.arg === Arg.None && eq >= 0) {
        throw usageError(`${shown}: option does not take an argument`, line, undefined, EXIT_PARSE);
      }
      applyOption(
        st,
        def,
        takeArg(def, eq < 0 ? undefined : word.slice(eq + 1), shown),
        word,
        line,
      );
    } else if (word.startsWith("-") && word.length > 1) {
      // Bundled short options (-Ln); a value may be attached (-w5, -t198.18.0.1:80).
      for (let j = 1; j < word.length; j++) {
        const def = SHORT.get(word[j]);
        const shown = `-${word[j]}`;
        if (!def) throw usageError(`${shown}: unknown option`, line, undefined, EXIT_PARSE);
        if (def.arg === Arg.None) {
          applyOption(st, def, undefined, shown, line);
          continue;
        }
        const rest = word.slice(j + 1);
        applyOption(st, def, takeArg(def, rest === "" ? undefined : rest, shown), shown, line);
        break;
      }
    } else {
      leftovers.push(word);
    }
  }
  if (st.cmd === "") {
    throw usageError(TRY_HELP, line, "a line must start with a command", EXIT_PARSE);
  }
  if (leftovers.length) throw usageError(`unexpected argument ${leftovers[0]}`, line);
  if (st.cmd !== "add-service" && st.cmd !== "add-server") {
    throw usageError(
      `the '${st.cmd}' command is not accepted in a rules file`,
      line,
      "replay takes -A and -a lines, as ipvsadm -S -n prints them",
    );
  }
  // generic_opt_check: one pass in column order, the first violation is reported.
  const row = ALLOWED[st.cmd];
  for (const col of COLUMNS) {
    const has = st.seen.has(col);
    if (!has && row[col] === "+") {
      throw usageError(`You need to supply the '${col}' option for the '${st.cmd}' command`, line);
    }
    if (has && row[col] === undefined) {
      throw usageError(`Illegal '${col}' option with the '${st.cmd}' command`, line);
    }
  }
  return st.cmd === "add-service" ? finishService(st, line) : finishDest(st, line);
}

function once(st: LineState, name: string, line: number): void {
  if (st.seen.has(name)) throw usageError(`multiple '${name}' options specified`, line);
  st.seen.add(name);
}

function applyOption(
  st: LineState,
  def: OptDef,
  value: string | undefined,
  shown: string,
  line: number,
): void {
  if (def.command) {
    if (st.cmd !== "") throw usageError(`invalid option \`${shown}'`, line);
    st.cmd = def.name;
    return;
  }
  if (st.cmd === "") {
    throw usageError(TRY_HELP, line, "a line must start with a command", EXIT_PARSE);
  }
  const v = value ?? "";
  switch (def.name) {
    case "service-address": {
      once(st, def.name, line);
      if (def.variant === "fwmark") {
        st.fwmark = parseFwmark(v, line);
        st.protocol = 0;
        st.af = AF_INET;
        st.addr = new Uint8Array(4);
        st.port = 0;
        return;
      }
      st.protocol = def.variant === "tcp"
        ? IPPROTO_TCP
        : def.variant === "udp"
        ? IPPROTO_UDP
        : IPPROTO_SCTP;
      const r = parseHostPort(v);
      if (!r.ok) {
        throw usageError("illegal virtual server address[:port] specified", line, r.reason);
      }
      st.af = r.af;
      st.addr = r.addr;
      st.port = r.port ?? 0;
      if (r.af === AF_INET6) st.netmask = 128;
      return;
    }
    case "ipv6":
      // Only meaningful after -f; the address family of -t/-u comes from the address.
      if (!st.fwmark) throw usageError("-6 used before -f", line);
      st.af = AF_INET6;
      st.addr = new Uint8Array(16);
      st.netmask = 128;
      return;
    case "scheduler":
      once(st, def.name, line);
      st.schedName = v.slice(0, 15); // IP_VS_SCHEDNAME_MAXLEN - 1
      return;
    case "persistent": {
      once(st, def.name, line);
      st.flags |= IP_VS_SVC_F_PERSISTENT;
      if (value === undefined) {
        st.timeout = DEFAULT_PERSISTENCE;
      } else {
        st.timeout = stringToNumber(value, 1, MAX_PERSISTENCE);
        if (st.timeout < 0) throw usageError(`invalid timeout value \`${value}' specified`, line);
      }
      return;
    }
    case "netmask": {
      once(st, def.name, line);
      if (st.af !== AF_INET6) {
        // inet_aton, so "-M 24" is 0.0.0.24 without complaint, as in ipvsadm.
        const m = inetAton(v);
        if (!m) throw usageError("illegal virtual server persistent mask specified", line);
        st.netmask = ((m[0] << 24) | (m[1] << 16) | (m[2] << 8) | m[3]) >>> 0;
      } else {
        const n = atoi(v);
        if (n < 1 || n > 128) throw usageError("illegal ipv6 netmask specified", line);
        st.netmask = n;
      }
      return;
    }
    case "pe":
      once(st, def.name, line);
      st.pe = v.slice(0, 16);
      return;
    case "sched-flags":
      once(st, def.name, line);
      st.schedFlagsArg = v;
      return;
    case "ops":
      once(st, def.name, line);
      st.flags |= IP_VS_SVC_F_ONEPACKET;
      return;
    case "real-server": {
      once(st, def.name, line);
      const r = parseHostPort(v);
      if (!r.ok) throw usageError("illegal real server address[:port] specified", line, r.reason);
      const d = destOf(st);
      d.af = r.af;
      d.addr = r.addr;
      // Without a port, -r takes the service port parsed so far (0 if -r comes first).
      d.port = r.port ?? st.port;
      return;
    }
    case "forwarding-method":
      once(st, def.name, line);
      destOf(st).fwd = def.variant === "m"
        ? IP_VS_CONN_F_MASQ
        : def.variant === "i"
        ? IP_VS_CONN_F_TUNNEL
        : IP_VS_CONN_F_DROUTE;
      st.fwdGiven = true;
      return;
    case "weight":
      once(st, def.name, line);
      // Debian's patched range (0..INT_MAX), which Appendix A recommends.
      destOf(st).weight = stringToNumber(v, 0, INT_MAX);
      if (destOf(st).weight < 0) throw usageError("illegal weight specified", line);
      return;
    case "u-threshold":
      once(st, def.name, line);
      destOf(st).uThreshold = stringToNumber(v, 0, INT_MAX);
      if (destOf(st).uThreshold < 0) throw usageError("illegal u_threshold specified", line);
      return;
    case "l-threshold":
      once(st, def.name, line);
      destOf(st).lThreshold = stringToNumber(v, 0, INT_MAX);
      if (destOf(st).lThreshold < 0) throw usageError("illegal l_threshold specified", line);
      return;
    case "tun-type": {
      once(st, def.name, line);
      const t = TUN_TYPES[v];
      if (!t) throw usageError("illegal tunnel type specified", line);
      st.tunTypeName = v;
      destOf(st).tunType = t.id;
      return;
    }
    case "tun-port":
      once(st, def.name, line);
      destOf(st).tunPort = stringToNumber(v, 1, 65535);
      if (destOf(st).tunPort < 0) throw usageError("illegal tunnel port specified", line);
      return;
    case "tun-nocsum":
    case "tun-csum":
    case "tun-remcsum":
      once(st, def.name, line);
      destOf(st).tunFlags = def.name === "tun-nocsum" ? 0 : def.name === "tun-csum" ? 1 : 2;
      return;
    case "sort":
      return;
    default:
      // Listing and daemon options: recorded so that generic_opt_check reports them.
      once(st, def.name, line);
      return;
  }
}

/** ipvsadm's `parse_fwmark` (1..4294967295), also accepting the signed form Debian prints. */
function parseFwmark(v: string, line: number): number {
  const m = /^[ \t]*(-?[0-9]+)$/.exec(v);
  let n = m ? Number(m[1]) : NaN;
  if (n < 0 && n >= -2147483648) n += 2 ** 32;
  if (!(n >= 1 && n <= 0xffffffff)) {
    throw usageError(`invalid fwmark value \`${v}' specified`, line);
  }
  return n;
}

/** C `atoi`: leading blanks, a sign, then digits up to the first non-digit (0 if none). */
function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?[0-9]+)/.exec(s);
  return m ? Number(m[1]) : 0;
}

function destOf(st: LineState): DestSpec {
  st.dest ??= {
    af: AF_INET,
    addr: new Uint8Array(4),
    port: 0,
    fwd: IP_VS_CONN_F_DROUTE,
    weight: 1,
    uThreshold: 0,
    lThreshold: 0,
    tunType: IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
    tunPort: 0,
    tunFlags: 0,
  };
  return st.dest;
}

function serviceOf(st: LineState, sched: number): ServiceSpec {
  return {
    af: st.af,
    protocol: st.protocol,
    addr: st.addr,
    port: st.port,
    fwmark: st.fwmark,
    sched,
    flags: st.flags,
    timeout: st.timeout,
    netmask: st.netmask,
  };
}

function finishService(st: LineState, line: number): ServiceRule {
  const persistent = (st.flags & IP_VS_SVC_F_PERSISTENT) !== 0;
  if (!st.fwmark && st.port === 0 && !persistent) {
    throw usageError("Zero port specified for non-persistent service", line);
  }
  if ((st.flags & IP_VS_SVC_F_ONEPACKET) && !st.fwmark && st.protocol !== IPPROTO_UDP) {
    throw usageError("One-Packet Scheduling is only for UDP virtual services", line);
  }
  const schedName = st.schedName === "" ? DEFAULT_SCHEDULER : st.schedName;
  if (st.schedFlagsArg !== undefined && st.schedFlagsArg !== "") {
    const items = st.schedFlagsArg.split(",").filter((f) => f !== "");
    // "-b ," crashes ipvsadm 1.31; Appendix A asks for this error instead.
    if (items.length === 0) throw usageError(`invalid scheduler flag \`${st.schedFlagsArg}'`, line);
    for (const f of items) {
      const flag = SCHED_FLAGS[f];
      if (!flag) throw usageError(`invalid scheduler flag \`${f}'`, line);
      if (flag.sched && flag.sched !== schedName) {
        throw usageError(`incompatible scheduler flag \`${f}'`, line);
      }
      st.flags |= flag.bit;
    }
  }
  const label = formatService(serviceOf(st, 0));
  // What this engine implements; everything else is refused by name.
  if (st.protocol === IPPROTO_SCTP) throw unsupportedError("an SCTP service", line);
  if (!(schedName in SCHEDULERS)) {
    if (KERNEL_SCHEDULERS.includes(schedName)) {
      throw unsupportedError(`scheduler '${schedName}'`, line, ENOENT);
    }
    throw kernelError("add-service", ENOENT, label, line, `scheduler '${schedName}' not found`);
  }
  if (persistent) throw unsupportedError("persistence (-p)", line);
  if (st.pe !== "") throw unsupportedError(`persistence engine '${st.pe}' (--pe)`, line);
  if (st.flags & IP_VS_SVC_F_ONEPACKET) throw unsupportedError("one-packet scheduling (-o)", line);
  return { cmd: "add-service", line, service: serviceOf(st, SCHEDULERS[schedName]), schedName };
}

function finishDest(st: LineState, line: number): DestRule {
  const d = destOf(st);
  if (!st.fwdGiven) d.fwd = IP_VS_CONN_F_DROUTE;
  // §1.5 item 3, the forced virtual port: DR and TUN real servers of a non-fwmark service
  // get the service port, whatever port was typed (-m keeps it).
  if ((d.fwd === IP_VS_CONN_F_DROUTE || d.fwd === IP_VS_CONN_F_TUNNEL) && !st.fwmark) {
    d.port = st.port;
  }
  if (d.af !== st.af && d.fwd !== IP_VS_CONN_F_TUNNEL) {
    throw usageError("Different address family is allowed only for tunneling servers", line);
  }
  const tunOpts = ["tun-type", ...TUN_COLUMNS].filter((o) => st.seen.has(o));
  if (tunOpts.length && d.fwd !== IP_VS_CONN_F_TUNNEL) {
    throw usageError("Tunnel options conflict with forward method", line);
  }
  if (d.fwd === IP_VS_CONN_F_TUNNEL) {
    const type = TUN_TYPES[st.tunTypeName];
    let oneSeen: string | undefined;
    for (const col of TUN_COLUMNS) {
      const has = st.seen.has(col);
      const rule = type.opts[col];
      if (!has && rule === "+") {
        throw usageError(
          `You need to supply the '${col}' option for the '${st.tunTypeName}' tunnel type`,
          line,
        );
      }
      if (has && rule === undefined) {
        throw usageError(`Illegal '${col}' option with the '${st.tunTypeName}' tunnel type`, line);
      }
      if (has && rule === "1") {
        if (oneSeen) {
          throw usageError(
            `The option '${col}' conflicts with the '${oneSeen}' option in the '${st.tunTypeName}' tunnel type`,
            line,
          );
        }
        oneSeen = col;
      }
    }
  }
  const service = serviceOf(st, 0);
  if (st.protocol === IPPROTO_SCTP) throw unsupportedError("an SCTP service", line);
  if (d.fwd === IP_VS_CONN_F_TUNNEL && d.tunType !== IP_VS_CONN_F_TUNNEL_TYPE_IPIP) {
    throw unsupportedError(`tunnel type '${st.tunTypeName}'`, line);
  }
  return { cmd: "add-server", line, service, dest: d };
}

/**
 * Parses a rules file in ipvsadm-save format. Blank lines are skipped; lines starting
 * with `#` are comments (a WVS extension: `ipvsadm -R` itself rejects them, while
 * `ipvsadm-restore` and Debian's init script strip them first).
 *
 * @param text the whole file
 * @returns the operations in file order
 * @throws IpvsError for the first bad line, its message starting with "line N: "
 *
 * @example
 * ```ts
 * import { parseRules } from "./rules.ts";
 * const rules = parseRules("-A -t 198.18.0.1:80 -s rr\n-a -t 198.18.0.1:80 -r 198.18.1.1:8080 -m -w 1\n");
 * if (rules.length !== 2 || rules[1].cmd !== "add-server" || rules[1].dest.port !== 8080) throw new Error();
 * ```
 */
export function parseRules(text: string): Rule[] {
  const rules: Rule[] = [];
  text.split("\n").forEach((raw, idx) => {
    const words = tokenizeLine(raw);
    if (words.length === 0 || words[0].startsWith("#")) return;
    rules.push(parseRuleWords(words, idx + 1));
  });
  return rules;
}
