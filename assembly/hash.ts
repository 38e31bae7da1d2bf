// Seeded 32-bit hashing of lookup keys (conn, service and neighbour tables).
// MurmurHash3's word mix and finaliser: cheap (two multiplies per word) and good
// enough for power-of-two tables. The seed comes from the config, so bucket
// numbers are not predictable from outside (IPVS uses a random jhash seed for
// the same reason, ip_vs_conn.c). Bucket numbers are never observable.
import { AF_INET } from "./abi";

/** Mixes one 32-bit word into the running hash `h`. */
@inline export function hashMix(h: u32, k: u32): u32 {
  k *= 0xcc9e2d51;
  k = rotl<u32>(k, 15);
  k *= 0x1b873593;
  h ^= k;
  h = rotl<u32>(h, 13);
  return h * 5 + 0xe6546b64;
}

/** Final avalanche, so that the low bits (the bucket) depend on every input bit. */
@inline export function hashFinish(h: u32): u32 {
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

/** One word for an address: IPv4 as is, IPv6 folded by XOR of its four words. */
@inline export function addrWord(af: u32, p: usize): u32 {
  if (af == AF_INET) return load<u32>(p);
  return load<u32>(p) ^ load<u32>(p, 4) ^ load<u32>(p, 8) ^ load<u32>(p, 12);
}
