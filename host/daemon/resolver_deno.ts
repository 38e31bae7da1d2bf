// Name lookups for ipvsadm's non-numeric forms, from the files the C library reads first:
// /etc/hosts (gethostbyname / gethostbyaddr) and /etc/services (getservbyname /
// getservbyport). Deno-specific (reads files). No DNS: a listing must never hang on a
// resolver (spec ipvs-control-plane.md §7 item 10); addresses without a hosts entry print
// numerically, as ipvsadm prints them when the lookup fails.

import { formatIp, inetPton4, type NameResolver, parseIp, type ServProto } from "../ctl/addr.ts";

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/**
 * A resolver over /etc/hosts and /etc/services (read once, at creation).
 *
 * @param hostsPath the hosts file
 * @param servicesPath the services file
 * @returns the resolver
 */
export function fileResolver(
  hostsPath = "/etc/hosts",
  servicesPath = "/etc/services",
): NameResolver {
  const nameToV4 = new Map<string, Uint8Array>();
  const addrToName = new Map<string, string>();
  for (const raw of readText(hostsPath).split("\n")) {
    const [addrText, ...names] = raw.replace(/#.*/, "").trim().split(/\s+/);
    const ip = addrText ? parseIp(addrText) : null;
    if (!ip || names.length === 0) continue;
    const key = formatIp(ip.addr);
    if (!addrToName.has(key)) addrToName.set(key, names[0]);
    if (ip.addr.length === 4) {
      for (const n of names) if (!nameToV4.has(n)) nameToV4.set(n, ip.addr);
    }
  }
  const servToPort = new Map<string, number>();
  const portToServ = new Map<string, string>();
  for (const raw of readText(servicesPath).split("\n")) {
    const [name, portProto, ...aliases] = raw.replace(/#.*/, "").trim().split(/\s+/);
    const m = portProto ? /^(\d+)\/(\w+)$/.exec(portProto) : null;
    if (!name || !m) continue;
    const port = Number(m[1]), proto = m[2];
    for (const n of [name, ...aliases]) {
      if (!servToPort.has(`${n}/${proto}`)) servToPort.set(`${n}/${proto}`, port);
    }
    if (!portToServ.has(`${port}/${proto}`)) portToServ.set(`${port}/${proto}`, name);
  }
  return {
    hostToAddr: (name: string) => {
      const a = nameToV4.get(name);
      return a ? Uint8Array.from(a) : (inetPton4(name) ?? null);
    },
    serviceToPort: (name: string, proto: ServProto) => servToPort.get(`${name}/${proto}`) ?? null,
    addrToHost: (addr: Uint8Array) => addrToName.get(formatIp(addr)) ?? null,
    portToService: (port: number, proto: ServProto) => portToServ.get(`${port}/${proto}`) ?? null,
  };
}
