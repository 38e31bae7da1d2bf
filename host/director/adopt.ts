// What the director needs to know of the services the control plane (host/ctl/, wvsadm)
// applied to the engine: the VIPs to answer ARP/ND for and the real servers to resolve,
// with the engine's indices for the per-server statistics of its snapshot.
import type { IpvsModel } from "../ctl/model.ts";
import type { ServicePlan } from "./config.ts";

/** A service as the control plane applied it: its specs and engine indices. */
export interface AdoptedService {
  plan: ServicePlan;
  svc: number;
  /** Engine indices of `plan.dests`, in order. */
  dests: number[];
}

/** The services of a control-plane model, as applied to its engine. */
export function adoptFromModel(model: IpvsModel): AdoptedService[] {
  return model.services.filter((s) => s.index >= 0).map((s) => ({
    plan: { spec: s.spec, dests: s.dests.map((d) => d.spec) },
    svc: s.index,
    dests: s.dests.map((d) => d.index),
  }));
}
