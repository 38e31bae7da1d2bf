// A simulated network around a real engine: clients open TCP connections to a
// VIP, the engine schedules and rewrites every frame (NAT), simulated real
// servers answer, and the engine rewrites the answers back to the clients.
// Runtime-agnostic. Used by `deno task start` (host/main.ts) as the default
// demo, so that a new user sees the balancer at work without root or setup.
import type { Engine } from "../engine/engine.ts";
import { FrameIo } from "../engine/frames.ts";
import { AF_INET, IP_VS_CONN_F_MASQ } from "../engine/abi.gen.ts";
import { readFrame, tcpFrame } from "./tcp_frame.ts";

export interface SimOptions {
  /** New client connections per second. */
  cps: number;
  /** Scheduler id (SCHED_*). */
  sched: number;
  /** Weights of the real servers, one per server. */
  weights: number[];
  /** Response size of the simulated servers, bytes. */
  responseBytes: number;
}

export const VIP = Uint8Array.of(198, 18, 0, 100);
export const VPORT = 80;
const DIRECTOR_MAC = Uint8Array.of(2, 0, 0, 0, 0, 0xfe);
const GW_MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);
const rsAddr = (i: number) => Uint8Array.of(198, 18, 1, 1 + i);
const rsMac = (i: number) => Uint8Array.of(2, 0, 0, 0, 1, 1 + i);

/** Sets up the engine: one port, neighbours, the VIP and its real servers. */
export function configureSim(e: Engine, o: SimOptions): { svc: number; dests: number[] } {
  e.setPort(0, { mac: DIRECTOR_MAC, mtu: 1500, addr4: Uint8Array.of(198, 18, 0, 254) });
  e.setNeigh(AF_INET, null, GW_MAC, 0);
  const svc = e.addService({
    af: AF_INET,
    protocol: 6,
    addr: VIP,
    port: VPORT,
    fwmark: 0,
    sched: o.sched,
    flags: 0,
    timeout: 0,
    netmask: 0xffffffff,
  });
  if (svc < 0) throw new Error(`Cannot add the simulated service: error ${svc}`);
  const dests: number[] = [];
  for (let i = o.weights.length - 1; i >= 0; i--) {
    e.setNeigh(AF_INET, rsAddr(i), rsMac(i), 0);
    const d = e.addDest(svc, {
      af: AF_INET,
      addr: rsAddr(i),
      port: 8080,
      fwd: IP_VS_CONN_F_MASQ,
      weight: o.weights[i],
      uThreshold: 0,
      lThreshold: 0,
      tunType: 0,
      tunPort: 0,
      tunFlags: 0,
    });
    if (d < 0) throw new Error(`Cannot add simulated real server ${i + 1}: error ${d}`);
    dests.unshift(d);
  }
  return { svc, dests };
}

/**
 * Drives traffic: each `tick(now)` opens the connections due since the last
 * tick, moves every pending frame through the engine once, and lets the
 * endpoints answer what they received.
 */
export class Simulation {
  readonly io: FrameIo;
  readonly options: SimOptions;
  #queue: Uint8Array[] = [];
  #lastUs = -1;
  #owed = 0;
  #nextClient = 0;
  /** Totals seen by the endpoints (client side). */
  completed = 0;
  responsesByServer: number[];

  constructor(readonly engine: Engine, options: SimOptions) {
    this.io = new FrameIo(engine);
    this.options = options;
    this.responsesByServer = options.weights.map(() => 0);
  }

  #open(): void {
    const n = this.#nextClient++;
    const caddr = Uint8Array.of(198, 18, 0, 2 + ((n >> 16) & 0x7f));
    // Spread clients over addresses and ports so that every connection is new.
    caddr[3] = 2 + (n % 250);
    const cport = 1024 + (Math.floor(n / 250) % 60000);
    this.#queue.push(tcpFrame(GW_MAC, DIRECTOR_MAC, caddr, VIP, cport, VPORT, "S", 1, 0, 0));
  }

  /** Endpoint behaviour: answer a frame the engine transmitted. */
  #deliver(f: Uint8Array): void {
    const p = readFrame(f);
    if (!p) return;
    const rs = p.dst[0] === 198 && p.dst[1] === 18 && p.dst[2] === 1 ? p.dst[3] - 1 : -1;
    if (rs >= 0) {
      // At a real server: SYN → SYN+ACK; request → response + FIN; FIN → ACK.
      const back = (flags: string, len: number) =>
        this.#queue.push(
          tcpFrame(
            rsMac(rs),
            DIRECTOR_MAC,
            p.dst,
            p.src,
            p.dport,
            p.sport,
            flags,
            5000,
            p.seq + 1,
            len,
          ),
        );
      if (p.flags.includes("S")) back("SA", 0);
      else if (p.len > 0) {
        back("FPA", this.options.responseBytes);
        this.responsesByServer[rs]++;
      } else if (p.flags.includes("F")) back("A", 0);
      return;
    }
    // At a client: SYN+ACK → request; response+FIN → FIN+ACK (closing).
    const back = (flags: string, len: number) =>
      this.#queue.push(
        tcpFrame(GW_MAC, DIRECTOR_MAC, p.dst, p.src, p.dport, p.sport, flags, 2, p.seq + 1, len),
      );
    if (p.flags.includes("S")) back("PA", 120);
    else if (p.flags.includes("F")) {
      back("FA", 0);
      this.completed++;
    }
  }

  /** Advances the simulation to `nowUs` (microseconds). */
  tick(nowUs: number): void {
    if (this.#lastUs >= 0) this.#owed += ((nowUs - this.#lastUs) / 1e6) * this.options.cps;
    this.#lastUs = nowUs;
    for (; this.#owed >= 1; this.#owed--) this.#open();
    const frames = this.#queue;
    this.#queue = [];
    for (let i = 0; i < frames.length; i += this.io.batch) {
      const chunk = frames.slice(i, i + this.io.batch);
      chunk.forEach((f, k) => this.io.put(k, f));
      const nTx = this.engine.processBatch(chunk.length, nowUs);
      for (let j = 0; j < nTx; j++) this.#deliver(this.io.txView(j).slice());
    }
  }
}
