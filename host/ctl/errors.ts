// IpvsError and the one table of ipvsadm's error texts, keyed by (operation, errno).
// Runtime-agnostic. Mirrors libipvs `ipvs_strerror` (the texts ipvsadm prints after a
// kernel request fails, spec ipvs-control-plane.md §1.6) and ipvsadm's exit statuses (§1.7).
// Invariant: the ipvsadm text of an error never varies; detail goes in `message` only.

import { EBUSY, EEXIST, EINVAL, ENOENT, ENOMEM, ERANGE, ESRCH } from "../engine/abi.gen.ts";

// Linux errno values the ABI does not carry (the engines never return them).
export const EPERM = 1;
export const ENODEV = 19;
export const EMSGSIZE = 90;
export const ENOPROTOOPT = 92;
export const EOPNOTSUPP = 95;
export const EAFNOSUPPORT = 97;
export { EBUSY, EEXIST, EINVAL, ENOENT, ENOMEM, ERANGE, ESRCH };

/** Control operations, named as ipvsadm's internal command names (§1.2). */
export type IpvsOp =
  | "add-service"
  | "edit-service"
  | "delete-service"
  | "zero"
  | "add-server"
  | "edit-server"
  | "delete-server"
  | "list"
  | "start-daemon"
  | "stop-daemon";

/** The action phrase of each operation, for "Cannot <action> <subject>: <text>". */
const ACTIONS: Record<IpvsOp, string> = {
  "add-service": "add service",
  "edit-service": "edit service",
  "delete-service": "delete service",
  "zero": "zero service",
  "add-server": "add real server",
  "edit-server": "edit real server",
  "delete-server": "delete real server",
  "list": "list service",
  "start-daemon": "start daemon",
  "stop-daemon": "stop daemon",
};

// libipvs's table: operation-specific rows first, then rows for any operation.
// "*" matches every operation.
const STRERROR: readonly { ops: readonly (IpvsOp | "*")[]; errno: number; text: string }[] = [
  { ops: ["add-service"], errno: EEXIST, text: "Service already exists" },
  {
    ops: ["add-service", "edit-service"],
    errno: ENOENT,
    text: "Scheduler or persistence engine not found",
  },
  {
    ops: ["edit-service", "delete-service", "zero", "list"],
    errno: ESRCH,
    text: "No such service",
  },
  {
    ops: ["add-server", "edit-server", "delete-server"],
    errno: ESRCH,
    text: "Service not defined",
  },
  { ops: ["add-server"], errno: EEXIST, text: "Destination already exists" },
  { ops: ["edit-server", "delete-server"], errno: ENOENT, text: "No such destination" },
  { ops: ["start-daemon"], errno: EEXIST, text: "Daemon has already run" },
  { ops: ["stop-daemon"], errno: ESRCH, text: "No daemon is running" },
  { ops: ["*"], errno: EPERM, text: "Permission denied (you must be root)" },
  // Two spaces after the first full stop, as libipvs prints it.
  {
    ops: ["*"],
    errno: EINVAL,
    text: "Invalid operation.  Possibly wrong module version, address not unicast, ...",
  },
  { ops: ["*"], errno: ENOPROTOOPT, text: "Protocol not available" },
  { ops: ["*"], errno: ENOMEM, text: "Memory allocation problem" },
  { ops: ["*"], errno: EOPNOTSUPP, text: "Operation not supported with IPv6" },
  {
    ops: ["*"],
    errno: EAFNOSUPPORT,
    text: "Operation not supported with specified address family",
  },
  { ops: ["*"], errno: EMSGSIZE, text: "Module is wrong version" },
];

// The C library's strerror for the errnos that reach the fallback in practice.
const LIBC_STRERROR: Record<number, string> = {
  [ENOENT]: "No such file or directory",
  [ESRCH]: "No such process",
  [EEXIST]: "File exists",
  [EBUSY]: "Device or resource busy",
  [ENODEV]: "No such device",
  [ERANGE]: "Numerical result out of range",
};

/**
 * The text ipvsadm prints when operation `op` fails in the kernel with `errno`.
 *
 * @param op the operation (ipvsadm's internal command name)
 * @param errno a positive errno
 * @returns libipvs's text, or the C library's strerror when libipvs has none
 *
 * @example
 * ```ts
 * import { ESRCH, ipvsStrerror } from "./errors.ts";
 * if (ipvsStrerror("add-server", ESRCH) !== "Service not defined") throw new Error();
 * ```
 */
export function ipvsStrerror(op: IpvsOp, errno: number): string {
  for (const row of STRERROR) {
    if (row.errno === errno && (row.ops.includes(op) || row.ops.includes("*"))) return row.text;
  }
  return LIBC_STRERROR[errno] ?? `Unknown error ${errno}`;
}

/** Exit status of ipvsadm for a client-side (validation) error. */
export const EXIT_USAGE = 2;
/** Exit status of ipvsadm for a failed kernel request. */
export const EXIT_KERNEL = 255;
/** Exit status of ipvsadm for popt errors and the "Try `ipvsadm -h'" line (also 255). */
export const EXIT_PARSE = 255;

/** Fields of an {@linkcode IpvsError}. */
export interface IpvsErrorInit {
  errno: number;
  /** What ipvsadm itself prints for this failure. */
  text: string;
  /** ipvsadm's exit status for it (2 client-side, 255 kernel). */
  status: number;
  /** 1-based line of a rules file, when the error comes from one. */
  line?: number;
  /** IPVS would accept it; the engines do not implement it yet (support.ts). */
  unsupported?: boolean;
}

/**
 * A control-plane error: an errno, ipvsadm's text for it, and a message with detail.
 * `message` is what WVS logs; `text` is what an ipvsadm-compatible CLI prints.
 */
export class IpvsError extends Error {
  override name = "IpvsError";
  readonly errno: number;
  readonly text: string;
  readonly status: number;
  readonly line: number | undefined;
  readonly unsupported: boolean;

  constructor(message: string, init: IpvsErrorInit) {
    super(message);
    this.errno = init.errno;
    this.text = init.text;
    this.status = init.status;
    this.line = init.line;
    this.unsupported = init.unsupported ?? false;
  }
}

function at(line: number | undefined): string {
  return line === undefined ? "" : `line ${line}: `;
}

/**
 * A kernel-side failure: "Cannot add service 198.18.0.1:80/tcp: Service already exists".
 *
 * @param op the operation that failed
 * @param errno positive errno (an engine's negative return value must be negated first)
 * @param subject what it was applied to, e.g. "198.18.0.1:80/tcp"
 * @param line rules-file line, if any
 * @param detail extra detail replacing the generic text in the message
 * @returns the error (not thrown)
 */
export function kernelError(
  op: IpvsOp,
  errno: number,
  subject: string,
  line?: number,
  detail?: string,
): IpvsError {
  const text = ipvsStrerror(op, errno);
  return new IpvsError(`${at(line)}Cannot ${ACTIONS[op]} ${subject}: ${detail ?? text}`, {
    errno,
    text,
    status: EXIT_KERNEL,
    line,
  });
}

/**
 * A client-side validation failure, with ipvsadm's own text (exit status 2).
 *
 * @param text ipvsadm's message, e.g. "illegal weight specified"
 * @param line rules-file line, if any
 * @param detail optional detail appended in parentheses
 * @param status ipvsadm's exit status: 2, or 255 for popt errors and the "Try" line
 * @returns the error (not thrown)
 */
export function usageError(
  text: string,
  line?: number,
  detail?: string,
  status = EXIT_USAGE,
): IpvsError {
  return new IpvsError(`${at(line)}${text}${detail ? ` (${detail})` : ""}`, {
    errno: EINVAL,
    text,
    status,
    line,
  });
}

/**
 * Something IPVS accepts but this engine does not implement yet. It is an error,
 * never silently ignored, so a rule set is never replayed with different semantics.
 *
 * @param what e.g. "scheduler 'sh'"
 * @param line rules-file line, if any
 * @param errno the errno the kernel would give for a missing module (ENOENT for a
 *   scheduler or persistence engine); EOPNOTSUPP otherwise
 * @returns the error (not thrown)
 */
export function unsupportedError(what: string, line?: number, errno = EOPNOTSUPP): IpvsError {
  const message = `${what} is not supported by this engine yet`;
  return new IpvsError(`${at(line)}${message}`, {
    errno,
    text: errno === ENOENT ? "Scheduler or persistence engine not found" : message,
    status: errno === ENOENT ? EXIT_KERNEL : EXIT_USAGE,
    line,
    unsupported: true,
  });
}
