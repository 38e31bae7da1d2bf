// Issue 7, the edges: where the pipeline of core.ts and xmit.ts hands over to the code for
// what is not plain TCP/UDP (ICMP errors, fragments, AH/ESP, SCTP) and back. core.ts calls
// otherL4() for an L4 protocol it does not parse itself; xmit.ts calls natEdge() for the NAT
// rewrite of packets whose kind (p.kind) is not PK_L4. Mirrors assembly/edge.ts.
// Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import { icmpNat, icmpRelay } from "./icmp.ts";
import type { EngineState, Packet } from "./state.ts";

const { AF_INET, IPPROTO_ICMP, IPPROTO_ICMPV6, R_NOT_L4 } = abi;

/** Packet kinds for the NAT rewrite in transmit (p.kind). */
export const PK_L4 = 0; // TCP/UDP: address, port, L4 checksum (xmit.ts natRewrite)
export const PK_ICMP = 1; // an ICMP error: outer address and the quoted packet (icmp.ts)
export const PK_ADDR = 2; // address only: non-first fragments, AH/ESP

/** What the parser returns for an L4 protocol it does not handle itself (not a reason). */
export const OTHER_L4 = 0x100;

/**
 * Steps 5-12 for an L4 protocol other than TCP and UDP: ICMP and ICMPv6 errors are relayed
 * on their connection; anything else is passed to the host (not_l4) as before. Returns
 * R_NONE (transmitted as TX descriptor p.tx) or the reason.
 */
export function otherL4(st: EngineState, p: Packet): number {
  let r;
  if (p.proto === (p.af === AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6)) r = icmpRelay(st, p);
  else r = R_NOT_L4;
  p.kind = PK_L4;
  return r;
}

/** NAT rewrite for a packet of kind p.kind !== PK_L4; returns the IPv4 header's RFC 1624 terms. */
export function natEdge(st: EngineState, p: Packet, c: number, out: boolean): number {
  return icmpNat(st, p, c, out);
}
