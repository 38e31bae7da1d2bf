// Distribution: over 1e6 new connections (WVS_DIST_CONNS), each scheduler's shares match
// the weights within 1% (absolute). wrr and wlc through IPv4 SYNs from distinct clients;
// mh through IPv6 SYNs from random clients (its shares follow the table's slots, which
// follow the weights). Runs against both engines; the seed is printed.
import assert from "node:assert/strict";
import { FrameIo } from "../host/engine/frames.ts";
import { AF_INET6, SCHED_MH, SCHED_WLC, SCHED_WRR } from "../host/engine/abi.gen.ts";
import { ENGINES } from "./fixtures/lab.ts";
import { clientFrame, type RowDest, schedLab, T0 } from "./fixtures/sched_lab.ts";
import { rng } from "./fixtures/traffic.ts";

const CONNS = Number(Deno.env.get("WVS_DIST_CONNS") ?? 1_000_000);
const SEED = Number(Deno.env.get("WVS_DIST_SEED") ?? (Date.now() % 0x7fffffff));
const WEIGHTS: RowDest[] = [
  { name: "A", weight: 5 },
  { name: "B", weight: 3 },
  { name: "C", weight: 1 },
  { name: "D", weight: 1 },
];

/** IPv4 header checksum over the 20 bytes at `ip`. */
function ip4Checksum(u8: Uint8Array, ip: number): void {
  u8[ip + 10] = 0;
  u8[ip + 11] = 0;
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (u8[ip + i] << 8) | u8[ip + i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  s = ~s & 0xffff;
  u8[ip + 10] = s >> 8;
  u8[ip + 11] = s & 0xff;
}

async function shares(make: (typeof ENGINES)[number], sched: number, v6: boolean) {
  const lab = await schedLab(
    make,
    { sched, af: v6 ? AF_INET6 : 2 },
    WEIGHTS,
    { maxConns: CONNS + 1024, maxConns6: v6 ? CONNS + 1024 : 1024 },
  );
  const io = new FrameIo(lab.e);
  const u8 = new Uint8Array(lab.e.memory);
  const tmpl = clientFrame(
    v6 ? { caddr: "2001:2::1", cport: 1 } : { caddr: "198.18.0.1", cport: 1 },
  );
  const r = rng(SEED);
  const ip = 14, l4 = v6 ? 54 : 34;
  let now = T0;
  for (let sent = 0; sent < CONNS;) {
    const n = Math.min(io.batch, CONNS - sent);
    for (let i = 0; i < n; i++) {
      io.put(i, tmpl);
      const f = io.frameOffset(i);
      const k = sent + i;
      if (v6) {
        // A random client in 2001:2::/48 (bytes 6..15 of the address).
        for (let b = 6; b < 16; b += 2) {
          const x = Math.floor(r() * 65536);
          u8[f + ip + 8 + b] = x >> 8;
          u8[f + ip + 8 + b + 1] = x & 0xff;
        }
      } else {
        // Distinct (client, port) pairs in 198.18.0.0/15.
        u8[f + ip + 13] = 18 | ((k >> 16) & 1);
        u8[f + ip + 14] = (k >> 8) & 0xff;
        u8[f + ip + 15] = k & 0xff;
        ip4Checksum(u8, f + ip);
      }
      const port = 1024 + (k % 60000);
      u8[f + l4] = port >> 8;
      u8[f + l4 + 1] = port & 0xff;
    }
    lab.e.processBatch(n, now);
    now += 1000;
    sent += n;
  }
  const got = WEIGHTS.map((d) => lab.e.destStats(lab.dest[d.name]).conns);
  const total = got.reduce((a, b) => a + b, 0);
  return { got, total };
}

const SUM = WEIGHTS.reduce((a, d) => a + d.weight, 0);

for (const make of ENGINES) {
  for (
    const [name, sched, v6] of [["wrr", SCHED_WRR, false], ["wlc", SCHED_WLC, false], [
      "mh",
      SCHED_MH,
      true,
    ]] as const
  ) {
    Deno.test(`[${make.name}] ${name}: ${CONNS} new connections split 5:3:1:1 within 1% (seed ${SEED})`, async () => {
      const { got, total } = await shares(make, sched, v6);
      assert.equal(total, CONNS, "every connection was scheduled");
      const line = WEIGHTS.map((d, i) => `${d.name} ${(got[i] / total * 100).toFixed(3)}%`).join(
        " ",
      );
      console.log(`${make.name} ${name} (seed ${SEED}): ${line}`);
      WEIGHTS.forEach((d, i) => {
        const err = Math.abs(got[i] / total - d.weight / SUM);
        assert.ok(
          err < 0.01,
          `${d.name}: ${got[i]} of ${total}, off by ${(err * 100).toFixed(3)}%`,
        );
      });
    });
  }
}
