// Maglev hashing (ip_vs_mh.c): slot = hsiphash(port + ntohl(saddr fold), key1) mod M, with
// the client's source port under mh-port (IP_VS_SVC_F_SCHED2), else 0. The M-slot table
// (M = 4093 by default, a prime; EngineConfig mhTableSize) is populated by the control
// plane from the dests' permutations and last weights (host/ctl/tables.ts). Usable: weight
// > 0 and not OVERLOAD. Without mh-fallback an empty or unusable slot means no dest; with
// it (IP_VS_SVC_F_SCHED1) the search rehashes with offsets slot0, slot0 + 1, ... (mod M)
// and ends, with no dest, at the first empty slot.
import {
  IP_VS_SVC_F_SCHED_MH_FALLBACK,
  IP_VS_SVC_F_SCHED_MH_PORT,
  NO_DEST,
} from "../abi";
import { SV_AF, SV_FLAGS, svcAt } from "../service";
import { Mem, Pkt } from "../state";
import { addrFoldHost, hsiphash32, MH_KEY1 } from "./hashing";
import { destEligible, schedWord } from "./scheduler";
import { tableSlot } from "./table";

export function mhSchedule(svc: u32): u32 {
  const s = svcAt(svc);
  const flags = load<u32>(s, SV_FLAGS);
  const port: u32 = (flags & IP_VS_SVC_F_SCHED_MH_PORT) != 0 ? <u32>bswap<u16>(<u16>Pkt.sport) : 0;
  const key = port + addrFoldHost(load<u8>(s, SV_AF), Pkt.saddr);
  const m = Mem.mhSize;
  const t = load<u32>(schedWord(svc, 0));
  const slot0 = hsiphash32(key, MH_KEY1, MH_KEY1) % m;
  const dest = load<u32>(tableSlot(t, slot0));
  if (dest == NO_DEST) return NO_DEST;
  if (destEligible(dest)) return dest;
  if ((flags & IP_VS_SVC_F_SCHED_MH_FALLBACK) == 0) return NO_DEST;
  for (let offset: u32 = 0; offset < m; offset++) {
    const roffset = (offset + slot0) % m;
    const d = load<u32>(tableSlot(t, hsiphash32(roffset + key, MH_KEY1, MH_KEY1) % m));
    if (d == NO_DEST) break;
    if (destEligible(d)) return d;
  }
  return NO_DEST;
}
