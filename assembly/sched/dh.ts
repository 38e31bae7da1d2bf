// Destination hashing (ip_vs_dh.c): slot = hash_32(ntohl(daddr fold), 8) of the packet's
// destination address; the 256-slot table (slot i = the (i mod n)-th dest in list order,
// weights ignored) comes from the control plane (host/ctl/tables.ts). The dest there is
// used only if AVAILABLE, weight > 0 and not OVERLOAD: dh has no fallback.
import { IP_VS_DEST_F_AVAILABLE, NO_DEST } from "../abi";
import { DS_FLAGS, destAt } from "../dest";
import { SV_AF, svcAt } from "../service";
import { Pkt } from "../state";
import { addrFoldHost, hash32 } from "./hashing";
import { destEligible, schedWord } from "./scheduler";
import { SH_BITS, tableSlot } from "./table";

export function dhSchedule(svc: u32): u32 {
  const key = addrFoldHost(load<u8>(svcAt(svc), SV_AF), Pkt.daddr);
  const dest = load<u32>(tableSlot(load<u32>(schedWord(svc, 0)), hash32(key, SH_BITS)));
  if (dest == NO_DEST || !destEligible(dest)) return NO_DEST;
  if ((load<u32>(destAt(dest), DS_FLAGS) & IP_VS_DEST_F_AVAILABLE) == 0) return NO_DEST;
  return dest;
}
