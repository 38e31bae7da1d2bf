// The control plane's authoritative table of services and real servers, checked the way
// the kernel checks each command (ip_vs_ctl.c `ip_vs_genl_set_cmd`, `ip_vs_add_service`,
// `ip_vs_edit_service`, `ip_vs_add_dest`, `ip_vs_new_dest`, `ip_vs_edit_dest`,
// `ip_vs_del_dest`). Runtime-agnostic; runs without an engine (STYLE G13).
// Invariants: a refused operation leaves the model unchanged; every accepted change is one
// ModelOp (the journal), which apply.ts replays on an engine and rollback() undoes, so a
// batch of commands is all or nothing.

import { AF_INET6, IP_VS_CONN_F_TUNNEL } from "../engine/abi.gen.ts";
import type { DestSpec, ServiceSpec } from "../engine/engine.ts";
import type { ServiceId } from "./command.ts";
import {
  EEXIST,
  EINVAL,
  ENOENT,
  ENOMEM,
  ERANGE,
  ESRCH,
  type IpvsOp,
  kernelError,
} from "./errors.ts";
import { formatDest, formatService, type Rule, serviceKey } from "./rules.ts";
import {
  destRefusal,
  KERNEL_PES,
  KERNEL_SCHEDULERS,
  schedulerId,
  serviceRefusal,
} from "./support.ts";

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
  /** Persistence engine ("" for none). */
  pe: string;
  line: number | undefined;
  index: number;
  /** Creation order: the kernel's hash chains hold the newest first. */
  seq: number;
  /** Real servers in the order they were added (IPVS lists them newest first). */
  dests: ModelDest[];
}

/** One accepted change, in the order the engine must see them. */
export type ModelOp =
  | { cmd: "add-service"; svc: ModelService }
  | { cmd: "edit-service"; svc: ModelService; before: ServiceState }
  | { cmd: "delete-service"; svc: ModelService }
  | { cmd: "add-server"; svc: ModelService; dest: ModelDest }
  | { cmd: "edit-server"; svc: ModelService; dest: ModelDest; before: DestSpec }
  | { cmd: "delete-server"; svc: ModelService; dest: ModelDest; pos: number };

/** What `-E` replaces. */
export interface ServiceState {
  spec: ServiceSpec;
  schedName: string;
  pe: string;
}

/** Capacities of the target engine (absent: unlimited). */
export interface ModelLimits {
  maxServices?: number;
  maxDests?: number;
}

/** Model options. */
export interface ModelOptions {
  /**
   * Refuse what the engines do not implement yet (support.ts). Default true; false keeps
   * only the kernel's checks, for staging a configuration no engine will run.
   */
  engineChecks?: boolean;
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

/** The kernel's dest identity inside a service: (af, addr, port). */
export function sameDest(a: DestSpec, b: DestSpec): boolean {
  return a.af === b.af && a.port === b.port && a.addr.length === b.addr.length &&
    a.addr.every((x, i) => x === b.addr[i]);
}

/** ip_vs_svc_hashkey / ip_vs_svc_fwm_hashkey with a zero netns pointer (256 buckets). */
function hashBucket(s: ServiceSpec): number {
  if (s.fwmark) return s.fwmark & 0xff;
  const a = s.addr;
  let fold = 0;
  for (let i = 0; i < a.length; i += 4) {
    fold ^= (a[i] << 24) | (a[i + 1] << 16) | (a[i + 2] << 8) | a[i + 3];
  }
  return (s.protocol ^ fold ^ (s.port >> 8) ^ s.port) & 0xff;
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
  #seq = 0;
  #limits: ModelLimits;
  #engineChecks: boolean;

  constructor(limits: ModelLimits = {}, options: ModelOptions = {}) {
    this.#limits = limits;
    this.#engineChecks = options.engineChecks ?? true;
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
      if (r.cmd === "add-service") m.addService(r.service, r.schedName, r.line, r.pe ?? "");
      else m.addDest(r.service, r.dest, r.line);
    }
    return m;
  }

  /** Services in the order they were added. */
  get services(): ModelService[] {
    return [...this.#services.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Number of services. */
  get serviceCount(): number {
    return this.#services.size;
  }

  /** Number of real servers of all services. */
  get destCount(): number {
    return this.#destCount;
  }

  /** Services in the kernel's hash-table order (what `--nosort` lists, and what gets sorted). */
  kernelOrder(): ModelService[] {
    const all = [...this.#services.values()];
    const rank = (s: ModelService) => (s.spec.fwmark ? 256 : 0) + hashBucket(s.spec);
    return all.sort((a, b) => rank(a) - rank(b) || b.seq - a.seq);
  }

  /** Accepted operations not yet committed, in order. */
  get ops(): readonly ModelOp[] {
    return this.#ops;
  }

  /**
   * @param id a service identity (af, protocol, addr, port, or af and fwmark)
   * @returns the service, if defined
   */
  findService(id: ServiceId): ModelService | undefined {
    return this.#services.get(serviceKey(id));
  }

  /** @returns a mark for {@linkcode rollback}: the journal's length now */
  mark(): number {
    return this.#ops.length;
  }

  /**
   * Undoes every operation recorded after `mark`, newest first.
   *
   * @param mark a value from {@linkcode mark}
   */
  rollback(mark: number): void {
    while (this.#ops.length > mark) {
      const op = this.#ops.pop()!;
      switch (op.cmd) {
        case "add-service":
          this.#services.delete(op.svc.key);
          break;
        case "edit-service":
          Object.assign(op.svc, op.before);
          break;
        case "delete-service":
          this.#services.set(op.svc.key, op.svc);
          this.#destCount += op.svc.dests.length;
          break;
        case "add-server":
          op.svc.dests.splice(op.svc.dests.indexOf(op.dest), 1);
          this.#destCount--;
          break;
        case "edit-server":
          op.dest.spec = op.before;
          break;
        case "delete-server":
          op.svc.dests.splice(op.pos, 0, op.dest);
          this.#destCount++;
          break;
      }
    }
  }

  /** Forgets the journal (the operations are applied for good). */
  commit(): void {
    this.#ops = [];
  }

  #svcOrThrow(op: IpvsOp, id: ServiceId, subject: string, line?: number): ModelService {
    const svc = this.findService(id);
    if (!svc) throw kernelError(op, ESRCH, subject, line);
    return svc;
  }

  /** The kernel's scheduler and persistence-engine lookups, its IPv6 prefix check, then ours. */
  #checkServiceConf(
    op: IpvsOp,
    s: ServiceSpec,
    schedName: string,
    pe: string,
    label: string,
    line?: number,
  ) {
    if (!KERNEL_SCHEDULERS.includes(schedName)) {
      throw kernelError(op, ENOENT, label, line, `scheduler '${schedName}' not found`);
    }
    if (pe !== "" && !KERNEL_PES.includes(pe)) {
      throw kernelError(op, ENOENT, label, line, `persistence engine '${pe}' not found`);
    }
    if (s.af === AF_INET6 && !(s.netmask >= 1 && s.netmask <= 128)) {
      throw kernelError(
        op,
        EINVAL,
        label,
        line,
        "Invalid operation: IPv6 prefix length not in 1..128",
      );
    }
    if (this.#engineChecks) {
      const refusal = serviceRefusal({ protocol: s.protocol, schedName, flags: s.flags, pe }, line);
      if (refusal) throw refusal;
    }
  }

  /**
   * `-A`: adds a service.
   *
   * @param spec the service (`sched` is recomputed from `schedName`)
   * @param schedName the scheduler's name
   * @param line rules-file line, for messages
   * @param pe persistence engine ("" for none)
   * @returns the new service
   * @throws IpvsError EEXIST "Service already exists", ENOENT (scheduler or persistence
   *   engine), an unsupported feature, ENOMEM past `maxServices`
   */
  addService(spec: ServiceSpec, schedName: string, line?: number, pe = ""): ModelService {
    const key = serviceKey(spec);
    const label = formatService(spec);
    if (this.#services.has(key)) throw kernelError("add-service", EEXIST, label, line);
    this.#checkServiceConf("add-service", spec, schedName, pe, label, line);
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
    const svc: ModelService = {
      key,
      spec: { ...spec, sched: schedulerId(schedName) ?? 0xff },
      label,
      schedName,
      pe,
      line,
      index: -1,
      seq: this.#seq++,
      dests: [],
    };
    this.#services.set(key, svc);
    this.#ops.push({ cmd: "add-service", svc });
    return svc;
  }

  /**
   * `-E`: replaces a service's scheduler, flags, persistence and netmask (identity kept).
   *
   * @param spec the service's identity and new settings
   * @param schedName the scheduler's name
   * @param line rules-file line, for messages
   * @param pe persistence engine ("" for none)
   * @returns the service
   * @throws IpvsError ESRCH "No such service", ENOENT, an unsupported feature
   */
  editService(spec: ServiceSpec, schedName: string, line?: number, pe = ""): ModelService {
    const svc = this.#svcOrThrow("edit-service", spec, formatService(spec), line);
    this.#checkServiceConf("edit-service", spec, schedName, pe, svc.label, line);
    const before: ServiceState = { spec: svc.spec, schedName: svc.schedName, pe: svc.pe };
    svc.spec = {
      ...svc.spec,
      sched: schedulerId(schedName) ?? 0xff,
      flags: spec.flags,
      timeout: spec.timeout,
      netmask: spec.netmask,
    };
    svc.schedName = schedName;
    svc.pe = pe;
    this.#ops.push({ cmd: "edit-service", svc, before });
    return svc;
  }

  /**
   * `-D`: deletes a service and all its real servers.
   *
   * @param id the service's identity
   * @param line rules-file line, for messages
   * @throws IpvsError ESRCH "No such service"
   */
  delService(id: ServiceId, line?: number): void {
    const svc = this.#svcOrThrow("delete-service", id, formatService(id), line);
    this.#services.delete(svc.key);
    this.#destCount -= svc.dests.length;
    this.#ops.push({ cmd: "delete-service", svc });
  }

  /** `-C`: deletes every service. */
  flush(): void {
    for (const svc of this.services) this.delService(svc.spec);
  }

  /**
   * `-a`: adds a real server to a service.
   *
   * @param service the service's identity
   * @param spec the real server
   * @param line rules-file line, for messages
   * @returns the new real server
   * @throws IpvsError ESRCH "Service not defined", ERANGE (negative weight, l_threshold above
   *   u_threshold), EEXIST "Destination already exists", EINVAL (address not unicast, mixed
   *   family without tunnelling), an unsupported feature, ENOMEM past `maxDests`
   */
  addDest(service: ServiceId, spec: DestSpec, line?: number): ModelDest {
    const found = this.findService(service);
    // Messages only: built when needed (a restore adds 100,000 real servers).
    const subject = () => `${formatDest(spec)} to ${found?.label ?? formatService(service)}`;
    if (!found) throw kernelError("add-server", ESRCH, subject(), line);
    const svc = found;
    this.#checkDestConf("add-server", svc, spec, subject, line);
    if (svc.dests.some((d) => sameDest(d.spec, spec))) {
      throw kernelError("add-server", EEXIST, subject(), line);
    }
    if (!destAddrOk(spec)) {
      throw kernelError(
        "add-server",
        EINVAL,
        subject(),
        line,
        "Invalid operation: the real server address is not a unicast address",
      );
    }
    if (this.#engineChecks) {
      const refusal = destRefusal(spec, line);
      if (refusal) throw refusal;
    }
    const max = this.#limits.maxDests;
    if (max !== undefined && this.#destCount >= max) {
      throw kernelError(
        "add-server",
        ENOMEM,
        subject(),
        line,
        `the engine holds at most ${max} real servers`,
      );
    }
    const dest: ModelDest = {
      spec,
      get label() {
        return formatDest(this.spec);
      },
      line,
      index: -1,
    };
    svc.dests.push(dest);
    this.#destCount++;
    this.#ops.push({ cmd: "add-server", svc, dest });
    return dest;
  }

  /** Checks -a and -e share (ip_vs_add_dest / ip_vs_edit_dest, and the netlink family rule). */
  #checkDestConf(
    op: IpvsOp,
    svc: ModelService,
    spec: DestSpec,
    subject: () => string,
    line?: number,
  ) {
    if (spec.af !== svc.spec.af && spec.fwd !== IP_VS_CONN_F_TUNNEL) {
      throw kernelError(
        op,
        EINVAL,
        subject(),
        line,
        "Invalid operation: mixed families need tunnelling",
      );
    }
    if (spec.weight < 0) {
      throw kernelError(
        op,
        ERANGE,
        subject(),
        line,
        "Numerical result out of range (negative weight)",
      );
    }
    if (spec.lThreshold > spec.uThreshold) {
      throw kernelError(
        op,
        ERANGE,
        subject(),
        line,
        `Numerical result out of range (lower threshold ${spec.lThreshold} is above upper threshold ${spec.uThreshold})`,
      );
    }
  }

  #destOrThrow(op: IpvsOp, service: ServiceId, spec: DestSpec, line?: number) {
    const label = formatDest(spec);
    const found = this.findService(service);
    const subject = `${label} of ${found?.label ?? formatService(service)}`;
    const svc = this.#svcOrThrow(op, service, subject, line);
    return { svc, subject, pos: svc.dests.findIndex((d) => sameDest(d.spec, spec)) };
  }

  /**
   * `-e`: replaces a real server's forwarding method, weight, thresholds and tunnel settings.
   *
   * @param service the service's identity
   * @param spec the real server's identity and new settings
   * @param line rules-file line, for messages
   * @returns the real server
   * @throws IpvsError ESRCH "Service not defined", ERANGE, ENOENT "No such destination"
   */
  editDest(service: ServiceId, spec: DestSpec, line?: number): ModelDest {
    const { svc, subject, pos } = this.#destOrThrow("edit-server", service, spec, line);
    this.#checkDestConf("edit-server", svc, spec, () => subject, line);
    if (pos < 0) throw kernelError("edit-server", ENOENT, subject, line);
    if (this.#engineChecks) {
      const refusal = destRefusal(spec, line);
      if (refusal) throw refusal;
    }
    const dest = svc.dests[pos];
    const before = dest.spec;
    dest.spec = { ...spec, af: before.af, addr: before.addr, port: before.port };
    this.#ops.push({ cmd: "edit-server", svc, dest, before });
    return dest;
  }

  /**
   * `-d`: removes a real server from its service.
   *
   * @param service the service's identity
   * @param spec the real server's identity
   * @param line rules-file line, for messages
   * @throws IpvsError ESRCH "Service not defined", ENOENT "No such destination"
   */
  delDest(service: ServiceId, spec: DestSpec, line?: number): void {
    const { svc, subject, pos } = this.#destOrThrow("delete-server", service, spec, line);
    if (pos < 0) throw kernelError("delete-server", ENOENT, subject, line);
    const [dest] = svc.dests.splice(pos, 1);
    this.#destCount--;
    this.#ops.push({ cmd: "delete-server", svc, dest, pos });
  }
}
