// SCTP for IPVS (ip_vs_proto_sctp.c): the 14-state machine as a constant table by
// direction, event (from the first chunk) and state; per-state timeouts; scheduling on INIT
// (or any chunk but ABORT with sloppy_sctp); NAT with the CRC32c recomputed. Only
// ESTABLISHED is active. Mirrors assembly/proto/sctp.ts. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { EngineState, Packet } from "../state.ts";
import {
  CHUNK_HEADER_LEN,
  crc32c,
  SCTP_CHECKSUM,
  SCTP_CID_ABORT,
  SCTP_CID_COOKIE_ACK,
  SCTP_CID_COOKIE_ECHO,
  SCTP_CID_INIT,
  SCTP_DPORT,
  SCTP_HEADER_LEN,
  SCTP_SPORT,
} from "../wire/sctp.ts";
import * as checksumWire from "../wire/checksum.ts";

const {
  AF_INET,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_NOOUTPUT,
  R_TRUNC_L4,
  SCTP_S_COUNT,
  SCTP_S_ESTABLISHED,
  SYS_SLOPPY_SCTP,
} = abi;
const { delta32 } = checksumWire;

/** Event of chunk types 0..14 (sctp_events; others DATA): d i i_a c_e c_a s s_a s_c err ab. */
const EVENTS = Uint8Array.of(0, 1, 2, 0, 0, 0, 9, 5, 6, 8, 3, 4, 0, 0, 7);
const EVENT_COUNT = 10;

const [, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL] = [...Array(14).keys()];

/** SCTP_TRANSITIONS[dir][event][state] (dirs in, out, in-only as proto/tcp.ts). */
export const SCTP_TRANSITIONS: readonly (readonly (readonly number[])[])[] = [
  [
    //  NO  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
    [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL], // d
    [I1, IN, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, IN, IN], // i
    [CW, CW, CW, CS, CR, CO, CO, CE, ES, SS, SR, SA, RJ, CL], // i_a
    [CR, IN, IN, CR, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL], // c_e
    [ES, I1, IN, CS, CR, CW, CO, ES, ES, SS, SR, SA, RJ, CL], // c_a
    [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL], // s
    [CL, IN, IN, CS, CR, CW, CO, CE, ES, CL, SR, CL, RJ, CL], // s_a
    [CL, CL, CL, CS, CR, CW, CO, CE, ES, SS, SR, CL, RJ, CL], // s_c
    [CL, I1, IN, CS, CR, CW, CO, CL, ES, SS, SR, SA, RJ, CL], // err
    [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL], // ab
  ],
  [
    [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
    [CW, CW, CW, CW, CW, CW, CW, CW, ES, CW, CW, CW, CW, CW],
    [CS, CS, CS, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
    [CE, CE, CE, CE, CE, CE, CE, CE, ES, SS, SR, SA, RJ, CL],
    [ES, ES, ES, ES, ES, ES, ES, ES, ES, SS, SR, SA, RJ, CL],
    [SS, SS, SS, SS, SS, SS, SS, SS, SS, SS, SR, SA, RJ, CL],
    [SA, SA, SA, SA, SA, CW, CO, CE, ES, SA, SA, SA, RJ, CL],
    [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
    [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
    [CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL],
  ],
  [
    [ES, I1, IN, CS, CR, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
    [I1, IN, IN, IN, IN, IN, CO, CE, ES, SS, SR, SA, IN, IN],
    [CE, CE, CE, CE, CE, CE, CO, CE, ES, SS, SR, SA, RJ, CL],
    [ES, ES, ES, ES, ES, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
    [ES, I1, IN, ES, ES, CW, ES, ES, ES, SS, SR, SA, RJ, CL],
    [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL],
    [CL, IN, IN, CS, CR, CW, CO, CE, CL, CL, SR, CL, RJ, CL],
    [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, CL, CL, RJ, CL],
    [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
    [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL],
  ],
];
const FLAT = Uint8Array.from(SCTP_TRANSITIONS.flat(2));

/** Timeouts in seconds by state (2; INIT1, REJECTED 4; ESTABLISHED 900; the rest 61). */
export const SCTP_TIMEOUTS: readonly number[] = [
  2,
  4,
  61,
  61,
  61,
  61,
  61,
  61,
  900,
  61,
  61,
  61,
  4,
  61,
];

/** Step 5 for SCTP: ports, first chunk type (in p.tcpFlags). 0 or a drop reason. */
export function sctpParse(st: EngineState, p: Packet): number {
  const l4len = p.ip + p.iplen - p.th;
  if (l4len < SCTP_HEADER_LEN + CHUNK_HEADER_LEN) return R_TRUNC_L4;
  p.sport = st.dv.getUint16(p.th + SCTP_SPORT, true);
  p.dport = st.dv.getUint16(p.th + SCTP_DPORT, true);
  p.tcpFlags = st.u8[p.th + SCTP_HEADER_LEN];
  return 0;
}

/** INIT, or any chunk but ABORT with sloppy_sctp, may create an entry. */
export function sctpMayCreate(st: EngineState, p: Packet): boolean {
  const t = p.tcpFlags;
  return t === SCTP_CID_INIT || (st.sysctl[SYS_SLOPPY_SCTP] !== 0 && t !== SCTP_CID_ABORT);
}

function event(u8: Uint8Array, p: Packet): number {
  const th = p.th;
  let t = u8[th + SCTP_HEADER_LEN];
  if (t === SCTP_CID_COOKIE_ECHO || t === SCTP_CID_COOKIE_ACK) {
    const clen = (u8[th + SCTP_HEADER_LEN + 2] << 8) | u8[th + SCTP_HEADER_LEN + 3];
    const next = SCTP_HEADER_LEN + ((clen + 3) & ~3);
    if (clen >= CHUNK_HEADER_LEN && next + CHUNK_HEADER_LEN <= p.ip + p.iplen - th) {
      if (u8[th + next] === SCTP_CID_ABORT) t = SCTP_CID_ABORT;
    }
  }
  return t < 15 ? EVENTS[t] : 0;
}

/** set_sctp_state on entry `c`; returns the new state's timeout in ms. */
export function sctpStateTransition(st: EngineState, p: Packet, c: number, out: boolean): number {
  const conns = st.conns;
  const flags = conns.flags[c];
  const dir = out ? 1 : (flags & IP_VS_CONN_F_NOOUTPUT) !== 0 ? 2 : 0;
  const state = conns.state[c] < SCTP_S_COUNT ? conns.state[c] : 0;
  const next = FLAT[(dir * EVENT_COUNT + event(st.u8, p)) * SCTP_S_COUNT + state];
  conns.state[c] = next;
  const active = next === SCTP_S_ESTABLISHED;
  if (active !== ((flags & IP_VS_CONN_F_INACTIVE) === 0)) {
    st.dests.setActive(conns.dest[c], active);
    conns.flags[c] = flags ^ IP_VS_CONN_F_INACTIVE;
  }
  return SCTP_TIMEOUTS[next] * 1000;
}

/** NAT: address and port, then the CRC32c over the packet. The IPv4 header's terms. */
export function sctpNat(st: EngineState, p: Packet, c: number, out: boolean): number {
  const dv = st.dv;
  const conns = st.conns;
  const v4 = p.af === AF_INET;
  const at = p.ip + (out ? (v4 ? 12 : 8) : (v4 ? 16 : 24));
  let hdr = 0;
  if (v4) {
    const neu = out ? conns.vaddr[c] : conns.daddr[c];
    hdr = delta32(dv.getUint32(at, true), neu);
    dv.setUint32(at, neu, true);
  } else {
    const w = conns.block[c] * 12 + (out ? 4 : 8);
    for (let i = 0; i < 4; i++) dv.setUint32(at + i * 4, conns.addr6[w + i], true);
  }
  const th = p.th;
  dv.setUint16(th + (out ? SCTP_SPORT : SCTP_DPORT), out ? conns.vport[c] : conns.dport[c], true);
  dv.setUint32(th + SCTP_CHECKSUM, 0, true);
  dv.setUint32(th + SCTP_CHECKSUM, crc32c(st.u8, th, p.ip + p.iplen - th), true);
  return hdr;
}
