// Director ports (MAC, MTU, tunnel source addresses) and the next-hop table: exact
// (af, addr) entries plus one default route per family. Stands in for the kernel's
// routing and neighbour layers that ip_vs_xmit.c relies on; mirrors assembly/neigh.ts.
// Open addressing without deletion; lookups do not allocate. Runtime-agnostic.
import * as abi from "../abi.gen.ts";

// Hot-path bindings as module-local consts: see state.ts, "Why local consts".
const { AF_INET, AF_INET6, PORT_MAX, PORT_MTU_DEFAULT } = abi;

/** MACs are kept as a little-endian u32 (bytes 0-3) and u16 (bytes 4-5): two stores each. */
function macLo(mac: Uint8Array): number {
  return (mac[0] | (mac[1] << 8) | (mac[2] << 16) | (mac[3] << 24)) >>> 0;
}
function macHi(mac: Uint8Array): number {
  return mac[4] | (mac[5] << 8);
}

export class PortTable {
  readonly macLo = new Uint32Array(PORT_MAX);
  readonly macHi = new Uint16Array(PORT_MAX);
  readonly mtu = new Uint32Array(PORT_MAX).fill(PORT_MTU_DEFAULT);
  readonly has4 = new Uint8Array(PORT_MAX);
  readonly addr4 = new Uint32Array(PORT_MAX);
  readonly has6 = new Uint8Array(PORT_MAX);
  /** 4 little-endian words of wire bytes per port. */
  readonly addr6 = new Uint32Array(PORT_MAX * 4);

  set(
    port: number,
    mac: Uint8Array,
    mtu: number,
    addr4: Uint8Array | undefined,
    addr6: Uint8Array | undefined,
  ): void {
    this.macLo[port] = macLo(mac);
    this.macHi[port] = macHi(mac);
    this.mtu[port] = mtu;
    this.has4[port] = addr4 ? 1 : 0;
    this.addr4[port] = addr4
      ? new DataView(addr4.buffer, addr4.byteOffset, 4).getUint32(0, true)
      : 0;
    this.has6[port] = addr6 ? 1 : 0;
    for (let i = 0; i < 4; i++) {
      this.addr6[port * 4 + i] = addr6
        ? new DataView(addr6.buffer, addr6.byteOffset, 16).getUint32(i * 4, true)
        : 0;
    }
  }
}

function hashNeigh(af: number, a0: number, a1: number, a2: number, a3: number): number {
  let h = Math.imul(af ^ a0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15) ^ a1, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 13) ^ a2, 0xc2b2ae3d);
  h = Math.imul(h ^ (h >>> 16) ^ a3, 0x27d4eb2f);
  return h ^ (h >>> 15);
}

export class NeighTable {
  /** Exact entries; indices cap and cap + 1 are the IPv4 and IPv6 default routes. */
  readonly cap: number;
  readonly af: Uint8Array;
  readonly addr: Uint32Array;
  readonly macLo: Uint32Array;
  readonly macHi: Uint16Array;
  readonly port: Uint16Array;
  readonly #index: Int32Array;
  readonly #mask: number;
  #count = 0;
  /** Bumped by every set(): next hops cached elsewhere (per dest) are valid while it holds. */
  gen = 1;

  constructor(cap: number) {
    this.cap = cap;
    this.af = new Uint8Array(cap + 2);
    this.addr = new Uint32Array(cap * 4);
    this.macLo = new Uint32Array(cap + 2);
    this.macHi = new Uint16Array(cap + 2);
    this.port = new Uint16Array(cap + 2);
    let n = 16;
    while (n < cap * 2) n *= 2;
    this.#index = new Int32Array(n).fill(-1);
    this.#mask = n - 1;
  }

  /** Sets the next hop of (af, addr words) or, with `addr` null, the family's default. */
  set(af: number, addr: Uint32Array | null, mac: Uint8Array, port: number): boolean {
    let e;
    if (addr === null) {
      e = af === AF_INET ? this.cap : this.cap + 1;
    } else {
      e = this.#find(af, addr[0], addr[1], addr[2], addr[3]);
      if (e < 0) {
        if (this.#count === this.cap) return false;
        e = this.#count++;
        this.addr.set(addr, e * 4);
        let i = hashNeigh(af, addr[0], addr[1], addr[2], addr[3]) & this.#mask;
        while (this.#index[i] >= 0) i = (i + 1) & this.#mask;
        this.#index[i] = e;
      }
    }
    this.gen = (this.gen + 1) >>> 0 || 1; // 0 stays "never valid"
    this.af[e] = af;
    this.macLo[e] = macLo(mac);
    this.macHi[e] = macHi(mac);
    this.port[e] = port;
    return true;
  }

  /** The entry for (af, addr words), else the family's default route, else -1. */
  lookup(af: number, a0: number, a1: number, a2: number, a3: number): number {
    const e = this.#find(af, a0, a1, a2, a3);
    if (e >= 0) return e;
    const def = af === AF_INET6 ? this.cap + 1 : this.cap;
    return this.af[def] !== 0 ? def : -1;
  }

  #find(af: number, a0: number, a1: number, a2: number, a3: number): number {
    const a = this.addr;
    for (let i = hashNeigh(af, a0, a1, a2, a3) & this.#mask;; i = (i + 1) & this.#mask) {
      const e = this.#index[i];
      if (e < 0) return -1;
      const o = e * 4;
      if (
        a[o] === a0 && a[o + 1] === a1 && a[o + 2] === a2 && a[o + 3] === a3 && this.af[e] === af
      ) {
        return e;
      }
    }
  }
}
