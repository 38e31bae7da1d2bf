// SCTP for IPVS (ip_vs_proto_sctp.c): the 14-state machine as a constant table indexed by
// direction, event (from the first chunk) and state; the per-state timeouts; scheduling on
// INIT only (or any chunk but ABORT with sloppy_sctp); NAT with the CRC32c recomputed over
// the whole packet (sctp_dnat_handler / sctp_snat_handler). Only ESTABLISHED is active.
// SCTP fragments and SCTP in ICMP errors are not handled (passed).
import {
  AF_INET,
  CN_DADDR,
  CN_DEST,
  CN_DPORT,
  CN_EXT,
  CN_FLAGS,
  CN_STATE,
  CN_TIMEOUT,
  CN_VADDR,
  CN_VPORT,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_NOOUTPUT,
  R_TRUNC_L4,
  SCTP_S_COUNT,
  SCTP_S_ESTABLISHED,
  SYS_SLOPPY_SCTP,
  V_DROP,
} from "../abi";
import { C6_DADDR, C6_VADDR, conn6At } from "../conn";
import { sysctl } from "../ctl";
import { destSetActive } from "../dest";
import { Edge, Pkt } from "../state";
import { copy16, load16be } from "../wire/bytes";
import { csumUpdate32 } from "../wire/checksum";
import {
  CHUNK_HEADER_LEN,
  CHUNK_LEN,
  SCTP_CID_ABORT,
  SCTP_CID_COOKIE_ACK,
  SCTP_CID_COOKIE_ECHO,
  SCTP_CID_INIT,
  SCTP_CSUM,
  SCTP_DPORT,
  SCTP_HEADER_LEN,
  SCTP_SPORT,
  crc32c,
} from "../wire/sctp";

// Events: d(ata) i(nit) i_a c_e c_a s(hutdown) s_a s_c err ab(ort).
const EV_DATA: u32 = 0;
const EV_ABORT: u32 = 9;
const EVENT_COUNT: u32 = 10;

/** Event of each chunk type below 15 (sctp_events); others are DATA. */
const EVENTS: usize = memory.data<u8>([0, 1, 2, 0, 0, 0, 9, 5, 6, 8, 3, 4, 0, 0, 7]);

const NO: u8 = 0;
const I1: u8 = 1;
const IN: u8 = 2;
const CS: u8 = 3;
const CR: u8 = 4;
const CW: u8 = 5;
const CO: u8 = 6;
const CE: u8 = 7;
const ES: u8 = 8;
const SS: u8 = 9;
const SR: u8 = 10;
const SA: u8 = 11;
const RJ: u8 = 12;
const CL: u8 = 13;

/** TRANSITIONS[dir][event][state]; dirs in 0, out 1, in-only 2 (as proto/tcp.ts). */
const TRANSITIONS: usize = memory.data<u8>([
  //       NO  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
  /*in d  */ ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL,
  /*in i  */ I1, IN, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, IN, IN,
  /*in ia */ CW, CW, CW, CS, CR, CO, CO, CE, ES, SS, SR, SA, RJ, CL,
  /*in ce */ CR, IN, IN, CR, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL,
  /*in ca */ ES, I1, IN, CS, CR, CW, CO, ES, ES, SS, SR, SA, RJ, CL,
  /*in s  */ SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL,
  /*in sa */ CL, IN, IN, CS, CR, CW, CO, CE, ES, CL, SR, CL, RJ, CL,
  /*in sc */ CL, CL, CL, CS, CR, CW, CO, CE, ES, SS, SR, CL, RJ, CL,
  /*in err*/ CL, I1, IN, CS, CR, CW, CO, CL, ES, SS, SR, SA, RJ, CL,
  /*in ab */ CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL,
  /*out d  */ ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL,
  /*out i  */ CW, CW, CW, CW, CW, CW, CW, CW, ES, CW, CW, CW, CW, CW,
  /*out ia */ CS, CS, CS, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL,
  /*out ce */ CE, CE, CE, CE, CE, CE, CE, CE, ES, SS, SR, SA, RJ, CL,
  /*out ca */ ES, ES, ES, ES, ES, ES, ES, ES, ES, SS, SR, SA, RJ, CL,
  /*out s  */ SS, SS, SS, SS, SS, SS, SS, SS, SS, SS, SR, SA, RJ, CL,
  /*out sa */ SA, SA, SA, SA, SA, CW, CO, CE, ES, SA, SA, SA, RJ, CL,
  /*out sc */ CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL,
  /*out err*/ CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, SR, SA, RJ, CL,
  /*out ab */ CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL,
  /*io d  */ ES, I1, IN, CS, CR, ES, CO, CE, ES, SS, SR, SA, RJ, CL,
  /*io i  */ I1, IN, IN, IN, IN, IN, CO, CE, ES, SS, SR, SA, IN, IN,
  /*io ia */ CE, CE, CE, CE, CE, CE, CO, CE, ES, SS, SR, SA, RJ, CL,
  /*io ce */ ES, ES, ES, ES, ES, ES, CO, CE, ES, SS, SR, SA, RJ, CL,
  /*io ca */ ES, I1, IN, ES, ES, CW, ES, ES, ES, SS, SR, SA, RJ, CL,
  /*io s  */ SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL,
  /*io sa */ CL, IN, IN, CS, CR, CW, CO, CE, CL, CL, SR, CL, RJ, CL,
  /*io sc */ CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, CL, CL, RJ, CL,
  /*io err*/ CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL,
  /*io ab */ CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL,
]);

/** Timeouts in seconds by state (sctp_timeouts: 2, INIT1 and REJECTED 4, ES 900, others 61). */
export const SCTP_TIMEOUTS: usize = memory.data<u32>([2, 4, 61, 61, 61, 61, 61, 61, 900, 61, 61, 61, 4, 61]);

/**
 * SCTP at step 5 (edge.ts otherL4): the common header and a first chunk header must be
 * there. Sets the ports and, in Pkt.tcpFlags, the first chunk's type. 0 or a DROP outcome.
 */
export function sctpParse(): u32 {
  if (Pkt.l4len < SCTP_HEADER_LEN + CHUNK_HEADER_LEN) return (V_DROP << 8) | R_TRUNC_L4;
  Pkt.sport = load<u16>(Pkt.l4, SCTP_SPORT);
  Pkt.dport = load<u16>(Pkt.l4, SCTP_DPORT);
  Pkt.tcpFlags = load<u8>(Pkt.l4, SCTP_HEADER_LEN);
  return 0;
}

/** True when the packet may create an entry: INIT, or any chunk but ABORT with sloppy_sctp. */
export function sctpMayCreate(): bool {
  const t = Pkt.tcpFlags;
  return t == SCTP_CID_INIT || (sysctl(SYS_SLOPPY_SCTP) != 0 && t != SCTP_CID_ABORT);
}

/** The event of the packet: its first chunk's, or ABORT behind a COOKIE ECHO / ACK. */
function event(): u32 {
  const l4 = Pkt.l4;
  let t: u32 = load<u8>(l4, SCTP_HEADER_LEN);
  if (t == SCTP_CID_COOKIE_ECHO || t == SCTP_CID_COOKIE_ACK) {
    const clen = load16be(l4 + SCTP_HEADER_LEN + CHUNK_LEN);
    const next = SCTP_HEADER_LEN + ((clen + 3) & ~3);
    if (clen >= CHUNK_HEADER_LEN && next + CHUNK_HEADER_LEN <= Pkt.l4len) {
      if (<u32>load<u8>(l4 + next) == SCTP_CID_ABORT) t = SCTP_CID_ABORT;
    }
  }
  return t < 15 ? <u32>load<u8>(EVENTS + t) : EV_DATA;
}

/** set_sctp_state: new state, the active/inactive class (ESTABLISHED only), its timeout. */
export function sctpStateTransition(e: usize, out: bool): void {
  const flags = load<u32>(e, CN_FLAGS);
  const dir: u32 = out ? 1 : (flags & IP_VS_CONN_F_NOOUTPUT) != 0 ? 2 : 0;
  let state: u32 = load<u8>(e, CN_STATE);
  if (state >= SCTP_S_COUNT) state = 0;
  const next: u32 = load<u8>(TRANSITIONS + (dir * EVENT_COUNT + event()) * SCTP_S_COUNT + state);
  store<u8>(e, <u8>next, CN_STATE);
  const active = next == SCTP_S_ESTABLISHED;
  if (active != ((flags & IP_VS_CONN_F_INACTIVE) == 0)) {
    destSetActive(load<u32>(e, CN_DEST), active);
    store<u32>(e, flags ^ IP_VS_CONN_F_INACTIVE, CN_FLAGS);
  }
  store<u32>(e, load<u32>(SCTP_TIMEOUTS + (<usize>next << 2)) * 1000, CN_TIMEOUT);
}

/** NAT of an SCTP packet: address and port, then the CRC32c over it all. IPv4 header sum. */
export function sctpNat(e: usize, out: bool, ipSum: u64): u64 {
  const v4 = Pkt.af == AF_INET;
  const field = out ? Pkt.saddr : Pkt.daddr;
  if (v4) {
    const b = load<u32>(e + (out ? CN_VADDR : CN_DADDR));
    ipSum = csumUpdate32(ipSum, load<u32>(field), b);
    store<u32>(field, b);
  } else {
    copy16(field, conn6At(load<u32>(e, CN_EXT)) + (out ? C6_VADDR : C6_DADDR));
  }
  const l4 = Pkt.l4;
  store<u16>(l4 + (out ? SCTP_SPORT : SCTP_DPORT), load<u16>(e + (out ? CN_VPORT : CN_DPORT)));
  store<u32>(l4, 0, SCTP_CSUM);
  store<u32>(l4, crc32c(Edge.crcTable, l4, Pkt.l4len), SCTP_CSUM);
  return ipSum;
}
