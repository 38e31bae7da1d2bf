// IPVS TCP state machine as constant tables: transitions, default timeouts, active class;
// plus the TCP checksum fix-up after NAT. Mirrors ip_vs_proto_tcp.c (tcp_states,
// tcp_timeouts, tcp_snat_handler) and assembly/proto/tcp.ts; values from
// ipvs-data-plane.md §3.1 and §3.3 exactly as printed there. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import * as checksumWire from "../wire/checksum.ts";
import * as tcpWire from "../wire/tcp.ts";

// Hot-path bindings as module-local consts: see state.ts, "Why local consts".
const {
  TCP_S_CLOSE,
  TCP_S_CLOSE_WAIT,
  TCP_S_COUNT,
  TCP_S_ESTABLISHED,
  TCP_S_FIN_WAIT,
  TCP_S_LAST_ACK,
  TCP_S_LISTEN,
  TCP_S_SYN_RECV,
  TCP_S_SYN_SENT,
  TCP_S_SYNACK,
  TCP_S_TIME_WAIT,
} = abi;
const { update } = checksumWire;
const { TCP_ACK_FLAG, TCP_CHECKSUM, TCP_FIN, TCP_RST, TCP_SYN } = tcpWire;

/** Table directions: client→server on a NAT entry, server→client, input on a NOOUTPUT entry. */
export const DIR_IN = 0;
export const DIR_OUT = 1;
export const DIR_IN_ONLY = 2;

/** Flag rows, chosen by precedence RST > SYN > FIN > ACK (tcpFlagRow). */
export const ROW_SYN = 0;
export const ROW_FIN = 1;
export const ROW_ACK = 2;
export const ROW_RST = 3;

const ES = TCP_S_ESTABLISHED;
const SS = TCP_S_SYN_SENT;
const SR = TCP_S_SYN_RECV;
const FW = TCP_S_FIN_WAIT;
const TW = TCP_S_TIME_WAIT;
const CL = TCP_S_CLOSE;
const CW = TCP_S_CLOSE_WAIT;
const LA = TCP_S_LAST_ACK;
const LI = TCP_S_LISTEN;
const SA = TCP_S_SYNACK;

/** TRANSITIONS[dir][flagRow][state] = next state (ipvs-data-plane.md §3.3). */
export const TRANSITIONS: readonly (readonly (readonly number[])[])[] = [
  [
    //  NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
    [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR], // IN syn
    [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW], // IN fin
    [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES], // IN ack
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR], // IN rst
  ],
  [
    //  NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
    [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR], // OUT syn
    [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW], // OUT fin
    [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES], // OUT ack
    [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL], // OUT rst
  ],
  [
    //  NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
    [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR], // IN-ONLY syn
    [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW], // IN-ONLY fin
    [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES], // IN-ONLY ack
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL], // IN-ONLY rst
  ],
];

/**
 * secure_tcp's table ("tcp_states_dos", spec §3.4), used while the defense says so
 * (defense.ts; directions DIR_DOS + dir). Cells that differ from TRANSITIONS are marked *.
 */
export const TRANSITIONS_DOS: readonly (readonly (readonly number[])[])[] = [
  [
    //  NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
    [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA], // IN syn      *SA
    [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA], // IN fin      *SA
    [ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA], // IN ack      *SR *SA
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL], // IN rst      *CL
  ],
  [
    [SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA], // OUT syn     *SA *SA
    [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW], // OUT fin
    [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES], // OUT ack
    [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL], // OUT rst
  ],
  [
    [SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA], // IN-ONLY syn *SA (8 cells)
    [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW], // IN-ONLY fin
    [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES], // IN-ONLY ack
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL], // IN-ONLY rst
  ],
];

/** Added to a direction to use TRANSITIONS_DOS (EdgeState.tcpDir while secure_tcp is on). */
export const DIR_DOS = 3;

/**
 * Both tables flattened once for the packet path: index (dir × 4 + row) × 11 + state, the
 * secure_tcp directions after the normal three.
 */
const FLAT = Uint8Array.from([...TRANSITIONS.flat(2), ...TRANSITIONS_DOS.flat(2)]);

/** Default timeouts in seconds, indexed by state (§3.1; `--set` changes ES and FW only). */
export const TCP_TIMEOUTS: readonly number[] = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120];

/** 1 for the states IPVS counts in activeConns (ESTABLISHED, SYN_SENT, SYN_RECV, SYNACK). */
export const TCP_ACTIVE: Uint8Array = Uint8Array.from(
  { length: TCP_S_COUNT },
  (_, s) => s === ES || s === SS || s === SR || s === SA ? 1 : 0,
);

/** The flag row of a TCP flags byte, or -1 when none of RST/SYN/FIN/ACK is set. */
export function tcpFlagRow(flags: number): number {
  if (flags & TCP_RST) return ROW_RST;
  if (flags & TCP_SYN) return ROW_SYN;
  if (flags & TCP_FIN) return ROW_FIN;
  if (flags & TCP_ACK_FLAG) return ROW_ACK;
  return -1;
}

/** Next state for a segment; a segment with none of the four flags sends the entry to CLOSE. */
export function tcpNextState(dir: number, flags: number, state: number): number {
  const row = tcpFlagRow(flags);
  return row < 0 ? CL : FLAT[(dir * 4 + row) * TCP_S_COUNT + state];
}

/** Applies summed RFC 1624 terms to the TCP checksum at `th` (a zero result stays zero). */
export function tcpCsumUpdate(dv: DataView, th: number, delta: number): void {
  const at = th + TCP_CHECKSUM;
  dv.setUint16(at, update(dv.getUint16(at, true), delta), true);
}
