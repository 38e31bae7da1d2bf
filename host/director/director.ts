// The director's daemon loop: frames from the ports through the engine and back
// out, the slow path for what the engine passes (ARP, neighbour discovery), and
// the timers (connection expiry, neighbour resolution, announcements).
// Runtime-agnostic: ports, clock and the idle wait are injected (main.ts wires
// the Deno ones; tests use in-memory ports). One batch: every port receives into
// the shared host slots, one processBatch, TX sent per port, then PASSed frames
// are inspected, all before the next receive reuses the slots (ARCHITECTURE.md).
import {
  AF_INET,
  AF_INET6,
  C_CONN_EXPIRED,
  C_CONN_NEW,
  C_CONNS,
  C_DROP,
  C_PASS,
  C_REASON_BASE,
  C_RX,
  C_TX,
  HEADROOM,
  IP_VS_CONN_F_DROUTE,
  IP_VS_CONN_F_FWD_MASK,
  IP_VS_CONN_F_MASQ,
  IP_VS_CONN_F_TUNNEL,
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
import type { Engine } from "../engine/engine.ts";
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
import type { ServicePlan } from "./config.ts";
import { formatIp, formatMac, inPrefix, ipKey, type Prefixed } from "./inet.ts";
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
}

/** Expiry sweep period (IPVS's timers have jiffy resolution; a second is plenty here). */
const EXPIRE_EVERY_MS = 1000;
/** Gratuitous ARP / unsolicited NA at start, then this many more, a second apart. */
const ANNOUNCE_REPEAT = 2;
/** Longest stretch of busy batches before letting timers and signals run. */
const YIELD_EVERY_MS = 5;
const IDLE_WAIT_MS = 100;

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
  #clock: () => number;
  #wait: (ports: readonly FramePort[], timeoutMs: number) => Promise<void>;
  #log: (line: string) => void;
  #area: FrameArea;
  #mem: Uint8Array;
  #dv: DataView;
  #cur: RxCursor = { slot: 0, desc: 0 };
  #txIdx: Uint32Array[];
  #txCount: Int32Array;
  #rr = 0;
  /** Per port: keys of IPv4/IPv6 addresses we answer ARP/NS for. */
  #owned: Set<string>[];
  #svcIndex: number[] = [];
  #destIndex: number[][] = [];
  #nextExpire = 0;
  #announceLeft = ANNOUNCE_REPEAT + 1;
  #nextAnnounce = 0;
  #ready = false;
  #running = false;

  constructor(o: DirectorOptions) {
    this.engine = o.engine;
    this.ports = o.ports;
    this.#services = o.services;
    this.#gateways = o.gateways ?? [];
    this.#clock = o.clock ?? defaultClock;
    this.#wait = o.wait ?? ((_p, ms) => new Promise((r) => setTimeout(r, ms)));
    this.#log = o.log ?? ((l) => console.log(l));
    this.#area = frameArea(o.engine);
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
      const svc = e.addService(s.spec);
      const name = `${s.spec.protocol === 17 ? "udp" : "tcp"} ${
        this.#endpoint(s.spec.addr, s.spec.port)
      }`;
      if (svc < 0) throw new Error(`Cannot add service ${name}: engine returned ${svc}`);
      this.#svcIndex.push(svc);
      this.#destIndex.push(s.dests.map((d) => {
        const r = e.addDest(svc, d);
        if (r < 0) {
          throw new Error(`Cannot add dest ${formatIp(d.addr)} to ${name}: engine returned ${r}`);
        }
        const port = this.#portFor(d.addr);
        if (port >= 0) this.neigh.want(d.addr, ipKey(d.addr), port);
        return r;
      }));
      // A VIP is announced where its prefix is on-link, or on every port if none is.
      const on = this.ports.map((_, i) => i).filter((i) =>
        this.ports[i].addrs.some((a) => inPrefix(s.spec.addr, a))
      );
      for (const i of on.length ? on : this.ports.map((_, j) => j)) {
        this.#owned[i].add(ipKey(s.spec.addr));
      }
    }
    for (const g of this.#gateways) {
      const port = this.#portFor(g);
      if (port < 0) throw new Error(`Cannot use gateway ${formatIp(g)}: no port has it on-link`);
      this.neigh.want(g, ipKey(g), port, true);
    }
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
    return `wvs director up: engine ${this.engine.kind}, batch ${this.#area.batch}; ${
      ports.join("; ")
    }; ` +
      `vips: ${vips.join(", ") || "none"}; mode ${[...modes].join("+") || "none"}`;
  }

  /** True once every real server and gateway on a port has a MAC. */
  get ready(): boolean {
    return this.#ready;
  }

  /** One receive → process → send round over all ports; returns slots consumed (0 = idle). */
  pollOnce(): number {
    const cur = this.#cur;
    cur.slot = 0;
    cur.desc = 0;
    const n = this.ports.length;
    // Rotate the first port so that a busy port cannot starve the others.
    for (let k = 0; k < n && cur.slot < this.#area.batch; k++) {
      const p = (this.#rr + k) % n;
      this.ports[p].io.recvBatch(cur, this.#area.batch, p);
    }
    this.#rr = (this.#rr + 1) % n;
    if (cur.desc > 0) {
      const nTx = this.engine.processBatch(cur.desc, this.#clock());
      this.#sendTx(nTx);
      this.#slowPath(cur.desc);
    }
    return cur.slot;
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

  /** Slow path for one frame the engine passed (also used by tests). */
  handleFrame(f: Uint8Array, port: number): void {
    const tagged = f[12] === 0x81 && f[13] === 0x00;
    const t = tagged ? 16 : 12;
    const type = (f[t] << 8) | f[t + 1];
    if (type === ETH_P_ARP) this.#onArp(f, port);
    else if (type === ETH_P_IPV6 && f.length > t + 8 && f[t + 8] === IPPROTO_ICMPV6) {
      this.#onNd(f, port);
    }
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

  #learn(addr: Uint8Array, mac: Uint8Array, port: number, create: boolean): void {
    const wanted = this.neigh.get(ipKey(addr));
    const e = this.neigh.learn(addr, ipKey(addr), mac, port, create || wanted !== undefined);
    if (!e) return;
    const af = addr.length === 4 ? AF_INET : AF_INET6;
    const r = this.engine.setNeigh(af, addr, e.mac!, port);
    if (r < 0) {
      this.#log(`wvs director: cannot cache neighbour ${formatIp(addr)}: setNeigh returned ${r}`);
    }
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
      this.engine.expire(nowUs);
      this.#nextExpire = ms + EXPIRE_EVERY_MS;
    }
    for (const e of this.neigh.due(ms)) this.#solicit(e);
    if (this.#announceLeft > 0 && ms >= this.#nextAnnounce) {
      this.#announce();
      this.#announceLeft--;
      this.#nextAnnounce = ms + 1000;
    }
    this.#checkReady();
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
      if (got === 0) {
        await this.#wait(this.ports.map((p) => p.io), IDLE_WAIT_MS);
        lastYield = performance.now();
      } else if (performance.now() - lastYield > YIELD_EVERY_MS) {
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
  reasons: Record<string, number>;
  ports: Record<string, number | string>[];
  services: {
    vip: string;
    dests: { addr: string; conns: number; inPkts: number; outPkts: number }[];
  }[];
}
