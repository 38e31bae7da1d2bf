// What the packet engines implement of what IPVS accepts: THE ONE PLACE where WVS refuses a
// configuration that ipvsadm and the kernel would take. Runtime-agnostic.
// To lift a refusal when both engines (assembly/ and host/engine/reference/) implement a
// feature: add the scheduler's name to ENGINE_SCHEDULERS (its id is looked up in the ABI as
// `SCHED_<NAME>`), or set the feature's line in ENGINE_LACKS to false. Nothing else changes.
// Invariant: the grammar (cli.ts) and the model accept everything IPVS accepts; only this
// file says "not supported by this engine yet", and it never silently drops a setting.

import * as abi from "../engine/abi.gen.ts";
import type { DestSpec } from "../engine/engine.ts";
import { ENOENT, type IpvsError, unsupportedError } from "./errors.ts";

/** Every scheduler the Linux kernel knows, plus `none` (a service without a scheduler). */
export const KERNEL_SCHEDULERS: readonly string[] =
  "rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos none".split(" ");

/** Persistence engines the kernel knows (`--pe`). */
export const KERNEL_PES: readonly string[] = ["sip"];

/**
 * Schedulers both engines implement. The ABI may name more ids than this (one engine can be
 * ahead of the other); a name counts once it is here and its `SCHED_<NAME>` id exists.
 */
export const ENGINE_SCHEDULERS: readonly string[] =
  "rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos".split(" ");

/**
 * Features the engines do not implement yet. Set a line to `false` when both engines
 * (assembly/ and host/engine/reference/) implement it; nothing else needs to change.
 */
export const ENGINE_LACKS = {
  /** `-p` persistence templates (and `-M`, which only matters with it). */
  persistence: false,
  /** `--pe sip`. */
  pe: true,
  /** `-o` one-packet scheduling. */
  ops: false,
  /** `--sctp-service` (both engines since issue 7: assembly/proto/sctp.ts and its twin). */
  sctp: false,
  /** `--tun-type gue` and `--tun-type gre` (every tunnel is IPIP for now). */
  gueGre: true,
} as const;

/**
 * The engine's id of a scheduler, looked up by name in the ABI.
 *
 * @param name an ipvsadm scheduler name ("rr", "wlc", ...)
 * @returns its SCHED_* id, or undefined when the engines do not implement it
 *
 * @example
 * ```ts
 * import { schedulerId } from "./support.ts";
 * if (schedulerId("rr") === undefined) throw new Error("rr is always there");
 * ```
 */
export function schedulerId(name: string): number | undefined {
  if (!ENGINE_SCHEDULERS.includes(name)) return undefined;
  const id = (abi as unknown as Record<string, unknown>)[`SCHED_${name.toUpperCase()}`];
  return typeof id === "number" && id < abi.SCHED_COUNT ? id : undefined;
}

/**
 * @param id a SCHED_* id
 * @returns its ipvsadm name, or "?" for an id the ABI does not name
 */
export function schedulerName(id: number): string {
  for (const name of KERNEL_SCHEDULERS) if (schedulerId(name) === id) return name;
  return "?";
}

/** A service's settings, as far as engine support goes. */
export interface ServiceFeatures {
  protocol: number;
  schedName: string;
  flags: number;
  pe: string;
}

/**
 * Why the engines cannot run this service, or null if they can. Called after the kernel's
 * own checks (the kernel's scheduler lookup comes first: an unknown name is "not found").
 *
 * @param s the service's protocol, scheduler, flags and persistence engine
 * @param line rules-file line, for messages
 * @returns the error to throw, or null
 */
export function serviceRefusal(s: ServiceFeatures, line?: number): IpvsError | null {
  if (ENGINE_LACKS.sctp && s.protocol === abi.IPPROTO_SCTP) {
    return unsupportedError("an SCTP service", line);
  }
  if (schedulerId(s.schedName) === undefined) {
    return unsupportedError(`scheduler '${s.schedName}'`, line, ENOENT);
  }
  if (ENGINE_LACKS.persistence && (s.flags & abi.IP_VS_SVC_F_PERSISTENT)) {
    return unsupportedError("persistence (-p)", line);
  }
  if (ENGINE_LACKS.pe && s.pe !== "") {
    return unsupportedError(`persistence engine '${s.pe}' (--pe)`, line);
  }
  if (ENGINE_LACKS.ops && (s.flags & abi.IP_VS_SVC_F_ONEPACKET)) {
    return unsupportedError("one-packet scheduling (-o)", line);
  }
  return null;
}

/**
 * Why the engines cannot run this real server, or null if they can.
 *
 * @param d the real server
 * @param line rules-file line, for messages
 * @returns the error to throw, or null
 */
export function destRefusal(d: DestSpec, line?: number): IpvsError | null {
  if (
    ENGINE_LACKS.gueGre && d.fwd === abi.IP_VS_CONN_F_TUNNEL &&
    d.tunType !== abi.IP_VS_CONN_F_TUNNEL_TYPE_IPIP
  ) {
    const name = d.tunType === abi.IP_VS_CONN_F_TUNNEL_TYPE_GUE ? "gue" : "gre";
    return unsupportedError(`tunnel type '${name}'`, line);
  }
  return null;
}
