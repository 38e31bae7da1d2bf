// Applies a validated model to a packet engine: addService → service index, then
// addDest(service index, …) → dest index, in the order the rules were written
// (ipvsadm -R order, which scheduler state depends on: spec ipvs-data-plane.md, Clarifications).
// Runtime-agnostic. Invariant: the whole rules file is validated before the engine is touched.

import { L_MAX_DESTS, L_MAX_SVCS } from "../engine/abi.gen.ts";
import type { Engine } from "../engine/engine.ts";
import { kernelError } from "./errors.ts";
import { IpvsModel, type ModelLimits } from "./model.ts";
import type { Rule } from "./rules.ts";

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

/**
 * Runs a model's operations on an engine and records the engine's indices in the model.
 *
 * @param engine the target engine (normally empty)
 * @param model a model built with {@linkcode IpvsModel.fromRules}
 * @throws IpvsError if the engine refuses an operation the model accepted (a smaller engine)
 */
export function applyModel(engine: Engine, model: IpvsModel): void {
  for (const op of model.ops) {
    if (op.cmd === "add-service") {
      const r = engine.addService(op.svc.spec);
      if (r < 0) throw kernelError("add-service", -r, op.svc.label, op.svc.line);
      op.svc.index = r;
    } else {
      const r = engine.addDest(op.svc.index, op.dest.spec);
      if (r < 0) {
        throw kernelError("add-server", -r, `${op.dest.label} to ${op.svc.label}`, op.dest.line);
      }
      op.dest.index = r;
    }
  }
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
