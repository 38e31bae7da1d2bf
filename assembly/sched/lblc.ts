// Locality-based least connection (ip_vs_lblc.c): the packet's destination address is
// remembered with the dest it went to (sched/locality.ts). A cached dest is reused while
// it is AVAILABLE, has weight > 0 and is not "lblc-overloaded" (its OVERLOAD flag is not
// checked); otherwise wlc picks a dest and the entry is replaced. Table block: scheduler
// word 0.
import { IP_VS_DEST_F_AVAILABLE, NO_DEST } from "../abi";
import { DS_FLAGS, destAt, destHold, destWeight } from "../dest";
import { SV_AF, svcAt } from "../service";
import { Eng, Pkt } from "../state";
import {
  E_DEST,
  E_LASTUSE,
  E_NEXT,
  NIL,
  entryAt,
  entryDelete,
  localityBucket,
  localityFind,
  localityNew,
  localityOverloaded,
} from "./locality";
import { schedWord } from "./scheduler";
import { tableSlot } from "./table";
import { wlcSchedule } from "./wlc";

export function lblcSchedule(svc: u32): u32 {
  const af: u32 = load<u8>(svcAt(svc), SV_AF);
  const t = load<u32>(schedWord(svc, 0));
  const b = localityBucket(af, Pkt.daddr);
  const e = localityFind(t, b, af, Pkt.daddr);
  if (e != NIL) {
    const p = entryAt(e);
    store<u32>(p, Eng.nowMs, E_LASTUSE);
    const dest = load<u32>(p, E_DEST);
    if (
      (load<u32>(destAt(dest), DS_FLAGS) & IP_VS_DEST_F_AVAILABLE) != 0 &&
      destWeight(dest) > 0 && !localityOverloaded(svc, dest)
    ) return dest;
  }
  const dest = wlcSchedule(svc);
  if (dest == NO_DEST) return NO_DEST;
  // ip_vs_lblc_new: keep an entry that already names `dest`, else replace it.
  if (e != NIL) {
    if (load<u32>(entryAt(e), E_DEST) == dest) return dest;
    let link = tableSlot(t, b);
    while (load<u32>(link) != e) link = entryAt(load<u32>(link)) + E_NEXT;
    entryDelete(t, link, e, false);
  }
  const n = localityNew(t, b, af, Pkt.daddr);
  if (n != NIL) {
    destHold(dest);
    store<u32>(entryAt(n), dest, E_DEST);
  }
  return dest;
}
