// Applies model changes (ModelOps) to a packet engine: addService → service index, then
// addDest(service index, …) → dest index, edits and deletes by index, in the order the
// commands were given (ipvsadm -R order, which scheduler state depends on: spec
// ipvs-data-plane.md, Clarifications). Runtime-agnostic.
// Invariants: the model has validated every op before the engine is touched; if the engine
// still refuses one (a trashed dest holding a slot, a smaller engine), the ops already
// applied are undone newest first, so the engine is left as it was.

import { L_MAX_DESTS, L_MAX_SVCS } from "../engine/abi.gen.ts";
import type { Engine } from "../engine/engine.ts";
import { kernelError } from "./errors.ts";
import { IpvsModel, type ModelLimits, type ModelOp } from "./model.ts";
import type { Rule } from "./rules.ts";
import { syncSchedTable } from "./tables.ts";

/**
 * The capacities an engine published in its layout table (0 means "not published").
 *
 * @param engine an initialised engine
 * @returns its service and dest limits
 */
export function engineLimits(engine: Engine): ModelLimits {
  const maxServices = engine.layout[L_MAX_SVCS];
  const maxDests = engine.layout[L_MAX_DESTS];
  return {
    maxServices: maxServices > 0 ? maxServices : undefined,
    maxDests: maxDests > 0 ? maxDests : undefined,
  };
}

function check(r: number, op: ModelOp): number {
  if (r >= 0) return r;
  const svc = op.svc.label;
  if (op.cmd === "add-service" || op.cmd === "edit-service" || op.cmd === "delete-service") {
    throw kernelError(op.cmd, -r, svc, op.svc.line);
  }
  const subject = `${op.dest.label} ${op.cmd === "add-server" ? "to" : "of"} ${svc}`;
  throw kernelError(op.cmd, -r, subject, op.dest.line);
}

function applyOne(engine: Engine, op: ModelOp): void {
  switch (op.cmd) {
    case "add-service":
      op.svc.index = check(engine.addService(op.svc.spec), op);
      return;
    case "edit-service":
      check(engine.editService(op.svc.index, op.svc.spec), op);
      return;
    case "delete-service":
      check(engine.delService(op.svc.index), op);
      return;
    case "add-server":
      op.dest.index = check(engine.addDest(op.svc.index, op.dest.spec), op);
      return;
    case "edit-server":
      check(engine.editDest(op.dest.index, op.dest.spec), op);
      return;
    case "delete-server":
      check(engine.delDest(op.dest.index), op);
      return;
  }
}

/** sh, dh and mh slot tables follow every change of their service (tables.ts, STYLE G13). */
function syncTables(engine: Engine, op: ModelOp): void {
  const { index, spec } = op.svc;
  if (op.cmd !== "delete-service" && index >= 0) syncSchedTable(engine, index, spec.sched, spec.af);
}

/** The inverse of an applied op; re-created records get new engine indices. */
function undoOne(engine: Engine, op: ModelOp): void {
  switch (op.cmd) {
    case "add-service":
      engine.delService(op.svc.index);
      op.svc.index = -1;
      return;
    case "edit-service":
      engine.editService(op.svc.index, op.before.spec);
      return;
    case "delete-service":
      op.svc.index = engine.addService(op.svc.spec);
      for (const d of op.svc.dests) d.index = engine.addDest(op.svc.index, d.spec);
      return;
    case "add-server":
      engine.delDest(op.dest.index);
      op.dest.index = -1;
      return;
    case "edit-server":
      engine.editDest(op.dest.index, op.before);
      return;
    case "delete-server":
      op.dest.index = engine.addDest(op.svc.index, op.dest.spec);
      return;
  }
}

/**
 * Runs model operations on an engine and records the engine's indices in the model.
 *
 * @param engine the target engine
 * @param ops validated operations, in order (see {@linkcode IpvsModel.ops})
 * @throws IpvsError if the engine refuses an operation the model accepted; the operations
 *   already applied are undone first
 */
export function applyOps(engine: Engine, ops: readonly ModelOp[]): void {
  let done = 0;
  try {
    for (; done < ops.length; done++) {
      applyOne(engine, ops[done]);
      syncTables(engine, ops[done]);
    }
  } catch (e) {
    for (let i = done - 1; i >= 0; i--) {
      try {
        undoOne(engine, ops[i]);
        syncTables(engine, ops[i]);
      } catch { /* best effort: the original error is what the caller must see */ }
    }
    throw e;
  }
}

/**
 * Runs a model's operations on an engine and records the engine's indices in the model.
 *
 * @param engine the target engine (normally empty)
 * @param model a model built with {@linkcode IpvsModel.fromRules}
 * @throws IpvsError if the engine refuses an operation the model accepted (a smaller engine)
 */
export function applyModel(engine: Engine, model: IpvsModel): void {
  applyOps(engine, model.ops);
}

/**
 * Validates the whole rule list against the engine's limits, then applies it: all or nothing.
 *
 * @param engine the target engine
 * @param rules parsed rules (see `parseRules`)
 * @returns the model, with engine indices filled in
 * @throws IpvsError naming the line of the first rule refused; the engine is untouched then
 */
export function applyRules(engine: Engine, rules: readonly Rule[]): IpvsModel {
  const model = IpvsModel.fromRules(rules, engineLimits(engine));
  applyModel(engine, model);
  return model;
}
