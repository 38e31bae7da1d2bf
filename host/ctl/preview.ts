// Disruption preview: before a change to a service's real servers is applied (add one,
// remove one, change a weight), report what it would move. Hash tables (sh, dh, mh):
// slots whose real server changes, computed exactly as tables.ts will write them.
// Connections: those that lose their real server (a removed one: dropped, or rescheduled
// with expire_nodest_conn), and, for the hashing schedulers, those whose client would now
// hash elsewhere (its existing connections stay; its next one moves). Persistence
// templates: those invalidated on next use (their real server removed, or set to weight 0
// under expire_quiescent_template). Reads the engine (destInfo, schedTable, dumpConns);
// changes nothing. Runtime-agnostic.

import {
  IP_VS_CONN_F_TEMPLATE,
  IP_VS_SVC_F_SCHED2,
  L_MH_SIZE,
  SCHED_DH,
  SCHED_SH,
} from "../engine/abi.gen.ts";
import type { Af, DestSpec, Engine } from "../engine/engine.ts";
import { addrFoldHost, hash32, hsiphash32, MH_KEY1 } from "../engine/reference/sched/hashing.ts";
import { parseIp } from "./addr.ts";
import { computeTable, engineTableDests, hasSlotTable, type TableDest } from "./tables.ts";

/** A proposed change to one service's real servers. */
export type ProposedChange =
  | { op: "add"; dest: DestSpec }
  | { op: "remove"; dest: number }
  | { op: "weight"; dest: number; weight: number };

/** The service as the preview needs it. */
export interface PreviewService {
  index: number;
  af: Af;
  sched: number;
  /** IP_VS_SVC_F_* (sh-port / mh-port change the hash key). */
  flags: number;
}

/** What a change would move. */
export interface DisruptionReport {
  /** Slot-table schedulers only (null otherwise): slots whose real server changes. */
  slots: { total: number; moved: number } | null;
  connections: {
    total: number;
    /** On a real server being removed. */
    moved: number;
    /** sh/dh/mh: clients that would now hash to another real server. */
    remapped: number;
  };
  templates: { total: number; moved: number };
}

/** Options mirroring the engine's sysctls. */
export interface PreviewOptions {
  /** expire_quiescent_template: a template of a weight-0 dest is invalidated. */
  expireQuiescentTemplate?: boolean;
}

/** Index that a dest being added stands for in computed tables. */
const NEW_DEST = -2;

/** The dest list after `change` (list order: an added dest goes to the head). */
function proposedDests(current: TableDest[], change: ProposedChange): TableDest[] {
  switch (change.op) {
    case "add": {
      const d = change.dest;
      const w = d.weight;
      return [
        { index: NEW_DEST, af: d.af, addr: d.addr, port: d.port, weight: w, lastWeight: w },
        ...current,
      ];
    }
    case "remove":
      return current.filter((d) => d.index !== change.dest);
    case "weight":
      return current.map((d) =>
        d.index !== change.dest ? d : {
          ...d,
          weight: change.weight,
          lastWeight: change.weight !== 0 ? change.weight : d.lastWeight,
        }
      );
  }
}

/** The slot a new connection from (caddr, cport) to vaddr would use, for sh, dh, mh. */
function slotOf(s: PreviewService, m: number, caddr: string, cport: number, vaddr: string): number {
  const fold = (text: string) => {
    const a = parseIp(text)?.addr ?? new Uint8Array(4);
    const w = [0, 0, 0, 0];
    for (let i = 0; i < a.length; i++) w[i >> 2] |= a[i] << (8 * (i & 3));
    return addrFoldHost(w[0] >>> 0, w[1] >>> 0, w[2] >>> 0, w[3] >>> 0);
  };
  if (s.sched === SCHED_DH) return hash32(fold(vaddr), 8);
  const port = (s.flags & IP_VS_SVC_F_SCHED2) !== 0 ? cport : 0;
  const key = (port + fold(caddr)) >>> 0;
  if (s.sched === SCHED_SH) return hash32(key, 8);
  return hsiphash32(key, MH_KEY1) % m;
}

/**
 * Reports what `change` to service `s` would move, without applying it.
 *
 * @param engine the engine running the service
 * @param s the service (index, family, scheduler, flags)
 * @param change add a real server, remove one, or change a weight
 * @param opts the sysctls that matter (expire_quiescent_template)
 * @returns slots, connections and templates that would move
 * @example
 * ```ts
 * import { createReferenceEngine } from "../engine/reference/reference_engine.ts";
 * import { previewChange } from "./preview.ts";
 * const e = createReferenceEngine({ maxConns: 16, maxServices: 1, maxDests: 4, batch: 1, seed: 1 });
 * const svc = e.addService({ af: 2, protocol: 6, addr: Uint8Array.of(198, 18, 0, 1), port: 80, fwmark: 0, sched: 2, flags: 0, timeout: 0, netmask: 0xffffffff });
 * const r = previewChange(e, { index: svc, af: 2, sched: 2, flags: 0 }, { op: "weight", dest: 0, weight: 3 });
 * if (r.slots !== null || r.connections.total !== 0) throw new Error();
 * ```
 */
export function previewChange(
  engine: Engine,
  s: PreviewService,
  change: ProposedChange,
  opts: PreviewOptions = {},
): DisruptionReport {
  const current = engineTableDests(engine, s.index);
  const next = proposedDests(current, change);
  const m = engine.layout[L_MH_SIZE];
  let slots: DisruptionReport["slots"] = null;
  let table: Int32Array | null = null;
  if (hasSlotTable(s.sched)) {
    const cur = engine.schedTable(s.index);
    table = computeTable(s.sched, s.af, next, m)!;
    let moved = 0;
    for (let i = 0; i < table.length; i++) if ((cur[i] ?? -1) !== table[i]) moved++;
    slots = { total: table.length, moved };
  }
  const weights = new Map(next.map((d) => [d.index, d.weight]));
  const removed = change.op === "remove" ? change.dest : -1;
  const quiesced = change.op === "weight" && change.weight === 0 && opts.expireQuiescentTemplate
    ? change.dest
    : -1;
  const report: DisruptionReport = {
    slots,
    connections: { total: 0, moved: 0, remapped: 0 },
    templates: { total: 0, moved: 0 },
  };
  for (const c of engine.dumpConns()) {
    if (c.svc !== s.index) continue;
    if ((c.flags & IP_VS_CONN_F_TEMPLATE) !== 0) {
      report.templates.total++;
      if (c.dest === removed || c.dest === quiesced) report.templates.moved++;
      continue;
    }
    report.connections.total++;
    if (c.dest === removed) {
      report.connections.moved++;
    } else if (table) {
      // Where the client's next connection goes: another dest, or none (an empty slot, or
      // one whose dest is at weight 0: refused, or sent on by *-fallback).
      const to = table[slotOf(s, m, c.caddr, c.cport, c.vaddr)];
      if (to !== c.dest || (weights.get(to) ?? 0) <= 0) report.connections.remapped++;
    }
  }
  return report;
}

/** One line for logs and wvsadm: "slots 1365/4093, connections 12 moved 40 remapped of 300, ...". */
export function formatDisruption(r: DisruptionReport): string {
  const slots = r.slots ? `slots ${r.slots.moved}/${r.slots.total}, ` : "";
  const c = r.connections;
  return `${slots}connections ${c.moved} moved ${c.remapped} remapped of ${c.total}, ` +
    `templates ${r.templates.moved} of ${r.templates.total}`;
}
