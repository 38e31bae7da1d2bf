// Issue 7, the edges: where the pipeline of core.ts and xmit.ts hands over to the code for
// what is not plain TCP/UDP (ICMP errors, fragments, AH/ESP, SCTP) and back. core.ts calls
// otherL4() for any L4 protocol it does not parse itself; xmit.ts calls natEdge() for the
// NAT rewrite of packets whose kind (Pkt.kind) is not PK_L4. Both engines follow
// ARCHITECTURE.md "Decisions (engine authors)", issue 7 bullets.
import {
  AF_INET,
  CN_N_CONTROL,
  IPPROTO_AH,
  IPPROTO_ESP,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_SCTP,
  R_NOT_L4,
  V_PASS,
} from "./abi";
import { ahEspIn } from "./proto/ah_esp";
import { sctpNat, sctpParse } from "./proto/sctp";
import { crc32cTable } from "./wire/sctp";

/** Bytes of the CRC32c table (256 × u32). */
const CRC_BYTES: u32 = 1024;
import { NIL, connAt, connExpired, connFree, connInGet, connOutGet } from "./conn";
import { icmpNat, icmpRelay } from "./icmp";
import { icmpSendReset } from "./icmp_send";
import { TODROP_BYTES, defenseReset, defenseTick } from "./defense";
import { FRAG_BYTES, FRAG_LATER, fragBatch, fragLater, fragNat, fragReset } from "./frag";
import { Edge, Pkt } from "./state";
import { APP_BYTES, appReset } from "./app";

/** Packet kinds for the NAT rewrite in xmit (Pkt.kind). */
export const PK_L4: u32 = 0; // TCP/UDP: address, port, L4 checksum (xmit.ts natRewrite)
export const PK_ICMP: u32 = 1; // an ICMP error: outer address and the quoted packet (icmp.ts)
export const PK_ADDR: u32 = 2; // address only: non-first fragments, AH/ESP (frag.ts)
export const PK_FRAG1: u32 = 3; // a first fragment: address, port, incremental L4 checksum
export const PK_SCTP: u32 = 4; // SCTP: address, port, CRC32c recomputed (proto/sctp.ts)

/**
 * A looked-up entry that is still alive: an expired one is freed and NIL returned, as core.ts
 * does, except for an entry that controls others (an FTP control connection with data
 * connections): it stays until the sweep's retry, as IPVS keeps it in the table.
 */
export function liveEntry(slot: u32): u32 {
  if (slot == NIL) return NIL;
  const e = connAt(slot);
  if (!connExpired(e) || load<u16>(e, CN_N_CONTROL) != 0) return slot;
  connFree(slot);
  return NIL;
}

/** In lookup (client -> VIP key) of a live entry. */
export function liveIn(af: u32, proto: u32, src: usize, sport: u32, dst: usize, dport: u32): u32 {
  return liveEntry(connInGet(af, proto, src, sport, dst, dport));
}

/** Out lookup (real server -> client key, NAT entries) of a live entry. */
export function liveOut(af: u32, proto: u32, src: usize, sport: u32, dst: usize, dport: u32): u32 {
  return liveEntry(connOutGet(af, proto, src, sport, dst, dport));
}

/** Outcome meaning "parsed: carry on with the connection lookup" (core.ts CONTINUE). */
export const EDGE_CONTINUE: u32 = 0;
/** What core.ts's parser returns for an L4 protocol it does not handle itself. */
export const OTHER_L4: u32 = 0xffff;

/**
 * Steps 5-12 for an L4 protocol other than TCP and UDP, and for later fragments: ICMP and
 * ICMPv6 errors are relayed on their connection, AH and ESP follow their ISAKMP entry,
 * SCTP is parsed and goes on (EDGE_CONTINUE) through the rest of the pipeline; anything
 * else is passed to the host (not_l4) as before.
 */
export function otherL4(mark: u32): u32 {
  const proto = Pkt.proto;
  let r: u32;
  if (Pkt.frag == FRAG_LATER) r = fragLater();
  else if (Pkt.frag != 0) r = (V_PASS << 8) | R_NOT_L4; // a first fragment of another protocol
  else if (proto == (Pkt.af == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6)) r = icmpRelay();
  else if (proto == IPPROTO_SCTP) {
    r = sctpParse();
    if (r == 0) {
      Pkt.kind = PK_SCTP;
      return EDGE_CONTINUE; // on with the connection lookup (core.ts balance)
    }
  } else if (proto == IPPROTO_ESP || proto == IPPROTO_AH) r = ahEspIn();
  else r = (V_PASS << 8) | R_NOT_L4;
  Pkt.frag = 0;
  Pkt.kind = PK_L4;
  return r;
}

/** NAT rewrite for a packet of kind Pkt.kind != PK_L4 (xmit.ts); returns the IPv4 header sum. */
export function natEdge(e: usize, out: bool, ipSum: u64): u64 {
  const k = Pkt.kind;
  return k == PK_ICMP ? icmpNat(e, out, ipSum) : k == PK_SCTP ? sctpNat(e, out, ipSum) : fragNat(e, out, ipSum);
}

/** The start of every frame (core.ts frame): no fragment, plain NAT. */
@inline export function edgeFrame(): void {
  Pkt.frag = 0;
  Pkt.kind = PK_L4;
}

/** The start of every batch (core.ts processBatch): defense, held fragments. */
export function edgeBatch(): void {
  defenseTick();
  fragBatch();
}

// ---- The edge region (carved by init after the sync region) ----------------------------
//  +---------------------+
//  | todrop countdowns   | TODROP_BYTES (defense.ts)
//  | fragment tracking   | FRAG_BYTES (frag.ts): table, held records, current key
//  | application helpers | APP_BYTES (app.ts): records, buckets, free stack, scratch
//  | CRC32c table        | CRC_BYTES (wire/sctp.ts), filled at init
//  +---------------------+
// The held fragments' frames are in frame slots [2 × batch, 2 × batch + FRAG_HOLD).

/** Bytes of the edge region for an engine of `batch` frames and `maxConns` entries. */
export function edgeBytes(batch: u32, maxConns: u32): u64 {
  return <u64>TODROP_BYTES + FRAG_BYTES + APP_BYTES + CRC_BYTES;
}

/** Called by init once memory is carved: every edge module to its initial state. */
export function edgeReset(region: usize): void {
  Edge.region = region;
  icmpSendReset();
  defenseReset(region);
  fragReset(region + TODROP_BYTES);
  appReset(region + TODROP_BYTES + FRAG_BYTES);
  Edge.crcTable = region + TODROP_BYTES + FRAG_BYTES + APP_BYTES;
  crc32cTable(Edge.crcTable);
}
