// ipvsadm's command line: argv (or one `-R` line) → a validated Command, with ipvsadm's
// exact messages and exit statuses. Runtime-agnostic.
// Mirrors ipvsadm.c `parse_options` (a popt loop: options act left to right as they are
// read), `process_options` (generic_opt_check, then the per-command checks) and popt's own
// errors: spec ipvs-control-plane.md §1.1–§1.5, §2, and the errata at its end.
// Invariant: every check that ipvsadm makes before talking to the kernel is made here, in
// ipvsadm's order, so the first error reported is the one ipvsadm reports.
// Over 600 lines on purpose: it is one ordered procedure (scan, options, leftovers, flags,
// generic check, per-command checks); split up, the order that decides which error wins
// would be spread over files.

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
} from "../engine/abi.gen.ts";
import type { DestSpec } from "../engine/engine.ts";
import {
  ALLOWED,
  Arg,
  COLUMNS,
  LONG,
  type OptDef,
  SCHED_FLAGS,
  SHORT,
  TUN_COLUMNS,
  TUN_TYPES,
} from "./_ipvsadm_options.ts";
import {
  addrBytes,
  inetAton,
  inetPton4,
  inetPton6,
  type NameResolver,
  parseHostPort,
  type ServProto,
  stringToNumber,
} from "./addr.ts";
import type { Command, DaemonConf, ListFormat, ServiceConf } from "./command.ts";
import { EXIT_PARSE, type IpvsError, usageError } from "./errors.ts";

/** ipvsadm's default scheduler (§5.1). */
export const DEFAULT_SCHEDULER = "wlc";
/** `-p` without a value: 360 s (libipvs IPVS_SVC_PERSISTENT_TIMEOUT; the man page's 300 is wrong). */
export const DEFAULT_PERSISTENCE = 360;
/** Largest `-p` and `--set` value: 31 days. */
export const MAX_TIMEOUT = 2678400;
const INT_MAX = 2147483647;
/** ipvsadm's `fail(2, "-6 used before -f\n")` prints an extra empty line after this text. */
export const SIX_BEFORE_F = "-6 used before -f";

/** Options of {@linkcode parseCommand}. */
export interface ParseOptions {
  /** Host and service name lookups (none: only numeric addresses and ports). */
  resolver?: NameResolver;
  /** Program name as invoked (ipvsadm's argv[0]), for the "Try" line. Default "ipvsadm". */
  prog?: string;
  /** 1-based line of `-R` input, for messages. */
  line?: number;
  /** Parsing a `-R` line: `-R` itself gives the "Try" line (ipvsadm's loop guard). */
  inRestore?: boolean;
}

/**
 * The line ipvsadm prints when the first option is not a command.
 *
 * @param prog program name as invoked
 * @returns the text (no newline)
 */
export function tryHelpText(prog = "ipvsadm"): string {
  return `Try \`${prog} -h' or '${prog} --help' for more information.`;
}

type Event =
  | { kind: "opt"; def: OptDef; value: string | undefined; word: string }
  | { kind: "leftover"; word: string }
  | { kind: "error"; word: string; msg: string };

/** popt's scan of argv: options (short clusters, --long[=value]) and leftover words. */
function* scan(argv: readonly string[]): Generator<Event> {
  let rest = false;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (rest || !word.startsWith("-") || word === "-") {
      yield { kind: "leftover", word };
      continue;
    }
    if (word === "--") {
      rest = true;
      continue;
    }
    const takeNext = (optional: boolean): string | undefined => {
      const next = argv[i + 1];
      if (next === undefined || (optional && next.startsWith("-"))) return undefined;
      i++;
      return next;
    };
    if (word.startsWith("--")) {
      const eq = word.indexOf("=");
      const def = LONG.get(eq < 0 ? word.slice(2) : word.slice(2, eq));
      if (!def) {
        yield { kind: "error", word, msg: "unknown option" };
        return;
      }
      if (def.arg === Arg.None) {
        if (eq >= 0) {
          yield { kind: "error", word, msg: "option does not take an argument" };
          return;
        }
        yield { kind: "opt", def, value: undefined, word };
        continue;
      }
      const value = eq >= 0 ? word.slice(eq + 1) : takeNext(def.arg === Arg.Optional);
      if (value === undefined && def.arg === Arg.Required) {
        yield { kind: "error", word, msg: "missing argument" };
        return;
      }
      yield { kind: "opt", def, value, word };
      continue;
    }
    for (let j = 1; j < word.length; j++) {
      const def = SHORT.get(word[j]);
      if (!def) {
        yield { kind: "error", word, msg: "unknown option" };
        return;
      }
      if (def.arg === Arg.None) {
        yield { kind: "opt", def, value: undefined, word };
        continue;
      }
      const attached = word.slice(j + 1);
      const value = attached !== "" ? attached : takeNext(def.arg === Arg.Optional);
      if (value === undefined && def.arg === Arg.Required) {
        yield { kind: "error", word, msg: "missing argument" };
        return;
      }
      yield { kind: "opt", def, value, word };
      break;
    }
  }
}

interface State {
  cmd: string;
  seen: Set<string>;
  svc: ServiceConf;
  /** Protocol for named-port lookups (fwmark services count as TCP). */
  lookupProto: ServProto | undefined;
  dest: DestSpec;
  tunTypeName: string;
  schedFlagsArg: string;
  daemon: DaemonConf;
  format: ListFormat;
  leftovers: string[];
  opts: ParseOptions;
}

/**
 * Parses and validates one ipvsadm command line, as ipvsadm 1.31 does before it sends
 * anything to the kernel.
 *
 * @param argv the words after the program name (at least one)
 * @param opts name lookups, program name, `-R` line number
 * @returns the command
 * @throws IpvsError with ipvsadm's text and exit status (2, or 255 for popt errors and "Try")
 *
 * @example
 * ```ts
 * import { parseCommand } from "./cli.ts";
 * const c = parseCommand(["-a", "-t", "198.18.0.1:80", "-r", "198.18.1.1:8080", "-m", "-w", "3"]);
 * if (c.cmd !== "add-server" || c.dest.port !== 8080 || c.dest.weight !== 3) throw new Error();
 * ```
 */
export function parseCommand(argv: readonly string[], opts: ParseOptions = {}): Command {
  const st: State = {
    cmd: "",
    seen: new Set(),
    svc: {
      af: AF_INET,
      protocol: 0,
      addr: addrBytes(4),
      port: 0,
      fwmark: 0,
      schedName: "",
      flags: 0,
      timeout: 0,
      netmask: 0xffffffff,
      pe: "",
    },
    lookupProto: undefined,
    dest: {
      af: AF_INET,
      addr: addrBytes(4),
      port: 0,
      fwd: IP_VS_CONN_F_DROUTE,
      weight: 1,
      uThreshold: 0,
      lThreshold: 0,
      tunType: IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
      tunPort: 0,
      tunFlags: 0,
    },
    tunTypeName: "ipip",
    schedFlagsArg: "",
    daemon: {
      state: "master",
      mcastIfn: "",
      syncid: 0,
      syncMaxlen: 0,
      mcastGroup: "",
      mcastPort: 0,
      mcastTtl: 0,
    },
    format: {
      numeric: false,
      exact: false,
      nosort: false,
      stats: false,
      rate: false,
      thresholds: false,
      persistentConn: false,
      tunInfo: false,
    },
    leftovers: [],
    opts,
  };
  const fail = (text: string, detail?: string, status?: number): IpvsError =>
    usageError(text, opts.line, detail, status);
  const tryHelp = () =>
    fail(
      tryHelpText(opts.prog),
      opts.line === undefined
        ? "the first option must be a command"
        : "a line must start with a command",
      EXIT_PARSE,
    );

  const events = scan(argv);
  // The first option must be a command; popt errors there also give the "Try" line.
  for (;;) {
    const ev = events.next();
    if (ev.done) throw tryHelp();
    const e = ev.value;
    if (e.kind === "leftover") {
      st.leftovers.push(e.word);
      continue;
    }
    if (e.kind === "error" || !e.def.command) throw tryHelp();
    if (e.def.name === "help") return { cmd: "help" };
    if (e.def.name === "version") return { cmd: "version" };
    if (e.def.name === "restore" && opts.inRestore) throw tryHelp();
    st.cmd = e.def.name;
    if (st.cmd === "start-daemon" || st.cmd === "stop-daemon") {
      if (e.value === "master" || e.value === "backup") st.daemon.state = e.value;
      else {
        throw fail(
          st.cmd === "start-daemon"
            ? "illegal start-daemon parameter specified"
            : "illegal start_daemon specified",
        );
      }
    }
    break;
  }
  for (const e of events) {
    if (e.kind === "leftover") st.leftovers.push(e.word);
    else if (e.kind === "error") throw fail(`${e.word}: ${e.msg}`, undefined, EXIT_PARSE);
    else applyOption(st, e.def, e.value ?? "", e.value === undefined, e.word, fail);
  }
  let times: number[] = [];
  if (st.cmd === "set") {
    if (st.leftovers.length < 3) throw fail("--set option requires 3 timeout values");
    times = st.leftovers.splice(0, 3).map((v) => parseTimeout(v, 0, fail));
  }
  if (st.leftovers.length) throw fail(`unexpected argument ${st.leftovers[0]}`);
  if (st.schedFlagsArg !== "") {
    st.svc.flags |= parseSchedFlags(st.svc.schedName, st.schedFlagsArg, fail);
  }
  genericOptCheck(st.cmd, st.seen, fail);
  return finish(st, times, fail);
}

type Fail = (text: string, detail?: string, status?: number) => IpvsError;

function once(st: State, name: string, fail: Fail): void {
  if (st.seen.has(name)) throw fail(`multiple '${name}' options specified`);
  st.seen.add(name);
}

function parseTimeout(v: string, min: number, fail: Fail): number {
  const n = stringToNumber(v, min, MAX_TIMEOUT);
  if (n < 0) throw fail(`invalid timeout value \`${v}' specified`);
  return n;
}

/** C `atoi`: leading blanks, a sign, then digits up to the first non-digit (0 if none). */
function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?[0-9]+)/.exec(s);
  return m ? Number(m[1]) : 0;
}

/** ipvsadm's `parse_fwmark` (1..4294967295), also taking the signed form Debian prints. */
function parseFwmark(v: string, fail: Fail): number {
  const m = /^[ \t\n\v\f\r]*([+-]?[0-9]+)$/.exec(v);
  let n = m ? Number(m[1]) : NaN;
  // Debian's unpatched 1.31 saves marks above 2^31 - 1 as negative numbers (Appendix A).
  if (n < 0 && n >= -2147483648) n += 2 ** 32;
  if (!(n >= 1 && n <= 0xffffffff)) throw fail(`invalid fwmark value \`${v}' specified`);
  return n;
}

function applyOption(
  st: State,
  def: OptDef,
  v: string,
  absent: boolean,
  word: string,
  fail: Fail,
): void {
  if (def.command) throw fail(`invalid option \`${word}'`);
  const num = (name: string, min: number, max: number, text: string): number => {
    once(st, name, fail);
    const n = stringToNumber(v, min, max);
    if (n < 0) throw fail(text);
    return n;
  };
  const lookup = { resolver: st.opts.resolver, protocol: st.lookupProto };
  switch (def.name) {
    case "service-address": {
      once(st, def.name, fail);
      if (def.variant === "fwmark") {
        st.svc.fwmark = parseFwmark(v, fail);
        st.svc.af = AF_INET;
        st.svc.protocol = 0;
        st.svc.addr = addrBytes(4);
        st.svc.port = 0;
        st.lookupProto = "tcp";
        return;
      }
      st.lookupProto = def.variant as ServProto;
      st.svc.protocol = def.variant === "tcp"
        ? IPPROTO_TCP
        : def.variant === "udp"
        ? IPPROTO_UDP
        : IPPROTO_SCTP;
      const r = parseHostPort(v, { ...lookup, protocol: st.lookupProto });
      if (!r.ok) throw fail("illegal virtual server address[:port] specified", r.reason);
      st.svc.af = r.af;
      st.svc.addr = r.addr;
      st.svc.port = r.port ?? 0;
      if (r.af === AF_INET6) st.svc.netmask = 128;
      return;
    }
    case "ipv6":
      // Only after -f: the family of -t/-u comes from the address itself.
      if (!st.svc.fwmark) throw fail(SIX_BEFORE_F);
      st.svc.af = AF_INET6;
      st.svc.addr = addrBytes(16);
      st.svc.netmask = 128;
      return;
    case "scheduler":
      once(st, def.name, fail);
      st.svc.schedName = v.slice(0, 15); // IP_VS_SCHEDNAME_MAXLEN - 1
      return;
    case "persistent":
      once(st, def.name, fail);
      st.svc.flags |= IP_VS_SVC_F_PERSISTENT;
      st.svc.timeout = absent ? DEFAULT_PERSISTENCE : parseTimeout(v, 1, fail);
      return;
    case "netmask":
      once(st, def.name, fail);
      if (st.svc.af !== AF_INET6) {
        // inet_aton, so "-M 24" is 0.0.0.24 without complaint, as in ipvsadm.
        const m = inetAton(v) ?? st.opts.resolver?.hostToAddr?.(v) ?? null;
        if (!m) throw fail("illegal virtual server persistent mask specified");
        st.svc.netmask = ((m[0] << 24) | (m[1] << 16) | (m[2] << 8) | m[3]) >>> 0;
      } else {
        const n = atoi(v);
        if (n < 1 || n > 128) throw fail("illegal ipv6 netmask specified");
        st.svc.netmask = n;
      }
      return;
    case "pe":
      once(st, def.name, fail);
      st.svc.pe = v.slice(0, 16);
      return;
    case "sched-flags":
      once(st, def.name, fail);
      st.schedFlagsArg = v;
      return;
    case "ops":
      once(st, def.name, fail);
      st.svc.flags |= IP_VS_SVC_F_ONEPACKET;
      return;
    case "real-server": {
      once(st, def.name, fail);
      const r = parseHostPort(v, lookup);
      if (!r.ok) throw fail("illegal real server address[:port] specified", r.reason);
      st.dest.af = r.af;
      st.dest.addr = r.addr;
      // Without a port, -r takes the service port parsed so far (0 if -r comes first).
      st.dest.port = r.port ?? st.svc.port;
      return;
    }
    case "forwarding-method":
      once(st, def.name, fail);
      st.dest.fwd = def.variant === "m"
        ? IP_VS_CONN_F_MASQ
        : def.variant === "i"
        ? IP_VS_CONN_F_TUNNEL
        : IP_VS_CONN_F_DROUTE;
      return;
    case "weight":
      // Debian's range (0..INT_MAX), which the kernel takes and Appendix A recommends.
      st.dest.weight = num(def.name, 0, INT_MAX, "illegal weight specified");
      return;
    case "u-threshold":
      st.dest.uThreshold = num(def.name, 0, INT_MAX, "illegal u_threshold specified");
      return;
    case "l-threshold":
      st.dest.lThreshold = num(def.name, 0, INT_MAX, "illegal l_threshold specified");
      return;
    case "tun-type": {
      once(st, def.name, fail);
      const t = TUN_TYPES[v];
      if (!t) throw fail("illegal tunnel type specified");
      st.tunTypeName = v;
      st.dest.tunType = t.id;
      return;
    }
    case "tun-port":
      st.dest.tunPort = num(def.name, 1, 65535, "illegal tunnel port specified");
      return;
    case "tun-nocsum":
    case "tun-csum":
    case "tun-remcsum":
      once(st, def.name, fail);
      st.dest.tunFlags = def.name === "tun-nocsum" ? 0 : def.name === "tun-csum" ? 1 : 2;
      return;
    case "mcast-interface":
      once(st, def.name, fail);
      st.daemon.mcastIfn = v.slice(0, 15);
      return;
    case "syncid":
      st.daemon.syncid = num(def.name, 0, 255, "illegal syncid specified");
      return;
    case "sync-maxlen":
      st.daemon.syncMaxlen = num(def.name, 1, 65535 - 20 - 8, "illegal sync-maxlen specified");
      return;
    case "mcast-port":
      st.daemon.mcastPort = num(def.name, 1, 65535, "illegal mcast-port specified");
      return;
    case "mcast-ttl":
      st.daemon.mcastTtl = num(def.name, 1, 255, "illegal mcast-ttl specified");
      return;
    case "mcast-group": {
      once(st, def.name, fail);
      if (v.includes(":")) {
        const a = inetPton6(v);
        if (!a || a[0] !== 0xff) throw fail(`invalid IPv6 mcast-group \`${v}'`);
      } else {
        const a = inetPton4(v);
        if (!a || (a[0] & 0xf0) !== 0xe0) throw fail(`invalid IPv4 mcast-group \`${v}'`);
      }
      st.daemon.mcastGroup = v;
      return;
    }
    case "sort":
      return; // accepted with any command, not tracked (§1.3)
    default: {
      // Listing options: flags only.
      once(st, def.name, fail);
      const f = st.format;
      if (def.name === "numeric") f.numeric = true;
      else if (def.name === "exact") f.exact = true;
      else if (def.name === "nosort") f.nosort = true;
      else if (def.name === "stats") f.stats = true;
      else if (def.name === "rate") f.rate = true;
      else if (def.name === "thresholds") f.thresholds = true;
      else if (def.name === "persistent-conn") f.persistentConn = true;
      else if (def.name === "tun-info") f.tunInfo = true;
      return;
    }
  }
}

/** ipvsadm's `parse_sched_flags`: comma list, empty items skipped, sh-/mh- flags need their scheduler. */
function parseSchedFlags(schedName: string, arg: string, fail: Fail): number {
  const sched = schedName === "" ? DEFAULT_SCHEDULER : schedName;
  const items = arg.split(",").filter((f) => f !== "");
  // "-b ," crashes ipvsadm 1.31 (strtok finds nothing); Appendix A asks for this error instead.
  if (items.length === 0) throw fail(`invalid scheduler flag \`${arg}'`);
  let flags = 0;
  for (const f of items) {
    const flag = SCHED_FLAGS[f];
    if (!flag) throw fail(`invalid scheduler flag \`${f}'`);
    flags |= flag.bit;
    if (flag.sched && flag.sched !== sched) throw fail(`incompatible scheduler flag \`${f}'`);
  }
  return flags;
}

/** How many options each command requires. */
const REQUIRED: Record<string, number> = Object.fromEntries(
  Object.entries(ALLOWED).map((
    [cmd, row],
  ) => [cmd, Object.values(row).filter((r) => r === "+").length]),
);

/** ipvsadm's `generic_opt_check`: one pass in column order, the first violation wins. */
function genericOptCheck(cmd: string, seen: Set<string>, fail: Fail): void {
  const row = ALLOWED[cmd];
  // Fast path (most lines are fine): every option allowed, at most one of the '1's, and
  // every required one given. Otherwise the walk below finds the error ipvsadm reports.
  let ones = 0, required = 0, ok = true;
  for (const o of seen) {
    const rule = row[o];
    if (rule === undefined) ok = false;
    else if (rule === "1") ones++;
    else if (rule === "+") required++;
  }
  if (ok && ones <= 1 && required === REQUIRED[cmd]) return;
  let first: string | undefined;
  for (const col of COLUMNS) {
    const rule = row[col];
    if (!seen.has(col)) {
      if (rule === "+") {
        throw fail(`You need to supply the '${col}' option for the '${cmd}' command`);
      }
      continue;
    }
    if (rule === undefined) throw fail(`Illegal '${col}' option with the '${cmd}' command`);
    if (rule === "1") {
      if (first !== undefined) {
        throw fail(
          `The option '${col}' conflicts with the '${first}' option in the '${cmd}' command`,
        );
      }
      first = col;
    }
  }
}

/** ipvsadm's `tunnel_opt_check`, the same walk over the tunnel-type table. */
function tunnelOptCheck(typeName: string, seen: Set<string>, fail: Fail): void {
  const type = TUN_TYPES[typeName];
  let first: string | undefined;
  for (const col of TUN_COLUMNS) {
    const rule = type.opts[col];
    if (!seen.has(col)) {
      if (rule === "+") {
        throw fail(`You need to supply the '${col}' option for the '${typeName}' tunnel type`);
      }
      continue;
    }
    if (rule === undefined) {
      throw fail(`Illegal '${col}' option with the '${typeName}' tunnel type`);
    }
    if (rule !== "1") continue;
    if (first !== undefined) {
      throw fail(
        `The option '${col}' conflicts with the '${first}' option in the '${typeName}' tunnel type`,
      );
    }
    first = col;
  }
}

/** The per-command checks of `process_options`, then the command value. */
function finish(st: State, times: number[], fail: Fail): Command {
  const { svc, dest, seen } = st;
  const id = {
    af: svc.af,
    protocol: svc.protocol,
    addr: svc.addr,
    port: svc.port,
    fwmark: svc.fwmark,
  };
  switch (st.cmd) {
    case "add-service":
    case "edit-service":
      if (!svc.fwmark && svc.port === 0 && !(svc.flags & IP_VS_SVC_F_PERSISTENT)) {
        throw fail("Zero port specified for non-persistent service");
      }
      if ((svc.flags & IP_VS_SVC_F_ONEPACKET) && !svc.fwmark && svc.protocol !== IPPROTO_UDP) {
        throw fail("One-Packet Scheduling is only for UDP virtual services");
      }
      if (svc.schedName === "") svc.schedName = DEFAULT_SCHEDULER;
      return { cmd: st.cmd, service: svc };
    case "add-server":
    case "edit-server": {
      // §1.5 item 3, the forced virtual port: DR and TUN real servers of a non-fwmark
      // service get the service port, whatever port was typed (-m keeps it).
      if ((dest.fwd === IP_VS_CONN_F_DROUTE || dest.fwd === IP_VS_CONN_F_TUNNEL) && !svc.fwmark) {
        dest.port = svc.port;
      }
      if (svc.af !== dest.af && dest.fwd !== IP_VS_CONN_F_TUNNEL) {
        throw fail("Different address family is allowed only for tunneling servers");
      }
      if (dest.fwd !== IP_VS_CONN_F_TUNNEL) {
        if (["tun-type", ...TUN_COLUMNS].some((o) => seen.has(o))) {
          throw fail("Tunnel options conflict with forward method");
        }
      } else {
        tunnelOptCheck(st.tunTypeName, seen, fail);
      }
      return { cmd: st.cmd, service: id, dest };
    }
    case "delete-server":
      return { cmd: st.cmd, service: id, dest };
    case "delete-service":
      return { cmd: st.cmd, service: id };
    case "zero":
      return seen.has("service-address") ? { cmd: "zero", service: id } : { cmd: "zero" };
    case "flush":
      return { cmd: "flush" };
    case "restore":
      return { cmd: "restore" };
    case "save":
      return { cmd: "save", numeric: st.format.numeric };
    case "set":
      return { cmd: "set", tcp: times[0], tcpfin: times[1], udp: times[2] };
    case "start-daemon":
      if (st.daemon.mcastIfn === "") st.daemon.mcastIfn = "eth0"; // DEF_MCAST_IFN
      return { cmd: "start-daemon", daemon: st.daemon };
    case "stop-daemon":
      return {
        cmd: "stop-daemon",
        state: st.daemon.state,
        ...(seen.has("syncid") ? { syncid: st.daemon.syncid } : {}),
      };
    default: {
      // list
      const has = (o: string) => seen.has(o);
      if (
        ((has("connection") || has("timeout") || has("daemon")) &&
          (has("stats") || has("rate") || has("thresholds"))) ||
        ((has("timeout") || has("daemon")) && has("persistent-conn"))
      ) {
        throw fail("options conflicts in the list command");
      }
      const view = has("connection")
        ? "connections"
        : has("service-address")
        ? "services"
        : has("timeout")
        ? "timeout"
        : has("daemon")
        ? "daemon"
        : "services";
      return {
        cmd: "list",
        view,
        ...(view === "services" && has("service-address") ? { service: id } : {}),
        format: st.format,
      };
    }
  }
}
