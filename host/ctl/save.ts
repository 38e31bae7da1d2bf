// `ipvsadm -S`: the rules in the form `-R` reads back. Runtime-agnostic.
// Mirrors ipvsadm.c `print_service_entry` with FMT_RULE (spec ipvs-control-plane.md §3.1):
// no header, one `-A` line per service (sorted as -L sorts) followed by its `-a` lines.
// Invariant: what -S prints, -R restores to the same -S text (thresholds, timeouts and
// counters are not part of it, as in ipvsadm).

import {
  AF_INET6,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  IP_VS_CONN_F_TUNNEL_TYPE_GRE,
  IP_VS_CONN_F_TUNNEL_TYPE_GUE,
  IP_VS_SVC_F_ONEPACKET,
  IP_VS_SVC_F_PERSISTENT,
  IPPROTO_TCP,
  IPPROTO_UDP,
} from "../engine/abi.gen.ts";
import type { NameResolver } from "./addr.ts";
import {
  addrPortName,
  listedDests,
  listedServices,
  type ListSource,
  maskText,
  schedFlagNames,
  servProto,
} from "./list.ts";
import type { ServiceId } from "./command.ts";
import type { ModelDest, ModelService } from "./model.ts";

const CSUM = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"];

/**
 * The service token of a rule: `-t a:p`, `-u a:p`, `--sctp-service a:p`, `-f N` or `-f N -6`.
 *
 * @param s the service's identity
 * @param numeric `-n`
 * @param resolver name lookups when not numeric
 * @returns the token
 */
export function serviceToken(s: ServiceId, numeric = true, resolver?: NameResolver): string {
  // Unsigned, as upstream prints it since the 2020 fix (Debian's 1.31 prints it signed).
  if (s.fwmark) return `-f ${s.fwmark}${s.af === AF_INET6 ? " -6" : ""}`;
  const opt = s.protocol === IPPROTO_TCP
    ? "-t"
    : s.protocol === IPPROTO_UDP
    ? "-u"
    : "--sctp-service";
  return `${opt} ${addrPortName(s.addr, s.port, servProto(s.protocol), numeric, resolver)}`;
}

/**
 * The `-A` line of a service.
 *
 * @param svc the service
 * @param token its service token
 * @returns the line (no newline)
 */
export function serviceRule(svc: ModelService, token: string): string {
  const s = svc.spec;
  let line = `-A ${token} -s ${svc.schedName}`;
  if (s.flags & IP_VS_SVC_F_PERSISTENT) {
    line += ` -p ${s.timeout}`;
    if (s.af === AF_INET6) {
      if (s.netmask < 128) line += ` -M ${s.netmask}`;
    } else if (s.netmask !== 0xffffffff) line += ` -M ${maskText(s.netmask)}`;
  }
  if (svc.pe) line += ` --pe ${svc.pe}`;
  if (s.flags & IP_VS_SVC_F_ONEPACKET) line += " -o";
  const flags = schedFlagNames(svc.schedName, s.flags);
  if (flags.length) line += ` -b ${flags.join(",")}`;
  return line;
}

/**
 * The `-a` line of a real server.
 *
 * @param svc its service
 * @param d the real server
 * @param token the service token
 * @param numeric `-n`
 * @param resolver name lookups when not numeric
 * @returns the line (no newline)
 */
export function destRule(
  svc: ModelService,
  d: ModelDest,
  token: string,
  numeric = true,
  resolver?: NameResolver,
): string {
  const s = d.spec;
  const fwd = s.fwd === IP_VS_CONN_F_MASQ ? "-m" : s.fwd === IP_VS_CONN_F_TUNNEL ? "-i" : "-g";
  const rs = addrPortName(s.addr, s.port, servProto(svc.spec.protocol), numeric, resolver);
  let line = `-a ${token} -r ${rs} ${fwd} -w ${s.weight}`;
  if (s.fwd === IP_VS_CONN_F_TUNNEL) {
    if (s.tunType === IP_VS_CONN_F_TUNNEL_TYPE_GUE) {
      line += ` --tun-type gue --tun-port ${s.tunPort} ${CSUM[s.tunFlags] ?? CSUM[0]}`;
    } else if (s.tunType === IP_VS_CONN_F_TUNNEL_TYPE_GRE) {
      line += ` --tun-type gre ${CSUM[s.tunFlags] ?? CSUM[0]}`;
    } else {
      line += " --tun-type ipip";
    }
  }
  return line;
}

/**
 * `ipvsadm -S [-n]`: services sorted as `-L` sorts them, each followed by its real servers.
 *
 * @param src the services
 * @param numeric `-n`
 * @param resolver name lookups when not numeric
 * @returns the text
 *
 * @example
 * ```ts
 * import { saveRules } from "./save.ts";
 * if (saveRules({ kernelOrder: () => [] }, true) !== "") throw new Error("no services, no lines");
 * ```
 */
export function saveRules(
  src: Pick<ListSource, "kernelOrder">,
  numeric: boolean,
  resolver?: NameResolver,
): string {
  const out: string[] = [];
  for (const svc of listedServices(src, false)) {
    const token = serviceToken(svc.spec, numeric, resolver);
    out.push(serviceRule(svc, token) + "\n");
    for (const d of listedDests(svc, false)) {
      out.push(destRule(svc, d, token, numeric, resolver) + "\n");
    }
  }
  return out.join("");
}

/**
 * The same lines as `-S -n`, in creation order (services as added, real servers as added),
 * so that restoring them rebuilds the kernel's list order exactly: what the daemon saves.
 *
 * @param services services in creation order
 * @returns the text
 */
export function saveInCreationOrder(services: readonly ModelService[]): string {
  const out: string[] = [];
  for (const svc of services) {
    const token = serviceToken(svc.spec);
    out.push(serviceRule(svc, token) + "\n");
    for (const d of svc.dests) out.push(destRule(svc, d, token) + "\n");
  }
  return out.join("");
}
