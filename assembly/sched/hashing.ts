// The hash functions of IPVS's hashing schedulers, bit for bit (spec ipvs-data-plane.md
// §1.11-1.13, test vectors §1.16): the kernel's generic hash_32 (include/linux/hash.h) and
// hsiphash as 64-bit kernels compute it, i.e. SipHash-1-3 over one 4-byte word with the
// output truncated to 32 bits (lib/siphash.c). Keys and inputs are fixed, so these hash
// values are the same on every director: they decide which real server a client gets.
import { AF_INET } from "../abi";

/** hash_32(x, bits): the top `bits` bits of x × 0x61C88647 (mod 2^32). */
@inline export function hash32(x: u32, bits: u32): u32 {
  return (x * 0x61c88647) >>> (32 - bits);
}

/** ntohl of an address (16-byte field, IPv4 in the first 4): IPv6 folds its 4 words by XOR. */
@inline export function addrFoldHost(af: u32, p: usize): u32 {
  if (af == AF_INET) return bswap<u32>(load<u32>(p));
  return bswap<u32>(load<u32>(p) ^ load<u32>(p, 4) ^ load<u32>(p, 8) ^ load<u32>(p, 12));
}

// "somepseudorandomlygeneratedbytes", SipHash's initialisation constants.
const C0: u64 = 0x736f6d6570736575;
const C1: u64 = 0x646f72616e646f6d;
const C2: u64 = 0x6c7967656e657261;
const C3: u64 = 0x7465646279746573;

/**
 * hsiphash(&v, 4, {k0, k1}) on a 64-bit kernel: SipHash-1-3 of the 4 little-endian bytes
 * of `v` (one compression round, three finalisation rounds), low 32 bits of the result.
 */
export function hsiphash32(v: u32, k0: u64, k1: u64): u32 {
  let v0 = C0 ^ k0;
  let v1 = C1 ^ k1;
  let v2 = C2 ^ k0;
  let v3 = C3 ^ k1;
  // The last (only) block: length 4 in the top byte, the 4 bytes below.
  const b: u64 = (<u64>4 << 56) | <u64>v;
  v3 ^= b;
  // SIPROUND
  v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
  v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
  v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
  v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
  v0 ^= b;
  v2 ^= 0xff;
  for (let i = 0; i < 3; i++) {
    v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
    v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
  }
  return <u32>((v0 ^ v1) ^ (v2 ^ v3));
}

/** ip_vs_mh.c's fixed keys: hash1 places clients and offsets, hash2 gives skips. */
export const MH_KEY1: u64 = 2654435761;
export const MH_KEY2: u64 = 2654446892;
