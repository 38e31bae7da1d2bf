// The control plane's authoritative table of services and real servers, checked the way
// the kernel checks `-A` and `-a` (ip_vs_ctl.c `ip_vs_add_service`, `ip_vs_add_dest`,
// `ip_vs_new_dest`). Runtime-agnostic; runs without an engine (STYLE G13).
// Invariant: a failed add leaves the model unchanged, and a model built from a whole rules
// file has already passed every check the engine would make, so applying it cannot fail
// half-way (except on an engine smaller than the limits the model was given).

import { AF_INET6 } from "../engine/abi.gen.ts";
import type { DestSpec, ServiceSpec } from "../engine/engine.ts";
import { EEXIST, EINVAL, ENOMEM, ERANGE, ESRCH, kernelError } from "./errors.ts";
import { formatDest, formatService, type Rule, serviceKey } from "./rules.ts";

/** A real server in the model. `index` is the engine's dest index once applied (else -1). */
export interface ModelDest {
  spec: DestSpec;
  label: string;
  line: number | undefined;
  index: number;
}

/** A virtual service in the model. `index` is the engine's service index once applied (else -1). */
export interface ModelService {
  key: string;
  spec: ServiceSpec;
  label: string;
  schedName: string;
  line: number | undefined;
  index: number;
  /** Real servers in the order they were added (IPVS lists them newest first). */
  dests: ModelDest[];
}

/** One accepted operation, in the order the engine must see them. */
export type ModelOp =
  | { cmd: "add-service"; svc: ModelService }
  | { cmd: "add-server"; svc: ModelService; dest: ModelDest };

/** Capacities of the target engine (absent: unlimited). */
export interface ModelLimits {
  maxServices?: number;
  maxDests?: number;
}

/** Kernel rule for a real-server address: unicast (IPv6: and not link-local). */
function destAddrOk(d: DestSpec): boolean {
  const a = d.addr;
  if (d.af === AF_INET6) {
    if (a.every((b) => b === 0)) return false; // ::
    if (a[0] === 0xff) return false; // multicast
    if (a[0] === 0xfe && (a[1] & 0xc0) === 0x80) return false; // fe80::/10
    return true;
  }
  const u32 = ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;
  if (u32 === 0 || u32 === 0xffffffff) return false; // zeronet / limited broadcast
  return (a[0] & 0xf0) !== 0xe0; // 224.0.0.0/4 multicast
}

function sameDest(a: DestSpec, b: DestSpec): boolean {
  return a.af === b.af && a.port === b.port && a.addr.length === b.addr.length &&
    a.addr.every((x, i) => x === b.addr[i]);
}

/**
 * Services and real servers as the control plane knows them, with the kernel's checks.
 *
 * @example
 * ```ts
 * import { IpvsModel } from "./model.ts";
 * import { parseRules } from "./rules.ts";
 * const m = IpvsModel.fromRules(parseRules("-A -u 198.18.0.1:53 -s rr\n-a -u 198.18.0.1:53 -r 198.18.1.1 -g"));
 * if (m.services.length !== 1 || m.services[0].dests.length !== 1) throw new Error();
 * ```
 */
export class IpvsModel {
  #services = new Map<string, ModelService>();
  #ops: ModelOp[] = [];
  #destCount = 0;
  #limits: ModelLimits;

  constructor(limits: ModelLimits = {}) {
    this.#limits = limits;
  }

  /**
   * Validates a whole rules file into a model (nothing is applied anywhere).
   *
   * @param rules parsed rules, in file order
   * @param limits capacities of the target engine
   * @returns the model
   * @throws IpvsError for the first rule the kernel would refuse, naming its line
   */
  static fromRules(rules: readonly Rule[], limits: ModelLimits = {}): IpvsModel {
    const m = new IpvsModel(limits);
    for (const r of rules) {
      if (r.cmd === "add-service") m.addService(r.service, r.schedName, r.line);
      else m.addDest(r.service, r.dest, r.line);
    }
    return m;
  }

  /** Services in the order they were added. */
  get services(): ModelService[] {
    return [...this.#services.values()];
  }

  /** Accepted operations in order. */
  get ops(): readonly ModelOp[] {
    return this.#ops;
  }

  /**
   * @param spec a service identity (af, protocol, addr, port, or af and fwmark)
   * @returns the service, if defined
   */
  findService(spec: ServiceSpec): ModelService | undefined {
    return this.#services.get(serviceKey(spec));
  }

  /**
   * `-A`: adds a service.
   *
   * @param spec the service
   * @param schedName the scheduler's name (for listings)
   * @param line rules-file line, for messages
   * @returns the new service
   * @throws IpvsError EEXIST "Service already exists", ENOMEM past `maxServices`
   */
  addService(spec: ServiceSpec, schedName: string, line?: number): ModelService {
    const key = serviceKey(spec);
    const label = formatService(spec);
    if (this.#services.has(key)) throw kernelError("add-service", EEXIST, label, line);
    const max = this.#limits.maxServices;
    if (max !== undefined && this.#services.size >= max) {
      throw kernelError(
        "add-service",
        ENOMEM,
        label,
        line,
        `the engine holds at most ${max} services`,
      );
    }
    const svc: ModelService = { key, spec, label, schedName, line, index: -1, dests: [] };
    this.#services.set(key, svc);
    this.#ops.push({ cmd: "add-service", svc });
    return svc;
  }

  /**
   * `-a`: adds a real server to a service.
   *
   * @param service the service's identity
   * @param spec the real server
   * @param line rules-file line, for messages
   * @returns the new real server
   * @throws IpvsError ESRCH "Service not defined", ERANGE (l_threshold above u_threshold),
   *   EEXIST "Destination already exists", EINVAL (address not unicast), ENOMEM past `maxDests`
   */
  addDest(service: ServiceSpec, spec: DestSpec, line?: number): ModelDest {
    const label = formatDest(spec);
    const svc = this.findService(service);
    const subject = `${label} to ${svc?.label ?? formatService(service)}`;
    if (!svc) throw kernelError("add-server", ESRCH, subject, line);
    if (spec.lThreshold > spec.uThreshold) {
      throw kernelError(
        "add-server",
        ERANGE,
        subject,
        line,
        `Numerical result out of range (lower threshold ${spec.lThreshold} is above upper threshold ${spec.uThreshold})`,
      );
    }
    if (svc.dests.some((d) => sameDest(d.spec, spec))) {
      throw kernelError("add-server", EEXIST, subject, line);
    }
    if (!destAddrOk(spec)) {
      throw kernelError(
        "add-server",
        EINVAL,
        subject,
        line,
        "Invalid operation: the real server address is not a unicast address",
      );
    }
    const max = this.#limits.maxDests;
    if (max !== undefined && this.#destCount >= max) {
      throw kernelError(
        "add-server",
        ENOMEM,
        subject,
        line,
        `the engine holds at most ${max} real servers`,
      );
    }
    const dest: ModelDest = { spec, label, line, index: -1 };
    svc.dests.push(dest);
    this.#destCount++;
    this.#ops.push({ cmd: "add-server", svc, dest });
    return dest;
  }
}
