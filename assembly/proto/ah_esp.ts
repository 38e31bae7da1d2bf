// AH and ESP for IPVS (ip_vs_proto_ah_esp.c): never scheduled; a packet uses the UDP
// 500 <-> 500 (ISAKMP) entry between the same two hosts, in direction in (client to VIP)
// or out (NAT real server to client), and goes where that entry goes. NAT rewrites the
// address only (there are no ports; AH's integrity check is the peers' concern, as with
// IPVS). Counted on the entry; its timer restarts, its state does not change (UDP has one).
// Without such an entry the packet is passed (not_l4).
import {
  CN_DEST,
  CN_EXPIRES,
  CN_IN_PKTS,
  CN_SVC,
  CN_TIMEOUT,
  IPPROTO_UDP,
  IP_VS_DEST_F_AVAILABLE,
  R_DEST_UNAVAILABLE,
  R_NOT_L4,
  V_DROP,
  V_PASS,
} from "../abi";
import { NIL, connAt } from "../conn";
import { DS_FLAGS, destAt } from "../dest";
import { PK_ADDR, liveIn, liveOut } from "../edge";
import { Eng, Pkt } from "../state";
import { statsPacket } from "../stats";
import { xmit } from "../xmit";

/** UDP port 500 (ISAKMP) as a little-endian load of its wire bytes. */
const ISAKMP_WIRE: u32 = 0xf401;

/** An AH or ESP packet (edge.ts otherL4): its ISAKMP entry's transmit, or pass. */
export function ahEspIn(): u32 {
  let out = false;
  let slot = liveIn(Pkt.af, IPPROTO_UDP, Pkt.saddr, ISAKMP_WIRE, Pkt.daddr, ISAKMP_WIRE);
  if (slot == NIL) {
    slot = liveOut(Pkt.af, IPPROTO_UDP, Pkt.saddr, ISAKMP_WIRE, Pkt.daddr, ISAKMP_WIRE);
    out = true;
  }
  if (slot == NIL) return (V_PASS << 8) | R_NOT_L4;
  const e = connAt(slot);
  const dest = load<u32>(e, CN_DEST);
  if ((load<u32>(destAt(dest), DS_FLAGS) & IP_VS_DEST_F_AVAILABLE) == 0) {
    return (V_DROP << 8) | R_DEST_UNAVAILABLE;
  }
  statsPacket(load<u32>(e, CN_SVC), dest, out, Pkt.iplen);
  if (!out) {
    const n = load<u32>(e, CN_IN_PKTS);
    if (n != 0xffffffff) store<u32>(e, n + 1, CN_IN_PKTS);
  }
  store<u32>(e, Eng.nowMs + load<u32>(e, CN_TIMEOUT), CN_EXPIRES);
  Pkt.kind = PK_ADDR;
  return xmit(e, out);
}
