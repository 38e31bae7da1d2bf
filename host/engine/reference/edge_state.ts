// Issue 7 (the edges) run-time state of the reference engine, hung off EngineState (house
// style G11): the ICMP error token bucket and IP ID, and the count of extra TX descriptors
// the current frame wrote (generated ICMP errors, second fragments). Mirrors the `Edge`
// class of assembly/state.ts. Runtime-agnostic.
import * as abi from "../abi.gen.ts";
import { FragState } from "./frag.ts";
import { AppState } from "./app.ts";
import { FtpScratch } from "./app_ftp.ts";

const {
  SYS_AM_DROPRATE,
  SYS_AMEMTHRESH,
  SYS_FTP_PORT,
  SYS_ICMP_MSGS_BURST,
  SYS_ICMP_MSGS_PER_SEC,
} = abi;

/** net.ipv4.icmp_msgs_per_sec and icmp_msgs_burst defaults (Linux). */
export const ICMP_MSGS_PER_SEC = 1000;
export const ICMP_MSGS_BURST = 50;
/** am_droprate default (IPVS); amemthresh defaults to maxConns / 16 entries. */
export const AM_DROPRATE = 10;
/** The FTP helper's port (ip_vs_ftp's default). */
export const FTP_PORT = 21;

export class EdgeState {
  /** Token bucket of generated ICMP errors, thousandths of a message, and its clock (ms). */
  icmpTokens = 0;
  icmpLastMs = 0;
  /** IPv4 ID of generated ICMP errors (u16, wraps). */
  icmpId = 0;
  /**
   * TX descriptors the current frame wrote besides its own (processBatch adds them to nTx):
   * they start at `pkt.tx`, or after the frame's own one when the frame is transmitted.
   */
  gen = 0;
  /** Defense (defense.ts): when it last ran (ms), whether it must run at the next batch. */
  defLastMs = 0;
  defDue = true;
  /** drop_packet: one new-connection packet in dropRate is dropped (0: none); the countdown. */
  dropRate = 0;
  dropCounter = 0;
  /** drop_entry in effect; where its scan and the eviction of half-open entries are. */
  dropEntry = false;
  dropCursor = 0;
  evictCursor = 0;
  /** todrop_entry's countdowns, indexed by in_pkts (1..8). */
  readonly todrop = new Int32Array(9);
  /** proto/tcp.ts DIR_DOS while secure_tcp is in effect, else 0. */
  tcpDir = 0;
  /** Fragment tracking and held fragments (frag.ts). */
  readonly frag = new FragState();
  /** Application helper records (app.ts), a lookup key and the FTP parser's scratch. */
  readonly app = new AppState();
  readonly appKey = new Uint32Array(8);
  readonly ftp = new FtpScratch();

  /** Defaults of the edge sysctls, and the initial state (a full bucket). */
  reset(sysctl: Int32Array, maxConns: number): void {
    sysctl[SYS_ICMP_MSGS_PER_SEC] = ICMP_MSGS_PER_SEC;
    sysctl[SYS_ICMP_MSGS_BURST] = ICMP_MSGS_BURST;
    sysctl[SYS_AMEMTHRESH] = Math.max(1, maxConns >>> 4);
    sysctl[SYS_AM_DROPRATE] = AM_DROPRATE;
    sysctl[SYS_FTP_PORT] = FTP_PORT;
    this.defLastMs = 0;
    this.defDue = true;
    this.dropRate = 0;
    this.dropCounter = 0;
    this.dropEntry = false;
    this.dropCursor = 0;
    this.evictCursor = 0;
    this.todrop.fill(0);
    this.tcpDir = 0;
    this.icmpTokens = ICMP_MSGS_BURST * 1000;
    this.icmpLastMs = 0;
    this.icmpId = 0;
    this.gen = 0;
  }
}
