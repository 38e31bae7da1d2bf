// AH and ESP for IPVS (ip_vs_proto_ah_esp.c): never scheduled; a packet follows the UDP
// 500 <-> 500 (ISAKMP) entry between the same hosts (in, else out for NAT), address-only
// NAT, counted on the entry whose timer restarts. Without one: passed (not_l4). Mirrors
// assembly/proto/ah_esp.ts. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import { PK_ADDR } from "../edge.ts";
import { liveEntry } from "../icmp.ts";
import type { EngineState, Packet } from "../state.ts";
import { countPacket } from "../stats.ts";
import { transmit } from "../xmit.ts";

const {
  C_IN_BYTES,
  C_IN_PKTS,
  C_OUT_BYTES,
  C_OUT_PKTS,
  IP_VS_DEST_F_AVAILABLE,
  IPPROTO_UDP,
  R_DEST_UNAVAILABLE,
  R_NOT_L4,
} = abi;

/** UDP port 500 (ISAKMP) as a little-endian load of its wire bytes. */
const ISAKMP_WIRE = 0xf401;

export function ahEspIn(st: EngineState, p: Packet): number {
  const conns = st.conns;
  const now = st.sched.nowMs;
  const proto = p.proto;
  p.proto = IPPROTO_UDP;
  p.sport = ISAKMP_WIRE;
  p.dport = ISAKMP_WIRE;
  let out = false;
  let c = liveEntry(st, conns.inGet(p), now);
  if (c < 0) {
    c = liveEntry(st, conns.outGet(p), now);
    out = true;
  }
  p.proto = proto;
  if (c < 0) return R_NOT_L4;
  const d = conns.dest[c];
  if ((st.dests.flags[d] & IP_VS_DEST_F_AVAILABLE) === 0) return R_DEST_UNAVAILABLE;
  const ctr = st.counters;
  countPacket(st.dests.stats, d, out, p.iplen);
  countPacket(st.svcs.stats, conns.svc[c], out, p.iplen);
  ctr[out ? C_OUT_PKTS : C_IN_PKTS]++;
  ctr[out ? C_OUT_BYTES : C_IN_BYTES] += p.iplen;
  if (!out && conns.inPkts[c] !== 0xffffffff) conns.inPkts[c]++;
  conns.expires[c] = (now + conns.timeout[c]) >>> 0;
  p.kind = PK_ADDR;
  return transmit(st, p, c, out, p.rx, p.tx);
}
