// Issue 7, the edges: where the pipeline of core.ts and xmit.ts hands over to the code for
// what is not plain TCP/UDP (ICMP errors, fragments, AH/ESP, SCTP) and back. core.ts calls
// otherL4() for an L4 protocol it does not parse itself; xmit.ts calls natEdge() for the NAT
// rewrite of packets whose kind (p.kind) is not PK_L4. Mirrors assembly/edge.ts.
// Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import { icmpNat, icmpRelay } from "./icmp.ts";
import { defenseTick } from "./defense.ts";
import { FRAG_LATER, fragBatch, fragLater, fragNat } from "./frag.ts";
import { ahEspIn } from "./proto/ah_esp.ts";
import { sctpNat, sctpParse } from "./proto/sctp.ts";
import type { EngineState, Packet } from "./state.ts";

const { AF_INET, IPPROTO_AH, IPPROTO_ESP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, R_NOT_L4 } =
  abi;

/** Packet kinds for the NAT rewrite in transmit (p.kind). */
export const PK_L4 = 0; // TCP/UDP: address, port, L4 checksum (xmit.ts natRewrite)
export const PK_ICMP = 1; // an ICMP error: outer address and the quoted packet (icmp.ts)
export const PK_ADDR = 2; // address only: non-first fragments, AH/ESP (frag.ts)
export const PK_FRAG1 = 3; // a first fragment: address, port, incremental L4 checksum
export const PK_SCTP = 4; // SCTP: address, port, CRC32c recomputed (proto/sctp.ts)

/** What otherL4 returns for SCTP: parsed, go on with the connection lookup (not a reason). */
export const EDGE_CONTINUE = 0x101;

/** What the parser returns for an L4 protocol it does not handle itself (not a reason). */
export const OTHER_L4 = 0x100;

/**
 * Steps 5-12 for an L4 protocol other than TCP and UDP: ICMP and ICMPv6 errors are relayed
 * on their connection; anything else is passed to the host (not_l4) as before. Returns
 * R_NONE (transmitted as TX descriptor p.tx) or the reason.
 */
export function otherL4(st: EngineState, p: Packet): number {
  let r;
  if (p.frag === FRAG_LATER) r = fragLater(st, p);
  else if (p.frag !== 0) r = R_NOT_L4; // a first fragment of another protocol
  else if (p.proto === (p.af === AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6)) r = icmpRelay(st, p);
  else if (p.proto === IPPROTO_SCTP) {
    r = sctpParse(st, p);
    if (r === 0) {
      p.kind = PK_SCTP;
      return EDGE_CONTINUE; // on with the connection lookup (core.ts handleFrame)
    }
  } else if (p.proto === IPPROTO_ESP || p.proto === IPPROTO_AH) r = ahEspIn(st, p);
  else r = R_NOT_L4;
  p.kind = PK_L4;
  p.frag = 0;
  return r;
}

/** The parser's result `r` (not R_NONE): the other protocols, or the frame's reason. */
export function edgeParsed(st: EngineState, p: Packet, r: number): number {
  if (r === OTHER_L4) return otherL4(st, p);
  p.frag = 0; // a first fragment that did not parse is not tracked
  p.kind = PK_L4;
  return r;
}

/** The start of every frame: no fragment, plain NAT. */
export function edgeFrame(p: Packet): void {
  p.frag = 0;
  p.kind = PK_L4;
}

/** The start of every batch: defense, held fragments. */
export function edgeBatch(st: EngineState): void {
  defenseTick(st);
  fragBatch(st);
}

/** NAT rewrite for a packet of kind p.kind !== PK_L4; returns the IPv4 header's RFC 1624 terms. */
export function natEdge(st: EngineState, p: Packet, c: number, out: boolean): number {
  const k = p.kind;
  return k === PK_ICMP
    ? icmpNat(st, p, c, out)
    : k === PK_SCTP
    ? sctpNat(st, p, c, out)
    : fragNat(st, p, c, out);
}
