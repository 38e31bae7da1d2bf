// The commands of ipvsadm as values: what cli.ts parses an argv (or a `-R` line) into and
// what commands.ts executes. Runtime-agnostic; types only.
// Mirrors ipvsadm.c `struct ipvs_command_entry` (svc, dest, timeouts, daemon) and its
// FMT_* listing flags (spec ipvs-control-plane.md §1.2–§1.4, §4).

import type { Af, DestSpec } from "../engine/engine.ts";

/** A service's identity: (af, protocol, addr, port), or (af, fwmark) when fwmark ≠ 0. */
export interface ServiceId {
  af: Af;
  /** IPPROTO_TCP/UDP/SCTP; 0 for fwmark services (the engine's convention). */
  protocol: number;
  /** 4 or 16 bytes, network order; all zero for fwmark services. */
  addr: Uint8Array;
  port: number;
  fwmark: number;
}

/** A service with everything `-A`/`-E` set. */
export interface ServiceConf extends ServiceId {
  /** Scheduler name as the kernel stores it (cut to 15 characters). */
  schedName: string;
  /** IP_VS_SVC_F_* flags: PERSISTENT, ONEPACKET, SCHED1..3. */
  flags: number;
  /** Persistence timeout in seconds (0 when not persistent). */
  timeout: number;
  /** IPv4 netmask as a u32 in host order, or IPv6 prefix length. */
  netmask: number;
  /** Persistence engine name ("" for none). */
  pe: string;
}

/** Listing options (ipvsadm's FMT_* bits). */
export interface ListFormat {
  numeric: boolean;
  exact: boolean;
  nosort: boolean;
  stats: boolean;
  rate: boolean;
  thresholds: boolean;
  persistentConn: boolean;
  tunInfo: boolean;
}

/** Sync daemon settings of `--start-daemon`. */
export interface DaemonConf {
  state: "master" | "backup";
  mcastIfn: string;
  syncid: number;
  /** 0 = chosen by the kernel. */
  syncMaxlen: number;
  /** "" = the kernel's default group. */
  mcastGroup: string;
  mcastPort: number;
  mcastTtl: number;
}

/** One parsed ipvsadm command. */
export type Command =
  | { cmd: "add-service" | "edit-service"; service: ServiceConf }
  | { cmd: "delete-service"; service: ServiceId }
  | { cmd: "flush" }
  | { cmd: "add-server" | "edit-server" | "delete-server"; service: ServiceId; dest: DestSpec }
  | { cmd: "zero"; service?: ServiceId }
  | { cmd: "set"; tcp: number; tcpfin: number; udp: number }
  | { cmd: "start-daemon"; daemon: DaemonConf }
  | { cmd: "stop-daemon"; state: "master" | "backup"; syncid?: number }
  | {
    cmd: "list";
    /** services (all, or `service` only), connections, timeouts or sync daemons. */
    view: "services" | "connections" | "timeout" | "daemon";
    service?: ServiceId;
    format: ListFormat;
  }
  | { cmd: "save"; numeric: boolean }
  | { cmd: "restore" }
  | { cmd: "help" }
  | { cmd: "version" };

/** The commands that change the configuration. */
export const MUTATING: ReadonlySet<Command["cmd"]> = new Set([
  "add-service",
  "edit-service",
  "delete-service",
  "flush",
  "add-server",
  "edit-server",
  "delete-server",
  "zero",
  "set",
  "start-daemon",
  "stop-daemon",
]);
