// Scheduling decisions without packets, for benchmarks and distribution tests. Mirrors
// assembly/sched/probe.ts key for key: client address word 0 and port from a 32-bit LCG
// seeded by `seed`, the destination address the VIP with its last byte varied. No entry
// is created. Runtime-agnostic.
import * as abi from "../../abi.gen.ts";
import type { DestTable } from "../dest.ts";
import type { ServiceTable } from "../service.ts";
import type { SchedContext } from "./context.ts";
import { SCHEDULERS } from "./registry.ts";

const { AF_INET, IPPROTO_TCP, NO_DEST } = abi;

/** Returns the last dest chosen (NO_DEST if none or `svc` is not live). */
export function schedProbe(
  svcs: ServiceTable,
  dests: DestTable,
  ctx: SchedContext,
  svc: number,
  n: number,
  seed: number,
): number {
  if (!svcs.isLive(svc)) return NO_DEST;
  const p = ctx.pkt;
  const a = svcs.addr;
  const o = svc * 4;
  const af = svcs.af[svc];
  p.af = af;
  p.proto = svcs.proto[svc] !== 0 ? svcs.proto[svc] : IPPROTO_TCP;
  p.s1 = a[o + 1];
  p.s2 = a[o + 2];
  p.s3 = a[o + 3];
  p.d0 = a[o];
  p.d1 = a[o + 1];
  p.d2 = a[o + 2];
  p.d3 = a[o + 3];
  p.dport = svcs.portW[svc];
  const ops = SCHEDULERS[svcs.sched[svc]];
  let x = seed >>> 0;
  let d = NO_DEST;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    p.s0 = x;
    // The last address byte is the top byte of the little-endian word that holds it.
    if (af === AF_INET) p.d0 = ((a[o] & 0x00ffffff) | ((x >>> 24) << 24)) >>> 0;
    else p.d3 = ((a[o + 3] & 0x00ffffff) | ((x >>> 24) << 24)) >>> 0;
    p.sport = (x >>> 16) & 0xffff;
    d = ops.schedule(svcs, dests, svc, ctx);
  }
  return d;
}
