// Locality-based least connection with replication (ip_vs_lblcr.c): each cached
// destination address keeps a set of dests (newest member first). The set's weighted
// least-connection member serves the packet unless it is "lblc-overloaded"; then wlc over
// the whole service picks one and it joins the set. A set of several members that has not
// changed for lblcr_expiration loses its most loaded member. Table block: word 0.
import { IP_VS_DEST_F_AVAILABLE, NO_DEST, SYS_LBLCR_EXPIRATION } from "../abi";
import { sysctl } from "../ctl";
import { DS_FLAGS, destAt, destOverloaded, destWeight } from "../dest";
import { SV_AF, svcAt } from "../service";
import { Eng, Pkt } from "../state";
import {
  E_DEST,
  E_LASTMOD,
  E_LASTUSE,
  E_SIZE,
  N_NEXT,
  NIL,
  entryAt,
  localityBucket,
  localityFind,
  localityNew,
  localityOverloaded,
  nodeAt,
  setErase,
  setInsert,
} from "./locality";
import { destOverhead, schedWord } from "./scheduler";
import { wlcSchedule } from "./wlc";

@inline function available(d: u32): bool {
  return (load<u32>(destAt(d), DS_FLAGS) & IP_VS_DEST_F_AVAILABLE) != 0;
}

/** ip_vs_dest_set_min: weighted least-connection member (AVAILABLE, not OVERLOAD). */
function setMin(e: u32): u32 {
  let n = load<u32>(entryAt(e), E_DEST);
  let least = NO_DEST;
  for (; n != NIL; n = load<u32>(nodeAt(n), N_NEXT)) {
    const d = load<u32>(nodeAt(n));
    if (destOverloaded(d)) continue;
    if (destWeight(d) > 0 && available(d)) {
      least = d;
      break;
    }
  }
  if (least == NO_DEST) return NO_DEST;
  let loh = destOverhead(least);
  for (n = load<u32>(nodeAt(n), N_NEXT); n != NIL; n = load<u32>(nodeAt(n), N_NEXT)) {
    const d = load<u32>(nodeAt(n));
    if (destOverloaded(d)) continue;
    const doh = destOverhead(d);
    if (loh * <i64>destWeight(d) > doh * <i64>destWeight(least) && available(d)) {
      least = d;
      loh = doh;
    }
  }
  return least;
}

/** ip_vs_dest_set_max: the most loaded member by overhead / weight (weight > 0). */
function setMax(e: u32): u32 {
  let n = load<u32>(entryAt(e), E_DEST);
  let most = NO_DEST;
  for (; n != NIL; n = load<u32>(nodeAt(n), N_NEXT)) {
    if (destWeight(load<u32>(nodeAt(n))) > 0) {
      most = load<u32>(nodeAt(n));
      break;
    }
  }
  if (most == NO_DEST) return NO_DEST;
  let moh = destOverhead(most);
  for (n = load<u32>(nodeAt(n), N_NEXT); n != NIL; n = load<u32>(nodeAt(n), N_NEXT)) {
    const d = load<u32>(nodeAt(n));
    const doh = destOverhead(d);
    // moh / mw < doh / dw, i.e. moh × dw < doh × mw (weights > 0).
    if (moh * <i64>destWeight(d) < doh * <i64>destWeight(most) && destWeight(d) > 0) {
      most = d;
      moh = doh;
    }
  }
  return most;
}

export function lblcrSchedule(svc: u32): u32 {
  const af: u32 = load<u8>(svcAt(svc), SV_AF);
  const t = load<u32>(schedWord(svc, 0));
  const b = localityBucket(af, Pkt.daddr);
  const e = localityFind(t, b, af, Pkt.daddr);
  if (e != NIL) {
    const p = entryAt(e);
    store<u32>(p, Eng.nowMs, E_LASTUSE);
    let dest = setMin(e);
    if (load<u32>(p, E_SIZE) > 1) {
      const exp = min<u32>(sysctl(SYS_LBLCR_EXPIRATION), 2147483) * 1000;
      // time_after(now, lastmod + expiration)
      if (<i32>(Eng.nowMs - (load<u32>(p, E_LASTMOD) + exp)) > 0) {
        const m = setMax(e);
        if (m != NO_DEST) setErase(e, m);
      }
    }
    if (dest != NO_DEST && !localityOverloaded(svc, dest)) return dest;
    dest = wlcSchedule(svc);
    if (dest == NO_DEST) return NO_DEST;
    setInsert(e, dest, true);
    return dest;
  }
  const dest = wlcSchedule(svc);
  if (dest == NO_DEST) return NO_DEST;
  const n = localityNew(t, b, af, Pkt.daddr);
  if (n != NIL) setInsert(n, dest, false);
  return dest;
}
