// TCP connection states for IPVS (ip_vs_proto_tcp.c): the transition table of
// shared/spec/ipvs-data-plane.md §3.3, exactly as printed there, the default
// timeouts (§3.1) and the active-state set (§2.6). The state machine is table
// driven: no switch on the state in the packet path (house style G7).
import {
  CN_DEST,
  CN_FLAGS,
  CN_STATE,
  CN_TIMEOUT,
  IP_VS_CONN_F_INACTIVE,
  IP_VS_CONN_F_NOOUTPUT,
  TCP_S_CLOSE,
  TCP_S_COUNT,
  TCP_S_ESTABLISHED,
  TCP_S_SYNACK,
  TCP_S_SYN_RECV,
  TCP_S_SYN_SENT,
  T_TCP_BASE,
} from "../abi";
import { destSetActive } from "../dest";
import { Edge, Mem } from "../state";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../wire/tcp";

/** Directions (table index): in (MASQ entries), out, in-only (NOOUTPUT entries). */
export const DIR_IN: u32 = 0;
export const DIR_OUT: u32 = 1;
export const DIR_IN_ONLY: u32 = 2;

// Short state names for the table below (NONE is never a target).
const ES: u8 = 1; // ESTABLISHED
const SS: u8 = 2; // SYN_SENT
const SR: u8 = 3; // SYN_RECV
const FW: u8 = 4; // FIN_WAIT
const TW: u8 = 5; // TIME_WAIT
const CL: u8 = 6; // CLOSE
const CW: u8 = 7; // CLOSE_WAIT
const LA: u8 = 8; // LAST_ACK
const LI: u8 = 9; // LISTEN
const SA: u8 = 10; // SYNACK

/** TRANSITIONS[dir][flagRow][state], flag rows syn=0 fin=1 ack=2 rst=3. */
const TRANSITIONS: usize = memory.data<u8>([
  //      NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
  /*in syn*/ SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR,
  /*in fin*/ CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW,
  /*in ack*/ ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES,
  /*in rst*/ CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR,
  /*out syn*/ SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR,
  /*out fin*/ TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW,
  /*out ack*/ ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES,
  /*out rst*/ CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL,
  /*in-only syn*/ SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR,
  /*in-only fin*/ CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW,
  /*in-only ack*/ ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES,
  /*in-only rst*/ CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL,
  // secure_tcp (spec §3.4, "tcp_states_dos"): directions 3-5, used while defense.ts says so
  // (Edge.tcpDir = DIR_DOS). The cells that differ from the table above are marked *.
  //      NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
  /*in syn*/ SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA, // *SA
  /*in fin*/ CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA, // *SA
  /*in ack*/ ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA, // *SR *SA
  /*in rst*/ CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL, // *CL
  /*out syn*/ SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA, // *SA (SR) *SA
  /*out fin*/ TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW,
  /*out ack*/ ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES,
  /*out rst*/ CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL,
  /*in-only syn*/ SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA, // *SA in NO FW TW CL CW LA LI SA
  /*in-only fin*/ CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW,
  /*in-only ack*/ ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES,
  /*in-only rst*/ CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL,
]);

/** Added to the direction to use the secure_tcp rows (Edge.tcpDir). */
export const DIR_DOS: u32 = 3;

/** Default timeouts in seconds, indexed by state (§3.1). */
export const TCP_TIMEOUTS: usize = memory.data<u32>([
  // NONE ESTAB SYN_SENT SYN_RECV FIN_WAIT TIME_WAIT CLOSE CLOSE_WAIT LAST_ACK LISTEN SYNACK
  2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120,
]);

/** Flag row by precedence RST > SYN > FIN > ACK; -1 when none is set. */
@inline export function tcpFlagRow(flags: u32): i32 {
  if (flags & TCP_RST) return 3;
  if (flags & TCP_SYN) return 0;
  if (flags & TCP_FIN) return 1;
  if (flags & TCP_ACK) return 2;
  return -1;
}

/** The state after a segment with `flags` in direction `dir` (none of the four: CLOSE). */
@inline export function tcpNextState(dir: u32, flags: u32, state: u32): u32 {
  const row = tcpFlagRow(flags);
  if (row < 0 || state >= TCP_S_COUNT) return TCP_S_CLOSE;
  return load<u8>(TRANSITIONS + (dir * 4 + <u32>row) * TCP_S_COUNT + state);
}

/** ESTABLISHED, SYN_SENT, SYN_RECV and SYNACK count as active (§2.6). */
@inline export function tcpStateActive(state: u32): bool {
  return state == TCP_S_ESTABLISHED || state == TCP_S_SYN_SENT || state == TCP_S_SYN_RECV ||
    state == TCP_S_SYNACK;
}

/**
 * Applies one segment to entry `e`: new state, the dest's active/inactive
 * counts and the INACTIVE flag when the class changes, and the new state's
 * timeout (set even when the state stays).
 */
export function tcpStateTransition(e: usize, out: bool, flags: u32): void {
  const cflags = load<u32>(e, CN_FLAGS);
  const dir = out ? DIR_OUT : (cflags & IP_VS_CONN_F_NOOUTPUT) != 0 ? DIR_IN_ONLY : DIR_IN;
  const state = tcpNextState(dir + Edge.tcpDir, flags, load<u8>(e, CN_STATE));
  store<u8>(e, <u8>state, CN_STATE);
  const active = tcpStateActive(state);
  const wasActive = (cflags & IP_VS_CONN_F_INACTIVE) == 0;
  if (active != wasActive) {
    destSetActive(load<u32>(e, CN_DEST), active);
    store<u32>(e, cflags ^ IP_VS_CONN_F_INACTIVE, CN_FLAGS);
  }
  store<u32>(e, load<u32>(Mem.timeouts + ((<usize>(T_TCP_BASE + state)) << 2)) * 1000, CN_TIMEOUT);
}
