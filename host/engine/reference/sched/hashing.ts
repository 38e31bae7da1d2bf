// The hash functions of IPVS's hashing schedulers, bit for bit (spec ipvs-data-plane.md
// §1.11-1.13, test vectors §1.16): hash_32 (include/linux/hash.h) and hsiphash as 64-bit
// kernels compute it, SipHash-1-3 over one 4-byte word, low 32 bits (lib/siphash.c).
// Mirrors assembly/sched/hashing.ts. The control plane (host/ctl/tables.ts) uses these
// too, so the tables it computes and the engines' lookups cannot disagree.
// The 64-bit SipHash state is kept as pairs of u32 halves in local variables (no BigInt,
// no allocation). Runtime-agnostic.

/** hash_32(x, bits): the top `bits` bits of x × 0x61C88647 (mod 2^32). */
export function hash32(x: number, bits: number): number {
  return Math.imul(x, 0x61c88647) >>> (32 - bits);
}

/** Byte swap of a u32 (ntohl of an address word loaded little-endian from wire bytes). */
export function bswap32(x: number): number {
  return ((x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/**
 * ntohl of an address given as 4 little-endian words of its wire bytes (IPv4: word 0 and
 * zeros): IPv6 folds its four words by XOR, which is then the IPv4 case too.
 */
export function addrFoldHost(w0: number, w1: number, w2: number, w3: number): number {
  return bswap32(w0 ^ w1 ^ w2 ^ w3);
}

// SipHash initialisation constants ("somepseudorandomlygeneratedbytes"), as 32-bit halves.
const C0H = 0x736f6d65, C0L = 0x70736575;
const C1H = 0x646f7261, C1L = 0x6e646f6d;
const C2H = 0x6c796765, C2L = 0x6e657261;
const C3H = 0x74656462, C3L = 0x79746573;

/** ip_vs_mh.c's fixed keys (both 64-bit key words are the same value, below 2^32). */
export const MH_KEY1 = 2654435761;
export const MH_KEY2 = 2654446892;

/**
 * hsiphash(&v, 4, {k, k}) on a 64-bit kernel for a key word k < 2^32: SipHash-1-3 of the
 * 4 little-endian bytes of `v`, low 32 bits.
 */
export function hsiphash32(v: number, k: number): number {
  // v0..v3 as (high, low) halves; k's high half is 0.
  let v0h = C0H, v0l = (C0L ^ k) >>> 0;
  let v1h = C1H, v1l = (C1L ^ k) >>> 0;
  let v2h = C2H, v2l = (C2L ^ k) >>> 0;
  let v3h = C3H, v3l = (C3L ^ k) >>> 0;
  // b = 4 << 56 | v
  const bh = 0x04000000, bl = v >>> 0;
  v3h = (v3h ^ bh) >>> 0;
  v3l = (v3l ^ bl) >>> 0;
  let t: number, th: number, tl: number;
  for (let round = 0; round < 4; round++) {
    if (round === 1) {
      v0h = (v0h ^ bh) >>> 0;
      v0l = (v0l ^ bl) >>> 0;
      v2l = (v2l ^ 0xff) >>> 0;
    }
    // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
    t = v0l + v1l;
    v0h = (v0h + v1h + (t > 0xffffffff ? 1 : 0)) >>> 0;
    v0l = t >>> 0;
    th = ((v1h << 13) | (v1l >>> 19)) >>> 0;
    tl = ((v1l << 13) | (v1h >>> 19)) >>> 0;
    v1h = (th ^ v0h) >>> 0;
    v1l = (tl ^ v0l) >>> 0;
    t = v0h;
    v0h = v0l;
    v0l = t;
    // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
    t = v2l + v3l;
    v2h = (v2h + v3h + (t > 0xffffffff ? 1 : 0)) >>> 0;
    v2l = t >>> 0;
    th = ((v3h << 16) | (v3l >>> 16)) >>> 0;
    tl = ((v3l << 16) | (v3h >>> 16)) >>> 0;
    v3h = (th ^ v2h) >>> 0;
    v3l = (tl ^ v2l) >>> 0;
    // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
    t = v0l + v3l;
    v0h = (v0h + v3h + (t > 0xffffffff ? 1 : 0)) >>> 0;
    v0l = t >>> 0;
    th = ((v3h << 21) | (v3l >>> 11)) >>> 0;
    tl = ((v3l << 21) | (v3h >>> 11)) >>> 0;
    v3h = (th ^ v0h) >>> 0;
    v3l = (tl ^ v0l) >>> 0;
    // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    t = v2l + v1l;
    v2h = (v2h + v1h + (t > 0xffffffff ? 1 : 0)) >>> 0;
    v2l = t >>> 0;
    th = ((v1h << 17) | (v1l >>> 15)) >>> 0;
    tl = ((v1l << 17) | (v1h >>> 15)) >>> 0;
    v1h = (th ^ v2h) >>> 0;
    v1l = (tl ^ v2l) >>> 0;
    t = v2h;
    v2h = v2l;
    v2l = t;
  }
  // (v0 ^ v1) ^ (v2 ^ v3), low half
  return (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
}
