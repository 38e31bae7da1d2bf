// Round robin (ip_vs_rr.c). State: the cursor, the last chosen dest, initially
// the list head H (NO_DEST). The walk continues after the cursor, wraps over H
// once, and takes the first eligible dest; weights other than 0 are ignored.
import { NO_DEST } from "../abi";
import { DS_PREV, destAt, destNext } from "../dest";
import { destEligible, schedWord } from "./scheduler";

const CURSOR: u32 = 0;

export function rrInitService(svc: u32): void {
  store<u32>(schedWord(svc, CURSOR), NO_DEST);
}

/** Deleting the cursor's dest moves the cursor to its predecessor (H if first). */
export function rrDelDest(svc: u32, dest: u32): void {
  const p = schedWord(svc, CURSOR);
  if (load<u32>(p) == dest) store<u32>(p, load<u32>(destAt(dest), DS_PREV));
}

export function rrSchedule(svc: u32): u32 {
  const cursor = schedWord(svc, CURSOR);
  const last = load<u32>(cursor);
  let d = last;
  let pass: u32 = 0;
  do {
    // Continue from d up to the head; d is H again afterwards, so the next
    // round starts at the first dest (the wrap).
    for (d = destNext(svc, d); d != NO_DEST; d = destNext(svc, d)) {
      if (destEligible(d)) {
        store<u32>(cursor, d);
        return d;
      }
      if (d == last) return NO_DEST;
    }
    pass++;
  } while (pass < 2 && last != NO_DEST);
  return NO_DEST;
}
