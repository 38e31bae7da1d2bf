// Engine-wide settings (ip_vs_ctl.c): the sysctls the data path reads and the
// protocol timeouts. Timeouts are kept in seconds, indexed by T_* slot; an
// entry stores its current timeout in milliseconds.
import {
  SYS_CONN_REUSE_MODE,
  SYS_COUNT,
  SYS_FTP_PORT,
  SYS_AMEMTHRESH,
  SYS_AM_DROPRATE,
  SYS_ICMP_MSGS_BURST,
  SYS_ICMP_MSGS_PER_SEC,
  SYS_IP_UNPRIVILEGED_PORT_START,
  SYS_LBLCR_EXPIRATION,
  SYS_LBLC_EXPIRATION,
  SYS_PMTU_DISC,
  TCP_S_COUNT,
  TCP_S_ESTABLISHED,
  TCP_S_FIN_WAIT,
  T_COUNT,
  T_NEW,
  T_TCP_BASE,
  T_UDP,
} from "./abi";
import { TCP_TIMEOUTS } from "./proto/tcp";
import { UDP_TIMEOUT } from "./proto/udp";
import { Mem } from "./state";
import { defenseSysctl } from "./defense";

/** Timeout of a new entry until its first state transition (IPVS: 3 s). */
const NEW_TIMEOUT: u32 = 3;
/** lblc_expiration and lblcr_expiration default (24 h), and ip_unprivileged_port_start. */
const LBLC_EXPIRATION: u32 = 86400;
const UNPRIVILEGED_PORT_START: u32 = 1024;
/** net.ipv4.icmp_msgs_per_sec and icmp_msgs_burst defaults (Linux). */
const ICMP_MSGS_PER_SEC: u32 = 1000;
const ICMP_MSGS_BURST: u32 = 50;
/** am_droprate default (IPVS); amemthresh defaults to maxConns / 16 entries. */
const AM_DROPRATE: u32 = 10;
/** The FTP helper's port (ip_vs_ftp's default). */
const FTP_PORT: u32 = 21;
/** Largest settable timeout, s: its value in ms stays within the wrap-safe i32 compare. */
const MAX_TIMEOUT: u32 = 2147483;

@inline export function sysctl(index: u32): u32 {
  return load<u32>(Mem.sysctls + (<usize>index << 2));
}

@inline function timeoutAt(slot: u32): usize {
  return Mem.timeouts + (<usize>slot << 2);
}

/**
 * Defaults: spec §3.1 timeouts; conn_reuse_mode 1, pmtu_disc 1, lblc(r)_expiration
 * 86400, ip_unprivileged_port_start 1024, icmp_msgs_per_sec 1000, icmp_msgs_burst 50,
 * amemthresh maxConns / 16, am_droprate 10, ftp_port 21, the rest 0 (§9).
 */
export function ctlReset(): void {
  for (let s: u32 = 0; s < TCP_S_COUNT; s++) {
    store<u32>(timeoutAt(T_TCP_BASE + s), load<u32>(TCP_TIMEOUTS + (<usize>s << 2)));
  }
  store<u32>(timeoutAt(T_UDP), UDP_TIMEOUT);
  store<u32>(timeoutAt(T_NEW), NEW_TIMEOUT);
  memory.fill(Mem.sysctls, 0, <usize>SYS_COUNT << 2);
  store<u32>(Mem.sysctls + (<usize>SYS_CONN_REUSE_MODE << 2), 1);
  store<u32>(Mem.sysctls + (<usize>SYS_PMTU_DISC << 2), 1);
  store<u32>(Mem.sysctls + (<usize>SYS_LBLC_EXPIRATION << 2), LBLC_EXPIRATION);
  store<u32>(Mem.sysctls + (<usize>SYS_LBLCR_EXPIRATION << 2), LBLC_EXPIRATION);
  store<u32>(Mem.sysctls + (<usize>SYS_IP_UNPRIVILEGED_PORT_START << 2), UNPRIVILEGED_PORT_START);
  store<u32>(Mem.sysctls + (<usize>SYS_ICMP_MSGS_PER_SEC << 2), ICMP_MSGS_PER_SEC);
  store<u32>(Mem.sysctls + (<usize>SYS_ICMP_MSGS_BURST << 2), ICMP_MSGS_BURST);
  store<u32>(Mem.sysctls + (<usize>SYS_AMEMTHRESH << 2), max<u32>(1, Mem.maxConns >> 4));
  store<u32>(Mem.sysctls + (<usize>SYS_AM_DROPRATE << 2), AM_DROPRATE);
  store<u32>(Mem.sysctls + (<usize>SYS_FTP_PORT << 2), FTP_PORT);
}

/** Sets sysctl `index` (SYS_*); out-of-range indices are ignored. */
export function setSysctl(index: u32, value: u32): void {
  if (!Mem.ready || index >= SYS_COUNT) return;
  store<u32>(Mem.sysctls + (<usize>index << 2), value);
  defenseSysctl(index); // issue 7: a defense setting takes effect at the next batch
}

/**
 * `ipvsadm --set tcp tcpfin udp`, seconds; 0 leaves a value unchanged and larger
 * values are clamped to MAX_TIMEOUT.
 */
export function setTimeouts(tcp: u32, tcpfin: u32, udp: u32): void {
  if (!Mem.ready) return;
  if (tcp != 0) store<u32>(timeoutAt(T_TCP_BASE + TCP_S_ESTABLISHED), min(tcp, MAX_TIMEOUT));
  if (tcpfin != 0) store<u32>(timeoutAt(T_TCP_BASE + TCP_S_FIN_WAIT), min(tcpfin, MAX_TIMEOUT));
  if (udp != 0) store<u32>(timeoutAt(T_UDP), min(udp, MAX_TIMEOUT));
}

/** Timeout of T_* slot `slot` in seconds (0 for an unknown slot). */
export function getTimeout(slot: u32): u32 {
  return Mem.ready && slot < T_COUNT ? load<u32>(timeoutAt(slot)) : 0;
}
