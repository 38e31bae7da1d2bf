// The daemon's control API: one JSON object per line each way over a Unix stream socket
// (documented in docs/control-api.md). Runtime-agnostic: this file maps a request to a
// response; daemon.ts does the socket and the ordering.
// Invariants: a request is handled synchronously, start to end, so every command is atomic
// with respect to every other client and to the packet path; a failed request changes
// nothing; responses carry the request's `id` back unchanged.

import { C_REASON_BASE, COUNTER_NAMES, R_COUNT, REASON_NAMES } from "../engine/abi.gen.ts";
import { formatIp, type NameResolver } from "../ctl/addr.ts";
import { parseCommand } from "../ctl/cli.ts";
import type { BatchItem, Controller } from "../ctl/commands.ts";
import { EINVAL, IpvsError } from "../ctl/errors.ts";
import { runIpvsadm } from "../ctl/ipvsadm.ts";
import { FWD_NAMES } from "../ctl/format.ts";
import { schedFlagNames } from "../ctl/list.ts";
import { tokenizeLine } from "../ctl/rules.ts";
import { saveRules } from "../ctl/save.ts";
import { PASS_REASONS } from "./metrics.ts";

/** Where wvsadm and the daemon meet unless told otherwise. */
export const DEFAULT_SOCKET = "/run/wvs/wvs.sock";

/** Protocol version, reported by `info`. */
export const PROTOCOL_VERSION = 1;

/** A request: `op` names the operation; `id` (any JSON value) is echoed back. */
export interface Request {
  id?: unknown;
  op: string;
  [field: string]: unknown;
}

/** The error part of a failed response. */
export interface ErrorBody {
  errno: number;
  /** ipvsadm's text for it. */
  text: string;
  /** ipvsadm's exit status for it. */
  status: number;
  /** Text with detail ("Cannot add service …"). */
  message: string;
  /** The failing command's index (1-based) in an `apply` request. */
  line?: number;
}

/** A response. */
export type Response =
  | { id?: unknown; ok: true; result: unknown }
  | { id?: unknown; ok: false; error: ErrorBody };

/** What the daemon tells `info` about itself. */
export interface DaemonInfo {
  engine: string;
  socket: string;
  stateDir: string | null;
  metrics: string | null;
}

/** A director's VIP failover (host/director/director.ts takeover / release). */
export interface Failover {
  takeover(): void;
  release(): void;
}

/** Context of a request: name lookups and the daemon's own facts. */
export interface Context {
  /** `takeover` / `release` requests go here (absent: refused). */
  failover?: Failover;
  resolver?: NameResolver;
  info: DaemonInfo;
}

function errorBody(e: unknown): ErrorBody {
  if (e instanceof IpvsError) {
    return {
      errno: e.errno,
      text: e.text,
      status: e.status,
      message: e.message,
      ...(e.line !== undefined ? { line: e.line } : {}),
    };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { errno: EINVAL, text: "Invalid request", status: 2, message };
}

function badRequest(message: string): IpvsError {
  return new IpvsError(message, { errno: EINVAL, text: "Invalid request", status: 2 });
}

function strings(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((w) => typeof w !== "string")) {
    throw badRequest(`Cannot handle request: ${what} must be an array of strings`);
  }
  return v as string[];
}

/** `apply`: command lines (strings) or word arrays, run as one all-or-nothing batch. */
function apply(ctl: Controller, req: Request, ctx: Context): { stdout: string } {
  if (!Array.isArray(req.commands)) throw badRequest("Cannot apply: commands must be an array");
  const items: BatchItem[] = req.commands.map((c: unknown, i: number) => {
    const words = typeof c === "string" ? tokenizeLine(c) : strings(c, `commands[${i}]`);
    return {
      command: parseCommand(words, { line: i + 1, inRestore: true, resolver: ctx.resolver }),
      line: i + 1,
    };
  });
  return { stdout: ctl.executeBatch(items) };
}

/** `get`: the whole configuration with live numbers, as JSON. */
export function snapshot(ctl: Controller): unknown {
  return {
    generation: ctl.generation,
    timeouts: ctl.timeouts(),
    services: ctl.model.services.map((svc) => {
      const s = svc.spec;
      return {
        af: s.af === 10 ? "inet6" : "inet",
        protocol: s.fwmark
          ? null
          : ({ 6: "tcp", 17: "udp", 132: "sctp" } as Record<number, string>)[s.protocol],
        addr: s.fwmark ? null : formatIp(s.addr),
        port: s.fwmark ? null : s.port,
        fwmark: s.fwmark || null,
        sched: svc.schedName,
        schedFlags: schedFlagNames(svc.schedName, s.flags),
        persistent: s.flags & 1 ? s.timeout : null,
        netmask: s.af === 10 ? s.netmask : formatIp(
          Uint8Array.of(
            s.netmask >>> 24,
            (s.netmask >>> 16) & 255,
            (s.netmask >>> 8) & 255,
            s.netmask & 255,
          ),
        ),
        pe: svc.pe || null,
        ops: (s.flags & 4) !== 0,
        stats: ctl.svcStats(svc),
        rates: ctl.svcRates(svc),
        // IPVS list order: newest first.
        dests: [...svc.dests].reverse().map((d) => ({
          addr: formatIp(d.spec.addr),
          port: d.spec.port,
          fwd: (FWD_NAMES[d.spec.fwd] ?? "?").toLowerCase(),
          weight: d.spec.weight,
          uThreshold: d.spec.uThreshold,
          lThreshold: d.spec.lThreshold,
          tunType: ["ipip", "gue", "gre"][d.spec.tunType] ?? null,
          tunPort: d.spec.tunPort,
          tunFlags: ["nocsum", "csum", "remcsum"][d.spec.tunFlags] ?? null,
          ...ctl.destCounts(d),
          stats: ctl.destStats(d),
          rates: ctl.destRates(d),
        })),
      };
    }),
  };
}

/** `counters`: the engine's global counters by name, drops and passes by reason. */
export function counters(ctl: Controller): unknown {
  const c = ctl.engine?.counters() ?? [];
  const byName: Record<string, number> = {};
  COUNTER_NAMES.forEach((name, i) => byName[name] = c[i] ?? 0);
  const drops: Record<string, number> = {}, passes: Record<string, number> = {};
  for (let r = 1; r < R_COUNT; r++) {
    (PASS_REASONS.has(r) ? passes : drops)[REASON_NAMES[r]] = c[C_REASON_BASE + r] ?? 0;
  }
  return { counters: byName, drops, passes };
}

/**
 * Handles one request.
 *
 * @param ctl the controller
 * @param req the request (already parsed from JSON)
 * @param ctx name lookups and daemon facts
 * @returns the response
 */
export function handleRequest(ctl: Controller, req: Request, ctx: Context): Response {
  const id = req.id;
  try {
    let result: unknown;
    switch (req.op) {
      case "ipvsadm": {
        const argv = strings(req.argv ?? [], "argv");
        const stdin = typeof req.stdin === "string" ? req.stdin : "";
        const prog = typeof req.prog === "string" && req.prog !== "" ? req.prog : "ipvsadm";
        result = runIpvsadm(argv, stdin, ctl, { prog, resolver: ctx.resolver });
        break;
      }
      case "apply":
        result = apply(ctl, req, ctx);
        break;
      case "get":
        result = snapshot(ctl);
        break;
      case "save":
        result = { rules: saveRules(ctl, true) };
        break;
      case "conns":
        result = ctl.conns().map((c) => ({
          ...c,
          caddr: formatIp(c.caddr),
          vaddr: formatIp(c.vaddr),
          daddr: formatIp(c.daddr),
        }));
        break;
      case "counters":
        result = counters(ctl);
        break;
      case "info":
        result = {
          protocol: PROTOCOL_VERSION,
          ...ctx.info,
          services: ctl.model.serviceCount,
          dests: ctl.model.destCount,
          generation: ctl.generation,
        };
        break;
      case "ping":
        result = {};
        break;
      case "takeover":
      case "release": {
        // Failover: announce the VIPs and serve them (the connections a sync backup learned
        // included), or give them up.
        if (!ctx.failover) throw badRequest(`Cannot ${req.op}: this daemon has no director`);
        if (req.op === "takeover") ctx.failover.takeover();
        else ctx.failover.release();
        result = {};
        break;
      }
      default:
        throw badRequest(`Cannot handle request: unknown op '${String(req.op)}'`);
    }
    return { id, ok: true, result };
  } catch (e) {
    return { id, ok: false, error: errorBody(e) };
  }
}

/**
 * Parses one request line.
 *
 * @param line one line of JSON
 * @returns the request, or the response explaining why it is not one
 */
export function parseRequest(line: string): { req: Request } | { bad: Response } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return {
      bad: {
        ok: false,
        error: errorBody(badRequest(`Cannot parse request: ${(e as Error).message}`)),
      },
    };
  }
  if (
    typeof v !== "object" || v === null || Array.isArray(v) || typeof (v as Request).op !== "string"
  ) {
    const id = typeof v === "object" && v !== null ? (v as { id?: unknown }).id : undefined;
    return {
      bad: {
        id,
        ok: false,
        error: errorBody(badRequest("Cannot handle request: not an object with an 'op'")),
      },
    };
  }
  return { req: v as Request };
}
