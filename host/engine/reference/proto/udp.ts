// IPVS UDP protocol handling: one state, one timeout, and the UDP checksum fix-up after
// NAT, including the zero-checksum rule. Mirrors ip_vs_proto_udp.c (udp_snat_handler,
// udp_dnat_handler) and assembly/proto/udp.ts; facts from ipvs-data-plane.md §3.5, §4.2.
// Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import * as checksumWire from "../wire/checksum.ts";
import * as ipv4Wire from "../wire/ipv4.ts";
import * as ipv6Wire from "../wire/ipv6.ts";
import * as udpWire from "../wire/udp.ts";

// Hot-path bindings as module-local consts: see state.ts, "Why local consts".
const { IPPROTO_UDP, T_UDP } = abi;
const { finish, sumBytes, update } = checksumWire;
const { IPV4_SRC } = ipv4Wire;
const { IPV6_SRC } = ipv6Wire;
const { UDP_CHECKSUM, UDP_LENGTH } = udpWire;

/** UDP entries use the T_UDP timeout slot; default 300 s (§3.5). */
export const UDP_TIMEOUT_SLOT = T_UDP;
export const UDP_DEFAULT_TIMEOUT = 300;

/** The protocol word of the pseudo header, as a little-endian load of its wire bytes. */
const PSEUDO_PROTO = IPPROTO_UDP << 8;

/**
 * Fixes the UDP checksum at `th` after NAT rewrote addresses/ports by `delta` (RFC 1624
 * terms). A zero checksum ("no checksum", RFC 768) is replaced by a full one over the
 * pseudo header and the UDP length bytes, as IPVS does (§4.2); addresses are read from the
 * rewritten header at `ip`. A result of 0 goes out as 0xFFFF either way.
 */
export function udpCsumUpdate(dv: DataView, ip: number, th: number, v4: boolean, delta: number) {
  const at = th + UDP_CHECKSUM;
  const old = dv.getUint16(at, true);
  let check;
  if (old !== 0) {
    check = update(old, delta);
  } else {
    const lenLe = dv.getUint16(th + UDP_LENGTH, true);
    let sum = v4 ? sumBytes(dv, ip + IPV4_SRC, 8, 0) : sumBytes(dv, ip + IPV6_SRC, 32, 0);
    sum += PSEUDO_PROTO + lenLe;
    check = finish(sumBytes(dv, th, ((lenLe & 0xff) << 8) | (lenLe >>> 8), sum));
  }
  dv.setUint16(at, check === 0 ? 0xffff : check, true);
}
