// Frame corpora for the engine benchmarks: many flows from one template,
// patched per flow with checksums recomputed, so building 1e6 frames is cheap.
// Runtime-agnostic.
import { Frame } from "../tests/fixtures/packet_builder.ts";

function sumRange(b: Uint8Array, start: number, end: number, init: number): number {
  let s = init;
  for (let i = start; i + 1 < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if ((end - start) & 1) s += b[end - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Client address and port of flow `i`: 198.18.0.0/16 hosts × ports. */
export function flowClient(i: number): { addr: number; port: number } {
  return {
    addr: (198 << 24) | (18 << 16) | ((i >>> 8) & 0xff) << 8 | (1 + (i & 0xff) % 254),
    port: 1024 + ((i >>> 16) * 7919 + (i & 0xff)) % 64000,
  };
}

/**
 * IPv4/TCP frames of flows [0, n) towards `vip:vport`, from one template
 * with `flags` and `payload` bytes; client address and port vary per flow.
 */
export function tcpFlows(
  vip: string,
  vport: number,
  n: number,
  flags: string,
  payload = 0,
  ttl = 64,
): Uint8Array[] {
  const tpl = Frame.eth().ipv4({ src: "198.18.0.1", dst: vip, df: true, ttl }).tcp({
    sport: 1,
    dport: vport,
    flags,
  })
    .payload(new Uint8Array(payload)).build();
  const out: Uint8Array[] = [];
  const seen = new Set<number>();
  for (let i = 0; out.length < n; i++) {
    const c = flowClient(i);
    const key = c.addr * 65536 + c.port;
    if (seen.has(key)) continue;
    seen.add(key);
    const f = tpl.slice();
    const dv = new DataView(f.buffer);
    dv.setUint32(26, c.addr >>> 0);
    dv.setUint16(34, c.port);
    dv.setUint16(24, 0);
    dv.setUint16(24, ~sumRange(f, 14, 34, 0) & 0xffff);
    dv.setUint16(50, 0);
    const tcpLen = f.length - 34;
    dv.setUint16(50, ~sumRange(f, 34, f.length, sumRange(f, 26, 34, 6 + tcpLen)) & 0xffff);
    out.push(f);
  }
  return out;
}
