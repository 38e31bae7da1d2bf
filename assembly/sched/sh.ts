// Source hashing (ip_vs_sh.c): slot = hash_32(port + ntohl(saddr fold), 8), where port is
// the client's source port with sh-port (IP_VS_SVC_F_SCHED2) and 0 without. The 256-slot
// table is computed by the control plane (host/ctl/tables.ts) and written with
// setSchedSlots. A slot's dest is usable when weight > 0 and not OVERLOAD; without
// sh-fallback an unusable or empty slot means no dest. With it (IP_VS_SVC_F_SCHED1) the
// search walks slots (offset + h0) + hash (mod 256) and stops at the first empty one.
import {
  IP_VS_SVC_F_SCHED_SH_FALLBACK,
  IP_VS_SVC_F_SCHED_SH_PORT,
  NO_DEST,
} from "../abi";
import { SV_AF, SV_FLAGS, svcAt } from "../service";
import { Pkt } from "../state";
import { addrFoldHost, hash32 } from "./hashing";
import { destEligible, schedWord } from "./scheduler";
import { SH_BITS, SH_SIZE, tableSlot } from "./table";

export function shSchedule(svc: u32): u32 {
  const s = svcAt(svc);
  const flags = load<u32>(s, SV_FLAGS);
  const port: u32 = (flags & IP_VS_SVC_F_SCHED_SH_PORT) != 0 ? <u32>bswap<u16>(<u16>Pkt.sport) : 0;
  const key = port + addrFoldHost(load<u8>(s, SV_AF), Pkt.saddr);
  const t = load<u32>(schedWord(svc, 0));
  const hash = hash32(key, SH_BITS);
  const dest = load<u32>(tableSlot(t, hash));
  if (dest == NO_DEST) return NO_DEST;
  if (destEligible(dest)) return dest;
  if ((flags & IP_VS_SVC_F_SCHED_SH_FALLBACK) == 0) return NO_DEST;
  for (let offset: u32 = 0; offset < SH_SIZE; offset++) {
    const roffset = (offset + hash) & (SH_SIZE - 1);
    const d = load<u32>(tableSlot(t, (roffset + hash) & (SH_SIZE - 1)));
    if (d == NO_DEST) break;
    if (destEligible(d)) return d;
  }
  return NO_DEST;
}
