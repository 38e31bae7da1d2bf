// Messages between the director's main thread and its workers (workers.ts,
// worker_deno.ts), and the merge of the workers' statistics. Runtime-agnostic.
//
// Each worker owns an engine (its connection shard), its own AF_PACKET
// sockets (one per interface, joined to that interface's fanout group, so the
// kernel steers each client to one worker: host/io/fanout_bpf.ts) and a
// Director over them. The main thread owns signals, timers and the log, starts
// the workers one at a time (fanout groups list sockets in join order, and
// every interface's group must list the workers in the same order), relays
// neighbours that one worker learned to the others, and broadcasts reloads.
//
// A worker's loop blocks in poll(2) and runs synchronously, so messages wait
// until it looks: the main thread bumps `ctl[CTL_MAIL + i]` after each message
// to worker i and sets `ctl[CTL_STOP]` to stop; workers check both between batches.
import type { ConnDump, DestCounts, Stats } from "../engine/engine.ts";
import type { PortStats } from "../io/frame_io.ts";
import type { AdoptedService } from "./adopt.ts";
import type { DirectorPlan, ServicePlan } from "./config.ts";
import type { DirectorSnapshot } from "./director.ts";

/** Index in the shared control words: non-zero asks every worker to stop. */
export const CTL_STOP = 0;
/** Index in the shared control words: messages posted so far to worker i is CTL_MAIL + i. */
export const CTL_MAIL = 1;

/** How a worker moves frames (the benchmark's I/O variants). */
export interface WorkerIo {
  /** Never sleep in poll(2): spin on non-blocking receives (baselines: worse on a shared core). */
  busy?: boolean;
  /** poll(2) timeout when idle, ms. */
  idleMs?: number;
  /** Keep polling this long after the last frame before sleeping, µs (DirectorConfig.spinUs). */
  spinUs?: number;
  /**
   * How the kernel spreads frames over workers: "client" (default; the
   * client-hash program, right for every forwarding method) or "hash"
   * (PACKET_FANOUT_HASH, the kernel's flow hash: DR and TUN only, since NAT
   * replies would reach another worker's shard).
   */
  fanout?: "client" | "hash";
  /**
   * Benchmarks only: once ready, leave the sockets unread for this long (ms),
   * so a backlog builds up whose drain rate is the workers' capacity.
   */
  holdMs?: number;
}

/** Engine methods that change configuration: run on the shadow, replayed in the Workers. */
export const ENGINE_CALLS = [
  "setSysctl",
  "setTimeouts",
  "addService",
  "editService",
  "delService",
  "addDest",
  "editDest",
  "delDest",
  "setSchedSlots",
] as const;

/** A configuration call of the Engine interface, as the control plane made it (control_workers.ts). */
export type EngineCall = [method: typeof ENGINE_CALLS[number], args: unknown[]];

/** What one Worker's engine reports to the control plane (summed over Workers there). */
export interface EngineReadings {
  counters: number[];
  svc: Stats[];
  dest: Stats[];
  destCounts: DestCounts[];
  conns?: ConnDump[];
  /** The Worker's interfaces (each has its own sockets on them). */
  ports: { ifname: string; stats: PortStats }[];
}

export type ToWorker =
  | {
    type: "init";
    plan: DirectorPlan;
    index: number;
    workers: number;
    /** Fanout group of port 0 (port i uses group + i); 0 = no fanout (one worker). */
    fanoutGroup: number;
    ctl: SharedArrayBuffer;
    io: WorkerIo;
  }
  | { type: "neigh"; addr: Uint8Array; mac: Uint8Array; port: number }
  | { type: "reload"; services: ServicePlan[] }
  | { type: "stats"; id: number }
  | { type: "control"; id: number; calls: EngineCall[]; services: AdoptedService[] }
  | { type: "readings"; id: number; svcs: number[]; dests: number[]; conns: boolean };

export type FromWorker =
  | { type: "opened"; index: number; health: string }
  | { type: "ready"; index: number }
  | { type: "log"; line: string }
  | { type: "neigh"; index: number; addr: Uint8Array; mac: Uint8Array; port: number }
  | { type: "reloaded"; index: number; changes: string[]; error?: string }
  | { type: "stats"; id: number; index: number; snapshot: DirectorSnapshot }
  | { type: "controlled"; id: number; index: number; results: number[]; error?: string }
  | { type: "readings"; id: number; index: number; readings: EngineReadings }
  | { type: "stopped"; index: number; snapshot: DirectorSnapshot }
  | { type: "error"; index: number; message: string };

/** Sums the workers' snapshots: counters, reasons, per-port I/O and per-dest statistics. */
export function mergeSnapshots(snaps: DirectorSnapshot[]): DirectorSnapshot {
  if (snaps.length === 1) return snaps[0];
  const add = (a: Record<string, number>, b: Record<string, number>) => {
    for (const [k, v] of Object.entries(b)) a[k] = (a[k] ?? 0) + v;
    return a;
  };
  const out: DirectorSnapshot = structuredClone(snaps[0]);
  for (const s of snaps.slice(1)) {
    add(out.counters, s.counters);
    add(out.reasons, s.reasons);
    s.ports.forEach((p, i) => {
      for (const [k, v] of Object.entries(p)) {
        if (typeof v === "number") out.ports[i][k] = ((out.ports[i][k] as number) ?? 0) + v;
      }
    });
    s.services.forEach((svc, i) =>
      svc.dests.forEach((d, j) => {
        const o = out.services[i]?.dests[j];
        if (!o) return;
        o.conns += d.conns;
        o.inPkts += d.inPkts;
        o.outPkts += d.outPkts;
      })
    );
  }
  out.workers = snaps.map((s) => s.counters);
  return out;
}
