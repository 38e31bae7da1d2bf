// UDP for IPVS (ip_vs_proto_udp.c): one state (NORMAL), never active, and every
// datagram in either direction re-arms the entry with the UDP timeout (§3.5).
import { CN_TIMEOUT, T_UDP } from "../abi";
import { Mem } from "../state";

/** Default UDP timeout, seconds. */
export const UDP_TIMEOUT: u32 = 300;

export function udpStateTransition(e: usize): void {
  store<u32>(e, load<u32>(Mem.timeouts + (<usize>T_UDP << 2)) * 1000, CN_TIMEOUT);
}
