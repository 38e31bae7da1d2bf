// Parser of rules files in ipvsadm-save format (`ipvsadm -S -n`): `-A` and `-a` lines into
// validated ServiceSpec / DestSpec operations. Runtime-agnostic.
// Mirrors ipvsadm.c `parse_options` + `process_options` + `generic_opt_check` and
// config_stream.c (how `-R` tokenises a line): spec ipvs-control-plane.md §1 and §3.3.
// Invariants: every message is ipvsadm's own text, prefixed with the line number; anything
// IPVS accepts but this engine does not implement is an error, never silently ignored.

import { AF_INET6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP } from "../engine/abi.gen.ts";
import type { DestSpec, ServiceSpec } from "../engine/engine.ts";
import { formatHostPort } from "./addr.ts";
import { parseCommand } from "./cli.ts";
import type { ServiceId } from "./command.ts";
import { ENOENT, kernelError, usageError } from "./errors.ts";
import {
  destRefusal,
  KERNEL_PES,
  KERNEL_SCHEDULERS,
  schedulerId,
  serviceRefusal,
} from "./support.ts";

/** An `-A` line. */
export interface ServiceRule {
  cmd: "add-service";
  /** 1-based line number in the rules text. */
  line: number;
  service: ServiceSpec;
  /** Scheduler name as written (or the default). */
  schedName: string;
  /** Persistence engine ("" for none). */
  pe?: string;
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
export function serviceKey(s: ServiceId): string {
  if (s.fwmark) return `f/${s.af}/${s.fwmark}`;
  const a = s.addr;
  let addr = "";
  for (let i = 0; i < a.length; i += 4) {
    addr += ((a[i] << 24 | a[i + 1] << 16 | a[i + 2] << 8 | a[i + 3]) >>> 0) + ".";
  }
  return `${s.af}/${s.protocol}/${addr}/${s.port}`;
}

/**
 * @param s a service spec
 * @returns "198.18.0.1:80/tcp", "[2001:2::1]:53/udp", "fwmark 5" or "fwmark 5/ipv6"
 */
export function formatService(s: ServiceId): string {
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
 * Parses and validates one `-A` or `-a` command line: ipvsadm's grammar (cli.ts), the
 * kernel's scheduler lookup, then what the engines implement (support.ts).
 *
 * @param words the line's words (see {@linkcode tokenizeLine})
 * @param line 1-based line number, for messages
 * @returns the operation
 * @throws IpvsError with ipvsadm's text, or naming an unsupported feature
 */
export function parseRuleWords(words: string[], line: number): Rule {
  const c = parseCommand(words, { line, inRestore: true });
  if (c.cmd === "add-service") {
    const s = c.service;
    const label = formatService(s);
    if (!KERNEL_SCHEDULERS.includes(s.schedName)) {
      throw kernelError("add-service", ENOENT, label, line, `scheduler '${s.schedName}' not found`);
    }
    if (s.pe !== "" && !KERNEL_PES.includes(s.pe)) {
      throw kernelError(
        "add-service",
        ENOENT,
        label,
        line,
        `persistence engine '${s.pe}' not found`,
      );
    }
    const refusal = serviceRefusal(s, line);
    if (refusal) throw refusal;
    const service: ServiceSpec = {
      af: s.af,
      protocol: s.protocol,
      addr: s.addr,
      port: s.port,
      fwmark: s.fwmark,
      sched: schedulerId(s.schedName)!,
      flags: s.flags,
      timeout: s.timeout,
      netmask: s.netmask,
    };
    return { cmd: "add-service", line, service, schedName: s.schedName, pe: s.pe };
  }
  if (c.cmd === "add-server") {
    const refusal = destRefusal(c.dest, line);
    if (refusal) throw refusal;
    const service: ServiceSpec = { ...c.service, sched: 0, flags: 0, timeout: 0, netmask: 0 };
    return { cmd: "add-server", line, service, dest: c.dest };
  }
  throw usageError(
    `the '${c.cmd}' command is not accepted in a rules file`,
    line,
    "replay takes -A and -a lines, as ipvsadm -S -n prints them",
  );
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
