// The director's daemon loop: frames from the ports through the engine and back
// out, the slow path for what the engine passes (ARP, neighbour discovery), and
// the timers (connection expiry, neighbour resolution, announcements).
// Runtime-agnostic: ports, clock and the idle wait are injected (main.ts wires
// the Deno ones; tests use in-memory ports). One batch: every port receives into
// the shared host slots, one processBatch, TX sent per port, then PASSed frames
// are inspected, all before the next receive reuses the slots (ARCHITECTURE.md).
// With several workers (workers.ts) each runs its own Director over its own
// engine; only the primary one solicits and announces, and what it learns from
// ARP/ND is handed to the others through `onLearn` / `learnExternal`.
// Over 600 lines: one class whose private state (ports, neighbours, timers, VIP
// ownership) every step shares; ARP, ND and ICMP building live in arp.ts, nd.ts
// and icmp.ts, and splitting the loop further would pass that state around.
import {
  AF_INET,
  AF_INET6,
  C_CONN_DROPPED,
  C_CONN_EXPIRED,
  C_CONN_NEW,
  C_CONNS,
  C_DROP,
  C_ICMP_SENT,
  C_ICMP_SUPPRESSED,
  C_PASS,
  C_REASON_BASE,
  C_RX,
  C_TX,
  HEADROOM,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
  L_MAX_CONNS,
  R_COUNT,
  REASON_NAMES,
  RXD_LEN,
  RXD_PORT,
  RXD_SIZE,
  RXD_SLOT,
  RXD_VERDICT,
  SLOT_SIZE,
  TXD_PORT,
  TXD_SIZE,
  V_PASS,
} from "../engine/abi.gen.ts";
import { type FrameArea, frameArea, type FramePort, type RxCursor } from "../io/frame_io.ts";
import {
  ARP_REPLY,
  ARP_REQUEST,
  arpReply,
  arpRequest,
  ETH_P_ARP,
  gratuitousArp,
  parseArp,
} from "./arp.ts";
import { type DestSpec, type Engine, expireWindow } from "../engine/engine.ts";
import type { ServicePlan } from "./config.ts";
import { echoReply } from "./icmp.ts";
import { equalBytes, formatIp, formatMac, inPrefix, ipKey, type Prefixed } from "./inet.ts";
import {
  ETH_P_IPV6,
  IPPROTO_ICMPV6,
  isUnspecified,
  ND_NEIGHBOR_ADVERT,
  ND_NEIGHBOR_SOLICIT,
  neighborAdvertisement,
  neighborSolicitation,
  parseNd,
  unsolicitedAdvertisement,
} from "./nd.ts";
import { type NeighEntry, NeighTable } from "./neigh.ts";
import type { AdoptedService } from "./adopt.ts";

/** One attached interface as the director sees it. */
export interface DirectorPort {
  io: FramePort;
  mac: Uint8Array;
  mtu: number;
  /** Addresses the director owns on this port, with their on-link prefixes. */
  addrs: Prefixed[];
}

export interface DirectorOptions {
  engine: Engine;
  ports: DirectorPort[];
  services: ServicePlan[];
  /** Default routers (IPv4 and/or IPv6), resolved and installed as the default route. */
  gateways?: Uint8Array[];
  /** Wall clock in microseconds (engine time). */
  clock?: () => number;
  /** Resolves when a port may have input, or after `timeoutMs`. */
  wait?: (ports: readonly FramePort[], timeoutMs: number) => Promise<void>;
  log?: (line: string) => void;
  /**
   * The primary director solicits neighbours and announces addresses (default
   * true). Secondary workers only answer and learn; the primary's findings reach
   * them through `learnExternal`.
   */
  primary?: boolean;
  /** Most frames per round (default: the engine's batch). */
  roundLimit?: number;
  /**
   * run(): after a round that was not full, keep polling this long before waiting, µs
   * (config spinUs; after a full round it waits, so that NAPI can refill the rings).
   */
  spinUs?: number;
  /** run(): called on each empty pass while spinning (sched_yield: NAPI may need this CPU). */
  relax?: () => void;
  /** Called with every neighbour this director learns (to share it with other workers). */
  onLearn?: (addr: Uint8Array, mac: Uint8Array, port: number) => void;
  /**
   * Learn the MAC of every client (any source that is not a real server) from
   * the frames the engine forwards, so that replies have a next hop without an
   * ARP exchange, also after a restart (default true).
   */
  learnFromTraffic?: boolean;
  /**
   * Connection sync (host/sync/): `afterBatch` runs after every processBatch (a master
   * takes the engine's sync records), `tick` with the timers.
   */
  sync?: { afterBatch(nowUs: number): void; tick(nowUs: number): void };
  /**
   * Start as a standby (a sync backup): the VIPs are neither answered for nor announced
   * until `takeover()`.
   */
  standby?: boolean;
  /** Per port: addresses that, like the VIPs, are owned only while not a standby. */
  floating?: Prefixed[][];
}

/**
 * Expiry runs in windows (issue 5): every EXPIRE_EVERY_MS the engine examines the slots
 * owed since the last run, at one lap of the table per EXPIRE_LAP_MS: a budget of
 * ceil(maxConns × elapsed / EXPIRE_LAP_MS). A whole sweep of 2^20 slots stalled the frame
 * loop 4-10 ms once a second; a 2-ms window (~2100 slots) costs ~5-12 µs (bench/RESULTS.md,
 * "Incremental expiry"). A Worker ticks every 10 ms (worker_deno.ts TICK_MS), so there the
 * windows are ~10,500 slots (~20-55 µs). IPVS's timers have jiffy resolution; a lap of a
 * second is plenty here.
 */
const EXPIRE_EVERY_MS = 2;
const EXPIRE_LAP_MS = 1000;
/** Gratuitous ARP / unsolicited NA at start, then this many more, a second apart. */
const ANNOUNCE_REPEAT = 2;
/** Longest stretch of busy batches before letting timers and signals run. */
const YIELD_EVERY_MS = 5;
const IDLE_WAIT_MS = 100;
/** Forget which clients were learned this often, so a changed client MAC is noticed. */
const RELEARN_EVERY_MS = 30_000;

const FWD_NAMES: Record<number, string> = {
  [IP_VS_CONN_F_MASQ]: "NAT",
  [IP_VS_CONN_F_DROUTE]: "DR",
  [IP_VS_CONN_F_TUNNEL]: "TUN",
};

function defaultClock(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

export class Director {
  readonly engine: Engine;
  readonly ports: readonly DirectorPort[];
  readonly neigh: NeighTable = new NeighTable();
  #services: ServicePlan[];
  #gateways: Uint8Array[];
  #primary: boolean;
  #onLearn?: (addr: Uint8Array, mac: Uint8Array, port: number) => void;
  #learnTraffic: boolean;
  /** Client sources already learned from traffic: IPv4 as u32, IPv6 as text; value = port. */
  #seen4 = new Map<number, number>();
  #seen6 = new Map<string, number>();
  /** Real-server addresses (never learned as clients). */
  #rs4 = new Set<number>();
  #rs6 = new Set<string>();
  #nextRelearn = 0;
  /** Some dest is NAT (MASQ): replies to clients cross the director. */
  #hasMasq = false;
  #neighFull = false;
  #sync?: { afterBatch(nowUs: number): void; tick(nowUs: number): void };
  #standby: boolean;
  #floating: Prefixed[][];
  #clock: () => number;
  #wait: (ports: readonly FramePort[], timeoutMs: number) => Promise<void>;
  #log: (line: string) => void;
  #area: FrameArea;
  #mem: Uint8Array;
  #dv: DataView;
  #cur: RxCursor = { slot: 0, desc: 0, ring: 0 };
  /** Most frames taken in one round (ring ports can offer more than a batch). */
  #roundLimit: number;
  #spinMs: number;
  /** When the last round that was not full ended (spinning). */
  #lightAt = -Infinity;
  #relax: () => void;
  #txIdx: Uint32Array[];
  #txCount: Int32Array;
  #rr = 0;
  /** Per port: keys of IPv4/IPv6 addresses we answer ARP/NS for. */
  #owned: Set<string>[];
  #svcIndex: number[] = [];
  #destIndex: number[][] = [];
  #nextExpire = 0;
  #lastExpire = 0;
  #announceLeft = ANNOUNCE_REPEAT + 1;
  #nextAnnounce = 0;
  #ready = false;
  #running = false;

  constructor(o: DirectorOptions) {
    this.engine = o.engine;
    this.ports = o.ports;
    this.#services = o.services;
    this.#gateways = o.gateways ?? [];
    this.#primary = o.primary ?? true;
    this.#onLearn = o.onLearn;
    this.#learnTraffic = o.learnFromTraffic ?? true;
    this.#sync = o.sync;
    this.#standby = o.standby ?? false;
    this.#floating = o.ports.map((_, i) => o.floating?.[i] ?? []);
    this.#clock = o.clock ?? defaultClock;
    this.#wait = o.wait ?? ((_p, ms) => new Promise((r) => setTimeout(r, ms)));
    this.#log = o.log ?? ((l) => console.log(l));
    this.#area = frameArea(o.engine);
    this.#roundLimit = Math.min(o.roundLimit ?? this.#area.batch, this.#area.batch);
    this.#spinMs = (o.spinUs ?? 0) / 1000;
    this.#relax = o.relax ?? (() => {});
    this.#mem = new Uint8Array(this.#area.memory);
    this.#dv = new DataView(this.#area.memory);
    this.#txIdx = o.ports.map(() => new Uint32Array(this.#area.txCap));
    this.#txCount = new Int32Array(o.ports.length);
    this.#owned = o.ports.map((p) => new Set(p.addrs.map((a) => ipKey(a.addr))));
  }

  /** Applies ports, services and dests to the engine, and queues neighbour work. Throws on refusal. */
  setup(): void {
    const e = this.engine;
    this.ports.forEach((p, i) => {
      const addr4 = p.addrs.find((a) => a.addr.length === 4)?.addr;
      const addr6 = p.addrs.find((a) => a.addr.length === 16)?.addr;
      const r = e.setPort(i, { mac: p.mac, mtu: p.mtu, addr4, addr6 });
      if (r < 0) throw new Error(`Cannot set up port ${p.io.ifname}: setPort returned ${r}`);
    });
    for (const s of this.#services) {
      const svc = this.#addService(s);
      this.#svcIndex.push(svc);
      this.#destIndex.push(s.dests.map((d) => this.#addDest(svc, s, d)));
    }
    this.#ownVips();
    for (const g of this.#gateways) {
      const port = this.#portFor(g);
      if (port < 0) throw new Error(`Cannot use gateway ${formatIp(g)}: no port has it on-link`);
      this.neigh.want(g, ipKey(g), port, true);
    }
  }

  #svcName(s: ServicePlan): string {
    return `${s.spec.protocol === 17 ? "udp" : "tcp"} ${this.#endpoint(s.spec.addr, s.spec.port)}`;
  }

  #addService(s: ServicePlan): number {
    const svc = this.engine.addService(s.spec);
    if (svc < 0) throw new Error(`Cannot add service ${this.#svcName(s)}: engine returned ${svc}`);
    return svc;
  }

  #addDest(svc: number, s: ServicePlan, d: DestSpec): number {
    const r = this.engine.addDest(svc, d);
    if (r < 0) {
      throw new Error(
        `Cannot add dest ${formatIp(d.addr)} to ${this.#svcName(s)}: engine returned ${r}`,
      );
    }
    this.#watchRealServer(d.addr);
    return r;
  }

  /** Resolves a real server's MAC, and never mistakes it for a client. */
  #watchRealServer(addr: Uint8Array): void {
    const port = this.#portFor(addr);
    if (port >= 0) this.neigh.want(addr, ipKey(addr), port);
    if (addr.length === 4) {
      this.#rs4.add(new DataView(addr.buffer, addr.byteOffset).getUint32(0));
    } else this.#rs6.add(ipKey(addr));
  }

  /**
   * Takes the services as the control plane (host/daemon/, wvsadm) has applied them to the
   * engine: the director answers for their VIPs and resolves their real servers, and
   * changes nothing in the engine itself. A changed set of VIPs is announced again.
   */
  adopt(services: AdoptedService[]): void {
    const vips = (l: readonly ServicePlan[]) => l.map((s) => ipKey(s.spec.addr)).sort().join();
    const changed = vips(services.map((s) => s.plan)) !== vips(this.#services);
    this.#services = services.map((s) => s.plan);
    this.#svcIndex = services.map((s) => s.svc);
    this.#destIndex = services.map((s) => s.dests);
    for (const s of this.#services) for (const d of s.dests) this.#watchRealServer(d.addr);
    this.#ownVips();
    if (changed && this.#primary) this.#announceLeft = ANNOUNCE_REPEAT + 1;
  }

  /** Recomputes the addresses answered for on each port: the port's own and the VIPs. */
  #ownVips(): void {
    this.#hasMasq = this.#services.some((s) =>
      s.dests.some((d) => (d.fwd & IP_VS_CONN_F_FWD_MASK) === IP_VS_CONN_F_MASQ)
    );
    this.#owned = this.ports.map((p, i) =>
      new Set(
        [...p.addrs, ...(this.#standby ? [] : this.#floating[i])].map((a) => ipKey(a.addr)),
      )
    );
    // A firewall-mark service has no VIP of its own to answer for.
    for (const s of this.#standby ? [] : this.#services.filter((x) => x.spec.fwmark === 0)) {
      // A VIP is announced where its prefix is on-link, or on every port if none is.
      const on = this.ports.map((_, i) => i).filter((i) =>
        this.ports[i].addrs.some((a) => inPrefix(s.spec.addr, a))
      );
      for (const i of on.length ? on : this.ports.map((_, j) => j)) {
        this.#owned[i].add(ipKey(s.spec.addr));
      }
    }
  }

  /**
   * Brings the engine from the current services to `services` with the fewest
   * changes (ipvsadm -E/-e semantics: a kept service keeps its connections; a
   * kept dest keeps its counters), as a reload does. Validation happened in
   * planDirector; an engine refusal throws after the changes before it.
   * Returns one line per change, for the log.
   */
  reconfigure(services: ServicePlan[]): string[] {
    const e = this.engine;
    const changes: string[] = [];
    const skey = (s: ServicePlan) => `${s.spec.protocol}/${ipKey(s.spec.addr)}/${s.spec.port}`;
    const dkey = (d: DestSpec) => `${ipKey(d.addr)}/${d.port}`;
    const old = new Map(this.#services.map((s, i) => [skey(s), i]));
    const svcIndex: number[] = [];
    const destIndex: number[][] = [];
    const kept = new Set<number>();
    for (const s of services) {
      const i = old.get(skey(s));
      if (i === undefined) {
        const svc = this.#addService(s);
        svcIndex.push(svc);
        destIndex.push(s.dests.map((d) => this.#addDest(svc, s, d)));
        changes.push(`added service ${this.#svcName(s)} with ${s.dests.length} dests`);
        continue;
      }
      kept.add(i);
      const svc = this.#svcIndex[i];
      const was = this.#services[i];
      if (was.spec.sched !== s.spec.sched || was.spec.flags !== s.spec.flags) {
        const r = e.editService(svc, s.spec);
        if (r < 0) throw new Error(`Cannot edit service ${this.#svcName(s)}: engine returned ${r}`);
        changes.push(`edited service ${this.#svcName(s)}`);
      }
      const oldDests = new Map(was.dests.map((d, j) => [dkey(d), j]));
      const keptDests = new Set<number>();
      destIndex.push(s.dests.map((d) => {
        const j = oldDests.get(dkey(d));
        if (j === undefined) {
          changes.push(`added dest ${formatIp(d.addr)} to ${this.#svcName(s)}`);
          return this.#addDest(svc, s, d);
        }
        keptDests.add(j);
        const o = was.dests[j];
        const di = this.#destIndex[i][j];
        if (
          o.weight !== d.weight || o.fwd !== d.fwd || o.uThreshold !== d.uThreshold ||
          o.lThreshold !== d.lThreshold
        ) {
          const r = e.editDest(di, d);
          if (r < 0) {
            throw new Error(`Cannot edit dest ${formatIp(d.addr)}: engine returned ${r}`);
          }
          changes.push(`edited dest ${formatIp(d.addr)} of ${this.#svcName(s)}`);
        }
        return di;
      }));
      was.dests.forEach((d, j) => {
        if (keptDests.has(j)) return;
        e.delDest(this.#destIndex[i][j]);
        changes.push(`deleted dest ${formatIp(d.addr)} from ${this.#svcName(s)}`);
      });
      svcIndex.push(svc);
    }
    this.#services.forEach((s, i) => {
      if (kept.has(i)) return;
      e.delService(this.#svcIndex[i]);
      changes.push(`deleted service ${this.#svcName(s)}`);
    });
    this.#services = services;
    this.#svcIndex = svcIndex;
    this.#destIndex = destIndex;
    this.#ownVips();
    if (changes.length && this.#primary) this.#announceLeft = ANNOUNCE_REPEAT + 1;
    return changes;
  }

  /** The services as currently applied. */
  get services(): readonly ServicePlan[] {
    return this.#services;
  }

  /** The one-line summary logged at start: interfaces, VIPs, mode. */
  healthLine(): string {
    const ports = this.ports.map((p, i) =>
      `port ${i} ${p.io.ifname} (${p.io.kind}, ${formatMac(p.mac)}, mtu ${p.mtu}` +
      `${p.addrs.map((a) => `, ${formatIp(a.addr)}/${a.len}`).join("")})`
    );
    const modes = new Set<string>();
    const vips = this.#services.map((s) => {
      const fwd = new Set(s.dests.map((d) => FWD_NAMES[d.fwd & IP_VS_CONN_F_FWD_MASK] ?? "?"));
      fwd.forEach((m) => modes.add(m));
      return `${s.spec.protocol === 17 ? "udp" : "tcp"} ${
        this.#endpoint(s.spec.addr, s.spec.port)
      } ` +
        `${["rr", "wrr", "wlc"][s.spec.sched] ?? s.spec.sched} ${
          [...fwd].join("+")
        } x${s.dests.length}`;
    });
    const slots = this.#roundLimit === this.#area.batch ? "" : ` of ${this.#area.batch} slots`;
    return `wvs director up: engine ${this.engine.kind}, batch ${this.#roundLimit}${slots}; ${
      ports.join("; ")
    }; ` +
      `vips: ${vips.join(", ") || "none"}; mode ${[...modes].join("+") || "none"}`;
  }

  /** True once every real server and gateway on a port has a MAC. */
  get ready(): boolean {
    return this.#ready;
  }

  /**
   * After a round that took `got` frames, at `now` (ms): true while the loop should poll
   * again at once rather than wait, i.e. within spinUs of a round that was not full. After a
   * full round it waits, so that a NAPI thread sharing the CPU can refill the rings.
   */
  spinning(got: number, now: number): boolean {
    if (got > 0) this.#lightAt = got < this.#roundLimit ? now : -Infinity;
    return got === 0 && now - this.#lightAt < this.#spinMs;
  }

  /** One receive → process → send round over all ports; returns frames taken (0 = idle). */
  pollOnce(): number {
    const cur = this.#cur;
    cur.slot = 0;
    cur.desc = 0;
    cur.ring = 0;
    const n = this.ports.length;
    const limit = this.#roundLimit;
    // Rotate the first port so that a busy port cannot starve the others.
    for (let k = 0; k < n && cur.slot < limit; k++) {
      const p = (this.#rr + k) % n;
      this.ports[p].io.recvBatch(cur, limit, p);
    }
    this.#rr = (this.#rr + 1) % n;
    if (cur.desc > 0) {
      // Before the engine rewrites the frames in place: their Ethernet sources are still the senders'.
      if (this.#learnTraffic && this.#hasMasq) this.#learnSources(cur.desc);
      const now = this.#clock();
      const nTx = this.engine.processBatch(cur.desc, now);
      this.#sendTx(nTx);
      this.#sync?.afterBatch(now);
      this.#slowPath(cur.desc);
    }
    return cur.slot + cur.ring;
  }

  #sendTx(nTx: number): void {
    const count = this.#txCount;
    count.fill(0);
    const base = this.#area.txDesc;
    for (let j = 0; j < nTx; j++) {
      const port = this.#dv.getUint16(base + j * TXD_SIZE + TXD_PORT, true);
      if (port < count.length) this.#txIdx[port][count[port]++] = j;
    }
    for (let p = 0; p < count.length; p++) {
      if (count[p] > 0) this.ports[p].io.sendBatch(this.#txIdx[p], count[p]);
    }
  }

  /** After a batch is sent: the frames the engine passed go to handleFrame. */
  #slowPath(nRx: number): void {
    const a = this.#area;
    for (let i = 0; i < nRx; i++) {
      const d = a.rxDesc + i * RXD_SIZE;
      if (this.#mem[d + RXD_VERDICT] !== V_PASS) continue;
      const slot = this.#dv.getUint32(d + RXD_SLOT, true);
      const len = this.#dv.getUint16(d + RXD_LEN, true);
      const port = this.#dv.getUint16(d + RXD_PORT, true);
      if (len < 14 || len > SLOT_SIZE - HEADROOM || port >= this.ports.length) continue;
      const at = a.slots + slot * SLOT_SIZE + HEADROOM;
      this.handleFrame(this.#mem.subarray(at, at + len), port);
    }
  }

  /**
   * learnFromTraffic: the Ethernet source of every received IP frame whose
   * source is not a real server is that client's next hop (the client itself
   * or the router it came through), which NAT replies need. One Map lookup per
   * frame; only an unseen source costs more.
   */
  #learnSources(nRx: number): void {
    const a = this.#area;
    const dv = this.#dv;
    for (let i = 0; i < nRx; i++) {
      const d = a.rxDesc + i * RXD_SIZE;
      const len = dv.getUint16(d + RXD_LEN, true);
      const port = dv.getUint16(d + RXD_PORT, true);
      if (len < 34 || len > SLOT_SIZE - HEADROOM || port >= this.ports.length) continue;
      this.#learnSource(
        a.slots + dv.getUint32(d + RXD_SLOT, true) * SLOT_SIZE + HEADROOM,
        len,
        port,
      );
    }
  }

  /** Learns the Ethernet source of a forwarded frame as the next hop of its IP source. */
  #learnSource(at: number, len: number, port: number): void {
    const mem = this.#mem;
    const l3 = mem[at + 12] === 0x81 && mem[at + 13] === 0x00 ? at + 18 : at + 14;
    const type = (mem[l3 - 2] << 8) | mem[l3 - 1];
    // TCP and UDP only: what the engine may forward (ND and ICMP have their own rules).
    if (type === 0x0800 && l3 + 20 <= at + len && (mem[l3 + 9] === 6 || mem[l3 + 9] === 17)) {
      const src = this.#dv.getUint32(l3 + 12);
      if (this.#seen4.get(src) === port || this.#rs4.has(src)) return;
      this.#seen4.set(src, port);
      this.#learnClient(mem.slice(l3 + 12, l3 + 16), mem.slice(at + 6, at + 12), port);
    } else if (
      type === ETH_P_IPV6 && l3 + 40 <= at + len && (mem[l3 + 6] === 6 || mem[l3 + 6] === 17)
    ) {
      const src = mem.slice(l3 + 8, l3 + 24);
      const key = ipKey(src);
      if (this.#seen6.get(key) === port || this.#rs6.has(key)) return;
      this.#seen6.set(key, port);
      this.#learnClient(src, mem.slice(at + 6, at + 12), port);
    }
  }

  #learnClient(addr: Uint8Array, mac: Uint8Array, port: number): void {
    if (this.#neighFull || this.#owned[port].has(ipKey(addr)) || mac[0] & 1) return;
    // Clients behind a known gateway need no entry of their own: the default route covers them.
    for (const g of this.#gateways) {
      const e = this.neigh.get(ipKey(g));
      if (e?.mac && e.port === port && g.length === addr.length && equalBytes(e.mac, mac)) return;
    }
    this.#learn(addr, mac, port, true, false);
  }

  /** Records a neighbour learned by another worker (no log, no sharing back). */
  learnExternal(addr: Uint8Array, mac: Uint8Array, port: number): void {
    if (port >= this.ports.length) return;
    this.#learn(addr, mac, port, true, false);
  }

  /** Slow path for one frame the engine passed (also used by tests). */
  handleFrame(f: Uint8Array, port: number): void {
    const tagged = f[12] === 0x81 && f[13] === 0x00;
    const t = tagged ? 16 : 12;
    const type = (f[t] << 8) | f[t + 1];
    if (type === ETH_P_ARP) this.#onArp(f, port);
    else if (type === ETH_P_IPV6 && f.length > t + 8 && f[t + 8] === IPPROTO_ICMPV6) {
      // Neighbour discovery, or an echo request to an address we own.
      if (f.length > t + 42 && f[t + 42] === 128) this.#onEcho(f, port, t + 2);
      else this.#onNd(f, port);
    } else if (type === 0x0800 && f.length > t + 11 && f[t + 11] === 1) {
      this.#onEcho(f, port, t + 2);
    }
  }

  /** Answers ICMP/ICMPv6 echo requests to the VIPs and port addresses, as the kernel would. */
  #onEcho(f: Uint8Array, port: number, l3: number): void {
    const v4 = f[l3] >> 4 === 4;
    const dst = v4 ? f.subarray(l3 + 16, l3 + 20) : f.subarray(l3 + 24, l3 + 40);
    if (!this.#owned[port].has(ipKey(dst))) return;
    const reply = echoReply(f, l3, this.ports[port].mac);
    if (reply) this.ports[port].io.sendFrame(reply);
  }

  #onArp(f: Uint8Array, port: number): void {
    const r = parseArp(f);
    if (!r) return;
    const p = this.ports[port];
    const forUs = this.#owned[port].has(ipKey(r.tpa));
    // Cache the sender if it asked us (it is about to talk to us) or we asked it;
    // otherwise only refresh what we already know (RFC 826's merge rule, narrowed).
    const onLink = p.addrs.some((a) => inPrefix(r.spa, a)) && !r.spa.every((b) => b === 0);
    if (onLink) this.#learn(r.spa, r.sha, port, forUs || r.op === ARP_REPLY);
    if (r.op === ARP_REQUEST && forUs) p.io.sendFrame(arpReply(p.mac, r));
  }

  #onNd(f: Uint8Array, port: number): void {
    const r = parseNd(f);
    if (!r) return;
    const p = this.ports[port];
    if (r.type === ND_NEIGHBOR_SOLICIT) {
      const forUs = this.#owned[port].has(ipKey(r.target));
      if (!isUnspecified(r.src) && r.lladdr && p.addrs.some((a) => inPrefix(r.src, a))) {
        this.#learn(r.src, r.lladdr, port, forUs);
      }
      if (forUs) p.io.sendFrame(neighborAdvertisement(p.mac, r));
    } else if (r.type === ND_NEIGHBOR_ADVERT) {
      this.#learn(r.target, r.lladdr ?? r.ethSrc, port, false);
    }
  }

  #learn(addr: Uint8Array, mac: Uint8Array, port: number, create: boolean, share = true): void {
    const wanted = this.neigh.get(ipKey(addr));
    const e = this.neigh.learn(addr, ipKey(addr), mac, port, create || wanted !== undefined);
    if (!e) return;
    const af = addr.length === 4 ? AF_INET : AF_INET6;
    const r = this.engine.setNeigh(af, addr, e.mac!, port);
    if (r < 0 && !this.#neighFull) {
      // Logged once: a full table keeps failing, and the default route still covers clients.
      this.#neighFull = true;
      this.#log(`wvs director: cannot cache neighbour ${formatIp(addr)}: setNeigh returned ${r}`);
    }
    if (share) this.#onLearn?.(addr, e.mac!, port);
    if (e.gateway) this.engine.setNeigh(af, null, e.mac!, port);
    if (e.wanted) {
      this.#log(
        `wvs director: neighbour ${formatIp(addr)} is ${formatMac(e.mac!)} on ${
          this.ports[port].io.ifname
        }`,
      );
    }
    this.#checkReady();
  }

  #checkReady(): void {
    if (this.#ready || this.neigh.unresolved().length > 0) return;
    this.#ready = true;
    this.#log(`wvs director ready: ${this.neigh.wantedCount()} neighbours resolved`);
  }

  /** Runs due timers at `nowUs`: expiry, neighbour solicitations, announcements. */
  tick(nowUs = this.#clock()): void {
    const ms = nowUs / 1000;
    if (ms >= this.#nextExpire) {
      // The slots owed since the last run (the first run: one period's); after a lap or
      // more, the whole table.
      const since = this.#lastExpire > 0 ? ms - this.#lastExpire : EXPIRE_EVERY_MS;
      this.engine.expire(
        nowUs,
        expireWindow(this.engine.layout[L_MAX_CONNS], since, EXPIRE_LAP_MS),
      );
      this.#lastExpire = ms;
      this.#nextExpire = ms + EXPIRE_EVERY_MS;
    }
    this.#sync?.tick(nowUs);
    if (ms >= this.#nextRelearn) {
      this.#seen4.clear();
      this.#seen6.clear();
      this.#nextRelearn = ms + RELEARN_EVERY_MS;
    }
    if (!this.#primary) return this.#checkReady();
    for (const e of this.neigh.due(ms)) this.#solicit(e);
    if (this.#announceLeft > 0 && ms >= this.#nextAnnounce) {
      this.#announce();
      this.#announceLeft--;
      this.#nextAnnounce = ms + 1000;
    }
    this.#checkReady();
  }

  /** True while the VIPs belong to another director (sync backup, before takeover). */
  get standby(): boolean {
    return this.#standby;
  }

  /**
   * Failover: this director becomes the one for its VIPs. It answers ARP/ND for them from
   * now on and announces them at once (gratuitous ARP, unsolicited NA), then twice more a
   * second apart; connections a sync backup learned are forwarded as before.
   */
  takeover(): void {
    this.#standby = false;
    this.#ownVips();
    this.#announceLeft = ANNOUNCE_REPEAT + 1;
    this.#nextAnnounce = 0;
  }

  /** Gives the VIPs up (back to standby): no more answers or announcements for them. */
  release(): void {
    this.#standby = true;
    this.#ownVips();
  }

  #solicit(e: NeighEntry): void {
    const p = this.ports[e.port];
    if (e.addr.length === 4) {
      const src = p.addrs.find((a) => a.addr.length === 4)?.addr ?? new Uint8Array(4);
      p.io.sendFrame(arpRequest(p.mac, src, e.addr));
    } else {
      const src = p.addrs.find((a) => a.addr.length === 16)?.addr ?? new Uint8Array(16);
      p.io.sendFrame(neighborSolicitation(p.mac, src, e.addr));
    }
  }

  /** Gratuitous ARP and unsolicited NA for every address we own, on its port. */
  #announce(): void {
    this.ports.forEach((p, i) => {
      for (const a of this.#ownedAddrs(i, 4)) p.io.sendFrame(gratuitousArp(p.mac, a));
      for (const a of this.#ownedAddrs(i, 16)) p.io.sendFrame(unsolicitedAdvertisement(p.mac, a));
    });
  }

  #ownedAddrs(port: number, len: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const a of this.ports[port].addrs) if (a.addr.length === len) out.push(a.addr);
    if (!this.#standby) {
      for (const a of this.#floating[port]) if (a.addr.length === len) out.push(a.addr);
    }
    for (const s of this.#services) {
      if (s.spec.addr.length === len && this.#owned[port].has(ipKey(s.spec.addr))) {
        out.push(s.spec.addr);
      }
    }
    return out;
  }

  /** Runs until `stop()`: busy while frames flow, parked in `wait` when idle. */
  async run(): Promise<void> {
    this.#running = true;
    let lastYield = performance.now();
    while (this.#running) {
      const got = this.pollOnce();
      this.tick();
      const now = performance.now();
      const spinning = this.spinning(got, now);
      if (spinning) this.#relax();
      if (got === 0 && !spinning) {
        await this.#wait(this.ports.map((p) => p.io), IDLE_WAIT_MS);
        lastYield = performance.now();
      } else if (now - lastYield > YIELD_EVERY_MS) {
        await new Promise((r) => setTimeout(r, 0));
        lastYield = performance.now();
      }
    }
  }

  stop(): void {
    this.#running = false;
  }

  /** Counters, per-port I/O and per-dest statistics, for logs and tests. */
  snapshot(): DirectorSnapshot {
    for (const p of this.ports) p.io.sampleKernelDrops?.();
    const c = this.engine.counters();
    const reasons: Record<string, number> = {};
    for (let r = 1; r < R_COUNT; r++) {
      if (c[C_REASON_BASE + r]) reasons[REASON_NAMES[r]] = c[C_REASON_BASE + r];
    }
    return {
      counters: {
        rx: c[C_RX],
        tx: c[C_TX],
        drop: c[C_DROP],
        pass: c[C_PASS],
        connNew: c[C_CONN_NEW],
        connExpired: c[C_CONN_EXPIRED],
        conns: c[C_CONNS],
        // Issue 7: ICMP errors generated / left out, connections dropped by defense.
        icmpSent: c[C_ICMP_SENT],
        icmpSuppressed: c[C_ICMP_SUPPRESSED],
        connDropped: c[C_CONN_DROPPED],
      },
      reasons,
      ports: this.ports.map((p) => ({ ifname: p.io.ifname, ...p.io.stats })),
      services: this.#services.map((s, i) => ({
        vip: `${s.spec.protocol === 17 ? "udp" : "tcp"} ${
          this.#endpoint(s.spec.addr, s.spec.port)
        }`,
        dests: s.dests.map((d, j) => {
          const st = this.engine.destStats(this.#destIndex[i][j]);
          return {
            addr: formatIp(d.addr),
            conns: st.conns,
            inPkts: st.inPkts,
            outPkts: st.outPkts,
          };
        }),
      })),
    };
  }

  #endpoint(addr: Uint8Array, port: number): string {
    return addr.length === 16 ? `[${formatIp(addr)}]:${port}` : `${formatIp(addr)}:${port}`;
  }

  /** The port whose prefixes contain `addr`, or -1. */
  #portFor(addr: Uint8Array): number {
    return this.ports.findIndex((p) => p.addrs.some((a) => inPrefix(addr, a)));
  }
}

export interface DirectorSnapshot {
  counters: Record<string, number>;
  /** With several workers: each worker's counters (the merge sums them into `counters`). */
  workers?: Record<string, number>[];
  /** A worker's loop: durations of its receive→send rounds and of its timer ticks, µs. */
  loop?: Record<string, { n: number; p50: number; p99: number; max: number }>;
  reasons: Record<string, number>;
  ports: Record<string, number | string>[];
  services: {
    vip: string;
    dests: { addr: string; conns: number; inPkts: number; outPkts: number }[];
  }[];
}
