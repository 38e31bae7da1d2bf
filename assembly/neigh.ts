// Director ports and the neighbour table: where a forwarded frame leaves and
// which MAC it goes to. Ports [0, PORT_MAX) carry a MAC, an MTU and the tunnel
// source addresses. Neighbours map (af, addr) to (MAC, port) in an open-addressing
// table of 2 × NEIGH_MAX slots (linear probing, no deletion), plus one default
// route per family that a missing neighbour falls back to.
import {
  AF_INET,
  AF_INET6,
  CTL_ADDR,
  CTL_ADDR2,
  CTL_FLAGS,
  CTL_MAC,
  CTL_MTU,
  EINVAL,
  ENOMEM,
  NEIGH_MAX,
  PORT_F_ADDR4,
  PORT_F_ADDR6,
  PORT_MAX,
  PORT_MTU_DEFAULT,
} from "./abi";
import { addrWord, hashFinish, hashMix } from "./hash";
import { Eng, Mem } from "./state";
import { copy16, copyMac, equal16 } from "./wire/bytes";

// ---- Port record (PORT_SIZE bytes) ---------------------------------------------
//  0 mac (6)  6 has (PORT_F_*)  8 mtu  12 addr4  16 addr6 (16)
export const PORT_SIZE: u32 = 32;
export const PT_MAC: u32 = 0;
export const PT_HAS: u32 = 6;
export const PT_MTU: u32 = 8;
export const PT_ADDR4: u32 = 12;
export const PT_ADDR6: u32 = 16;

// ---- Neighbour record (NEIGH_SIZE bytes) ---------------------------------------
//  0 used  1 af  2 port  4 mac (6)  16 addr (16; IPv4 in the first 4 bytes)
export const NEIGH_SIZE: u32 = 32;
export const NB_USED: u32 = 0;
export const NB_AF: u32 = 1;
export const NB_PORT: u32 = 2;
export const NB_MAC: u32 = 4;
export const NB_ADDR: u32 = 16;

/** Table slots (power of two, load factor <= 1/2), then the two default routes. */
export const NEIGH_SLOTS: u32 = NEIGH_MAX * 2;
export const NEIGH_RECORDS: u32 = NEIGH_SLOTS + 2;

@inline export function portAt(port: u32): usize {
  return Mem.ports + <usize>port * PORT_SIZE;
}

@inline function neighAt(i: u32): usize {
  return Mem.neigh + <usize>i * NEIGH_SIZE;
}

@inline function defaultRoute(af: u32): usize {
  return neighAt(NEIGH_SLOTS + (af == AF_INET ? 0 : 1));
}

/** Resets ports (MTU PORT_MTU_DEFAULT, no addresses) and neighbours at init. */
export function neighReset(): void {
  memory.fill(Mem.ports, 0, <usize>PORT_MAX * PORT_SIZE);
  for (let i: u32 = 0; i < PORT_MAX; i++) store<u32>(portAt(i), PORT_MTU_DEFAULT, PT_MTU);
  memory.fill(Mem.neigh, 0, <usize>NEIGH_RECORDS * NEIGH_SIZE);
  memory.fill(Mem.nhCache, 0, <usize>Mem.maxDests * NH_CACHE_SIZE);
  Eng.neighCount = 0;
  Eng.neighGen = 1;
}

@inline function addrMatches(n: usize, af: u32, addr: usize): bool {
  if (af == AF_INET) return load<u32>(n, NB_ADDR) == load<u32>(addr);
  return equal16(n + NB_ADDR, addr);
}

/** The probe start for (af, addr). */
@inline function home(af: u32, addr: usize): u32 {
  return hashFinish(hashMix(hashMix(Eng.seed, af), addrWord(af, addr))) & (NEIGH_SLOTS - 1);
}

/** The table record for (af, addr), or the empty slot where it would go. */
function probe(af: u32, addr: usize): usize {
  let i = home(af, addr);
  while (true) {
    const n = neighAt(i);
    if (load<u8>(n, NB_USED) == 0) return n;
    if (load<u8>(n, NB_AF) == af && addrMatches(n, af, addr)) return n;
    i = (i + 1) & (NEIGH_SLOTS - 1);
  }
  return 0;
}

/**
 * Next hop for `addr` (IPv4: 4 bytes, IPv6: 16 bytes at the pointer): its own
 * record, else the family's default route, else 0.
 */
export function neighLookup(af: u32, addr: usize): usize {
  const n = probe(af, addr);
  if (load<u8>(n, NB_USED) != 0) return n;
  const r = defaultRoute(af);
  return load<u8>(r, NB_USED) != 0 ? r : 0;
}

// ---- Next hop of a dest ------------------------------------------------------

/**
 * A dest's next hop, cached per dest index (NH_CACHE_SIZE bytes at Mem.nhCache:
 * generation, record): every frame to a real server needs it, and the table
 * lookup (hash, probe) was ~10% of a cache-resident frame (bench "NAT
 * established, 1,000 conns"). An entry is valid while its generation equals
 * Eng.neighGen, which every setNeigh bumps (a new record can change which record
 * an address resolves to), and neighForgetDest clears it when a dest slot is
 * reused for another address. The reference engine keeps the same cache.
 */
export const NH_CACHE_SIZE: u32 = 8;

/** Next hop of dest `dest` (family `af`, address at `addr`), as neighLookup. */
@inline export function neighDest(dest: u32, af: u32, addr: usize): usize {
  const c = Mem.nhCache + (<usize>dest << 3);
  if (load<u32>(c) == Eng.neighGen) return load<u32>(c, 4);
  const nb = neighLookup(af, addr);
  store<u32>(c, Eng.neighGen);
  store<u32>(c, <u32>nb, 4);
  return nb;
}

/** Forgets dest `dest`'s next hop (its slot now holds another dest). */
export function neighForgetDest(dest: u32): void {
  store<u32>(Mem.nhCache + (<usize>dest << 3), 0);
}

// ---- Control operations -------------------------------------------------------

/** Sets port `port` from the mailbox (MAC, MTU, tunnel sources). 0 or -EINVAL. */
export function setPort(port: u32): i32 {
  if (!Mem.ready || port >= PORT_MAX) return -EINVAL;
  const c = Mem.ctl;
  const p = portAt(port);
  const has = load<u32>(c, CTL_FLAGS) & (PORT_F_ADDR4 | PORT_F_ADDR6);
  copyMac(p + PT_MAC, c + CTL_MAC);
  store<u8>(p, <u8>has, PT_HAS);
  store<u32>(p, load<u32>(c, CTL_MTU), PT_MTU);
  store<u32>(p, (has & PORT_F_ADDR4) != 0 ? load<u32>(c, CTL_ADDR) : 0, PT_ADDR4);
  if ((has & PORT_F_ADDR6) != 0) copy16(p + PT_ADDR6, c + CTL_ADDR2);
  else memory.fill(p + PT_ADDR6, 0, 16);
  return 0;
}

/**
 * Adds or replaces the neighbour (af, addr at CTL_ADDR) -> (MAC at CTL_MAC, port),
 * or the family's default route when `isDefault`. 0, -EINVAL or -ENOMEM (full).
 */
export function setNeigh(af: u32, isDefault: u32, port: u32): i32 {
  if (!Mem.ready || (af != AF_INET && af != AF_INET6) || port >= PORT_MAX) return -EINVAL;
  const c = Mem.ctl;
  let n: usize;
  if (isDefault != 0) {
    n = defaultRoute(af);
  } else {
    n = probe(af, c + CTL_ADDR);
    if (load<u8>(n, NB_USED) == 0) {
      if (Eng.neighCount >= NEIGH_MAX) return -ENOMEM;
      Eng.neighCount++;
      memory.fill(n + NB_ADDR, 0, 16);
      memory.copy(n + NB_ADDR, c + CTL_ADDR, af == AF_INET ? 4 : 16);
    }
  }
  store<u8>(n, 1, NB_USED);
  store<u8>(n, <u8>af, NB_AF);
  Eng.neighGen++; // cached next hops may resolve differently now
  store<u16>(n, <u16>port, NB_PORT);
  copyMac(n + NB_MAC, c + CTL_MAC);
  return 0;
}
