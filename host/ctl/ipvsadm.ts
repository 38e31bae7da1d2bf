// One ipvsadm invocation as a function: argv and stdin in; stdout, stderr and exit status
// out, byte for byte as ipvsadm 1.31 gives them. Runtime-agnostic: the daemon runs it on
// behalf of `wvsadm`, and tests run it in-process.
// Mirrors ipvsadm.c `main`, `process_options` and `restore_table` (spec
// ipvs-control-plane.md §1, §3.3), with one deliberate difference: `-R` applies its whole
// input or nothing, and names the line that failed (ipvsadm applies lines one by one).

import type { NameResolver } from "./addr.ts";
import { parseCommand, SIX_BEFORE_F } from "./cli.ts";
import type { Command } from "./command.ts";
import type { BatchItem, Controller } from "./commands.ts";
import { IpvsError } from "./errors.ts";
import { tokenizeLine } from "./rules.ts";

/** What an invocation printed and returned. */
export interface CliResult {
  stdout: string;
  stderr: string;
  status: number;
}

/** Options of {@linkcode runIpvsadm}. */
export interface RunOptions {
  /** Program name as invoked (argv[0]), for the "Try" line and `-h`. Default "ipvsadm". */
  prog?: string;
  /** Host and service name lookups. */
  resolver?: NameResolver;
}

/** `ipvsadm` with no arguments: `list_all(FMT_NONE)`, names resolved. */
const LIST_ALL: Command = {
  cmd: "list",
  view: "services",
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
};

/**
 * What ipvsadm prints on stderr for an error: its text and a newline; ipvsadm's
 * `fail(2, "-6 used before -f\n")` adds an empty line; for a feature the engines lack, the
 * reason follows ipvsadm's text in parentheses.
 *
 * @param e the error
 * @returns the stderr text
 */
export function errorText(e: IpvsError): string {
  if (e.text === SIX_BEFORE_F) return `${e.text}\n\n`;
  const detail = e.message.replace(/^line \d+: /, "");
  if (e.unsupported && detail !== e.text) return `${e.text} (${detail})\n`;
  return `${e.text}\n`;
}

function failed(e: unknown, stdout = ""): CliResult {
  if (!(e instanceof IpvsError)) throw e;
  return { stdout, stderr: errorText(e), status: e.status };
}

/**
 * Parses `-R` input: one command per line, tokenised as ipvsadm does; blank lines and lines
 * holding only the word `ipvsadm` are skipped, and so are lines starting with `#` (a WVS
 * extension: ipvsadm itself rejects them, its wrapper scripts strip them).
 *
 * @param text the input
 * @param opts program name and resolver
 * @returns the commands with their line numbers
 * @throws IpvsError for the first line that does not parse (its `line` set)
 */
export function parseRestore(text: string, opts: RunOptions = {}): BatchItem[] {
  const items: BatchItem[] = [];
  text.split("\n").forEach((raw, i) => {
    const words = tokenizeLine(raw);
    if (words.length === 0 || words[0].startsWith("#")) return;
    const line = i + 1;
    items.push({ command: parseCommand(words, { ...opts, line, inRestore: true }), line });
  });
  return items;
}

/**
 * Runs one ipvsadm command line against a controller.
 *
 * @param argv the arguments after the program name
 * @param stdin standard input (read by `-R` only)
 * @param ctl the controller holding the configuration
 * @param opts program name and name lookups
 * @returns stdout, stderr and the exit status
 *
 * @example
 * ```ts
 * import { Controller } from "./commands.ts";
 * import { runIpvsadm } from "./ipvsadm.ts";
 * const ctl = new Controller();
 * const r = runIpvsadm(["-A", "-t", "198.18.0.1:80", "-s", "rr"], "", ctl);
 * const dup = runIpvsadm(["-A", "-t", "198.18.0.1:80", "-s", "rr"], "", ctl);
 * if (r.status !== 0 || dup.stderr !== "Service already exists\n" || dup.status !== 255) throw new Error();
 * ```
 */
export function runIpvsadm(
  argv: readonly string[],
  stdin: string,
  ctl: Controller,
  opts: RunOptions = {},
): CliResult {
  let command: Command;
  try {
    command = argv.length === 0 ? LIST_ALL : parseCommand(argv, opts);
  } catch (e) {
    return failed(e);
  }
  if (command.cmd === "restore") return restore(stdin, ctl, opts);
  try {
    return { stdout: ctl.execute(command), stderr: "", status: 0 };
  } catch (e) {
    return failed(e);
  }
}

/** `-R`, all or nothing: parse every line, then run them as one batch. */
function restore(stdin: string, ctl: Controller, opts: RunOptions): CliResult {
  const lines = stdin.split("\n");
  const where = (e: unknown): string => {
    const line = e instanceof IpvsError ? e.line : undefined;
    if (line === undefined) return "";
    return `Restore failed at line ${line}, nothing was applied: ${lines[line - 1].trim()}\n`;
  };
  let items: BatchItem[];
  try {
    items = parseRestore(stdin, opts);
  } catch (e) {
    const r = failed(e);
    return { ...r, stderr: r.stderr + where(e) };
  }
  try {
    return { stdout: ctl.executeBatch(items), stderr: "", status: 0 };
  } catch (e) {
    const r = failed(e);
    return { ...r, stderr: r.stderr + where(e) };
  }
}
