// Scheduling decisions without packets, for benchmarks and distribution tests: runs a
// service's scheduler `n` times on synthetic new-connection keys (client address and
// port from a 32-bit LCG seeded by `seed`; the destination address is the VIP with its
// last byte varied, for lblc/lblcr). No entry is created, so connection counts do not
// change; rr/wrr cursors, twos draws and lblc caches do advance. The reference engine's
// probe (host/engine/reference/sched/probe.ts) produces the same keys.
import { AF_INET, IPPROTO_TCP, NO_DEST } from "../abi";
import { SV_ADDR, SV_AF, SV_PORT, SV_PROTO, svcAt, svcIsLive } from "../service";
import { Mem, Pkt } from "../state";
import { schedule } from "./registry";

/** Returns the last dest chosen (NO_DEST if none or `svc` is not live). */
export function schedProbe(svc: u32, n: u32, seed: u32): u32 {
  if (!Mem.ready || !svcIsLive(svc)) return NO_DEST;
  const s = svcAt(svc);
  const af: u32 = load<u8>(s, SV_AF);
  const proto: u32 = load<u8>(s, SV_PROTO);
  const a = Mem.tplKey;
  memory.copy(a, s + SV_ADDR, 16);
  memory.copy(a + 16, s + SV_ADDR, 16);
  Pkt.af = af;
  Pkt.proto = proto != 0 ? proto : IPPROTO_TCP;
  Pkt.saddr = a;
  Pkt.daddr = a + 16;
  Pkt.dport = load<u16>(s, SV_PORT);
  const last = a + 16 + (af == AF_INET ? 3 : 15);
  let x = seed;
  let d = NO_DEST;
  for (let i: u32 = 0; i < n; i++) {
    x = x * 1664525 + 1013904223;
    store<u32>(a, x);
    store<u8>(last, <u8>(x >>> 24));
    Pkt.sport = (x >>> 16) & 0xffff;
    d = schedule(svc);
  }
  return d;
}
