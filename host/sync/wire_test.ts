// Tests of the sync wire codec: the spec's worked bytes (ipvs-data-plane.md §7.8) both ways,
// a seeded round-trip fuzz over random connection sets, and malformed datagrams.
import assert from "node:assert/strict";
import {
  decodeMessage,
  encodeMessages,
  entryLen,
  SyncBuilder,
  type SyncConn,
  SyncHeaderView,
  type SyncMessage,
} from "./wire.ts";

export function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, "");
  return Uint8Array.from(t.match(/../g)!.map((x) => parseInt(x, 16)));
}

const ip4 = (...b: number[]) => Uint8Array.from(b);

/** §7.8 scenario: 198.51.100.10:50000 → 203.0.113.10:80, DR to 192.0.2.11:80, ESTABLISHED. */
const DR_CONN: SyncConn = {
  af: 2,
  protocol: 6,
  flags: 0x0083,
  state: 1,
  cport: 50000,
  vport: 80,
  dport: 80,
  fwmark: 0,
  timeout: 900,
  caddr: ip4(198, 51, 100, 10),
  vaddr: ip4(203, 0, 113, 10),
  daddr: ip4(192, 0, 2, 11),
};

const EX_A = hex(`00 01 00 2c 01 01 00 00  00 06 00 24  00 00 00 83
  00 01 c3 50 00 50 00 50  00 00 00 00 00 00 03 84  c6 33 64 0a cb 00 71 0a c0 00 02 0b`);
const EX_B = hex(`01 01 00 1c  00 06 c3 50 00 50 00 50  c6 33 64 0a cb 00 71 0a c0 00 02 0b
  00 83 00 01`);
/** §7.8 (c): the header and the first two of three entries (108 of 180 bytes). */
const EX_C_PREFIX = hex(`00 07 00 b4 03 01 00 00
  00 06 00 3e 00 01 06 00 00 01 c3 51 00 15 00 15 00 00 00 00 00 00 03 84
  c6 33 64 0a cb 00 71 0a c0 00 02 0c
  01 18 11 11 11 11 00 00 00 04 00 00 00 00 22 22 22 22 ff ff ff fc 00 00 00 00
  00 00
  00 06 00 24 00 00 11 00 00 01 00 00 00 50 00 50 00 00 00 00 00 00 01 2c
  c6 33 64 00 cb 00 71 0a c0 00 02 0c`);

const FTP_CONN: SyncConn = {
  af: 2,
  protocol: 6,
  flags: 0x00010600,
  state: 1,
  cport: 50001,
  vport: 21,
  dport: 21,
  fwmark: 0,
  timeout: 900,
  caddr: ip4(198, 51, 100, 10),
  vaddr: ip4(203, 0, 113, 10),
  daddr: ip4(192, 0, 2, 12),
  inSeq: { initSeq: 0x11111111, delta: 4, previousDelta: 0 },
  outSeq: { initSeq: 0x22222222, delta: 0xfffffffc, previousDelta: 0 },
};
const TEMPLATE: SyncConn = {
  af: 2,
  protocol: 6,
  flags: 0x1100,
  state: 1,
  cport: 0,
  vport: 80,
  dport: 80,
  fwmark: 0,
  timeout: 300,
  caddr: ip4(198, 51, 100, 0),
  vaddr: ip4(203, 0, 113, 10),
  daddr: ip4(192, 0, 2, 12),
};
const V6_UDP: SyncConn = {
  af: 10,
  protocol: 17,
  flags: 0x0183,
  state: 0,
  cport: 40000,
  vport: 53,
  dport: 53,
  fwmark: 0,
  timeout: 300,
  caddr: hex("20010db8000000000000000000000001"),
  vaddr: hex("20010db80000000000000000000000aa"),
  daddr: hex("20010db8000000000000000000000b01"),
};

function decoded(buf: Uint8Array): SyncMessage {
  const r = decodeMessage(buf);
  if (!r.ok) throw new Error(`decode failed: ${r.error} at ${r.offset}`);
  return r.message;
}

Deno.test("SyncBuilder emits the spec's worked examples byte for byte", async (t) => {
  await t.step("(a) version 1, 44 bytes", () => {
    const m = encodeMessages([DR_CONN], { version: 1, syncid: 1, maxlen: 1472 });
    assert.deepStrictEqual(m, [EX_A]);
  });
  await t.step("(b) version 0, 28 bytes", () => {
    const m = encodeMessages([DR_CONN], { version: 0, syncid: 1, maxlen: 1472 });
    assert.deepStrictEqual(m, [EX_B]);
  });
  await t.step("(c) version 1 with options, padding and an IPv6 entry", () => {
    const m = encodeMessages([FTP_CONN, TEMPLATE, V6_UDP], { version: 1, syncid: 7, maxlen: 1472 });
    assert.deepStrictEqual(m.length, 1);
    assert.deepStrictEqual(m[0].length, 180);
    assert.deepStrictEqual(m[0].subarray(0, 108), EX_C_PREFIX);
    assert.deepStrictEqual(m[0].subarray(108, 112), hex("01 11 00 48"));
  });
});

Deno.test("decodeMessage() reads the spec's worked examples", async (t) => {
  await t.step("(a) version 1", () => {
    const m = decoded(EX_A);
    assert.deepStrictEqual(m.version, 1);
    assert.deepStrictEqual(m.syncid, 1);
    assert.deepStrictEqual(m.conns, [DR_CONN]);
  });
  await t.step("(b) version 0 gives no timeout and no fwmark", () => {
    const m = decoded(EX_B);
    assert.deepStrictEqual(m.version, 0);
    assert.deepStrictEqual(m.conns, [{ ...DR_CONN, timeout: 0 }]);
  });
  await t.step("(c) options, padding, template and IPv6 entry", () => {
    const buf =
      encodeMessages([FTP_CONN, TEMPLATE, V6_UDP], { version: 1, syncid: 7, maxlen: 1472 })[0];
    const m = decoded(buf);
    assert.deepStrictEqual(m.conns, [FTP_CONN, TEMPLATE, V6_UDP]);
    assert.deepStrictEqual(m.skipped, []);
  });
});

Deno.test("SyncHeaderView deconstructs both headers in place", () => {
  const a = new SyncHeaderView(EX_A);
  assert(a.checkLen() && a.isV1());
  assert.deepStrictEqual([a.syncid(), a.size(), a.count(), a.headerLen()], [1, 44, 1, 8]);
  const b = new SyncHeaderView(EX_B);
  assert(b.checkLen() && !b.isV1());
  assert.deepStrictEqual([b.syncid(), b.size(), b.count(), b.headerLen()], [1, 28, 1, 4]);
  assert(!new SyncHeaderView(new Uint8Array(3)).checkLen());
});

Deno.test("v0 sequence words are the sender's host order (little-endian), v1's big-endian", () => {
  const v0 = encodeMessages([FTP_CONN], { version: 0, syncid: 1, maxlen: 1472 })[0];
  assert.deepStrictEqual(v0.length, 4 + 48);
  assert.deepStrictEqual(v0.subarray(4 + 24, 4 + 32), hex("11 11 11 11 04 00 00 00"));
  assert.deepStrictEqual(decoded(v0).conns[0].inSeq, FTP_CONN.inSeq);
  const big = decodeMessage(v0, { v0SeqLittleEndian: false });
  assert(big.ok && big.message.conns[0].inSeq!.delta === 0x04000000);
  // v0 keeps only the low 16 flag bits (NFCT is lost).
  assert.deepStrictEqual(decoded(v0).conns[0].flags, 0x0600);
});

Deno.test("SyncBuilder honours sync_maxlen, the 255-entry count and oversized entries", () => {
  const conns = Array.from({ length: 100 }, (_, i) => ({ ...DR_CONN, cport: 1000 + i }));
  const m = encodeMessages(conns, { version: 1, syncid: 3, maxlen: 1472 });
  // (1472 - 8) / 36 = 40 entries per message.
  assert.deepStrictEqual(m.map((x) => decoded(x).conns.length), [40, 40, 20]);
  assert(m.every((x) => x.length <= 1472));
  assert.deepStrictEqual(m.flatMap((x) => decoded(x).conns), conns);
  // maxlen 1 (the master's minimum): one entry per message, as IPVS does.
  const one = encodeMessages(conns.slice(0, 3), { version: 1, syncid: 3, maxlen: 1 });
  assert.deepStrictEqual(one.map((x) => x.length), [44, 44, 44]);
  // A huge maxlen still stops at 255 entries (the count is one byte).
  const many = Array.from({ length: 300 }, (_, i) => ({ ...DR_CONN, cport: i }));
  assert.deepStrictEqual(
    encodeMessages(many, { version: 0, syncid: 1, maxlen: 65507 }).map((x) => x[0]),
    [255, 45],
  );
  // v0 cannot carry IPv6: such entries are not sent.
  assert.deepStrictEqual(entryLen(V6_UDP, 0), 0);
  assert.deepStrictEqual(encodeMessages([V6_UDP], { version: 0, syncid: 1, maxlen: 1472 }), []);
  // The builder reports the age of its open message.
  const b = new SyncBuilder({ version: 1, syncid: 1, maxlen: 100 });
  assert.deepStrictEqual(b.add(DR_CONN, 5), []);
  assert.deepStrictEqual(b.firstUse, 5);
  assert.deepStrictEqual(b.add(DR_CONN, 6), []);
  assert.deepStrictEqual(b.add(DR_CONN, 7).length, 1); // 8 + 36 + 36 + 36 > 100
  assert.deepStrictEqual(b.firstUse, 7);
});

// ---- Seeded fuzz -----------------------------------------------------------------------------

/** mulberry32: small, seedable, good enough for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomConn(r: () => number): SyncConn {
  const u32 = () => Math.floor(r() * 2 ** 32) >>> 0;
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
  const af = r() < 0.3 ? 10 : 2;
  const alen = af === 10 ? 16 : 4;
  let flags = (u32() & ~0x40) >>> 0;
  if (r() < 0.5) flags = (flags & ~0x0600) >>> 0;
  const c: SyncConn = {
    af,
    protocol: [6, 17, 132, 50, 0][Math.floor(r() * 5)],
    flags,
    state: Math.floor(r() * 65536),
    cport: Math.floor(r() * 65536),
    vport: Math.floor(r() * 65536),
    dport: Math.floor(r() * 65536),
    fwmark: u32(),
    timeout: u32(),
    caddr: bytes(alen),
    vaddr: bytes(alen),
    daddr: bytes(alen),
  };
  if (flags & 0x0600) {
    c.inSeq = { initSeq: u32(), delta: u32(), previousDelta: u32() };
    c.outSeq = { initSeq: u32(), delta: u32(), previousDelta: u32() };
  }
  if (r() < 0.2) {
    c.peData = bytes(1 + Math.floor(r() * 255));
    c.peName = "sip".padEnd(1 + Math.floor(r() * 16), "x");
  }
  return c;
}

/** What a receiver of `version` gets back for `c`. */
function expected(c: SyncConn, version: 0 | 1): SyncConn | null {
  if (version === 1) return c;
  if (c.af !== 2) return null;
  const flags = c.flags & 0xffbf & 0xffff;
  const e: SyncConn = { ...c, flags, fwmark: 0, timeout: 0 };
  delete e.peData;
  delete e.peName;
  delete e.inSeq;
  delete e.outSeq;
  if (flags & 0x0600) {
    const z = { initSeq: 0, delta: 0, previousDelta: 0 };
    e.inSeq = c.inSeq ?? z;
    e.outSeq = c.outSeq ?? z;
  }
  return e;
}

Deno.test("encode/decode round-trips random connection sets (seeded)", () => {
  const seed = Number(Deno.env.get("WVS_SYNC_SEED") ?? Date.now() % 1e9);
  console.log(`sync wire fuzz seed ${seed} (WVS_SYNC_SEED=${seed} to repeat)`);
  const r = rng(seed);
  for (let round = 0; round < 300; round++) {
    const version = r() < 0.5 ? 0 : 1;
    const maxlen = r() < 0.2 ? 1 + Math.floor(r() * 80) : 100 + Math.floor(r() * 3000);
    const syncid = Math.floor(r() * 256);
    const conns = Array.from({ length: Math.floor(r() * 120) }, () => {
      const c = randomConn(r);
      return c;
    });
    const msgs = encodeMessages(conns, { version, syncid, maxlen });
    const got: SyncConn[] = [];
    for (const m of msgs) {
      const d = decoded(m);
      assert.deepStrictEqual(d.version, version);
      assert.deepStrictEqual(d.syncid, syncid);
      assert(d.conns.length >= 1 && d.conns.length <= 255);
      // Over maxlen only when the message holds one oversized entry.
      assert(m.length <= maxlen || d.conns.length === 1, `seed ${seed} round ${round}`);
      got.push(...d.conns);
    }
    const want = conns.map((c) => expected(c, version)).filter((c) => c !== null);
    assert.deepStrictEqual(got, want, `seed ${seed} round ${round}`);
  }
});

// ---- Malformed datagrams -----------------------------------------------------------------------

function withSize(b: Uint8Array): Uint8Array {
  const c = b.slice();
  new SyncHeaderView(c).setSize(c.length);
  return c;
}

function rejects(b: Uint8Array, re: RegExp): void {
  const r = decodeMessage(b);
  assert(!r.ok, `accepted ${[...b].map((x) => x.toString(16)).join(" ")}`);
  assert(re.test(r.error), r.error);
}

Deno.test("decodeMessage() rejects malformed and truncated datagrams whole", async (t) => {
  const full =
    encodeMessages([FTP_CONN, TEMPLATE, V6_UDP], { version: 1, syncid: 7, maxlen: 1472 })[0];
  await t.step("every truncation, with and without a fixed-up size", () => {
    for (const m of [full, EX_A, EX_B]) {
      for (let n = 0; n < m.length; n++) {
        const cut = m.slice(0, n);
        assert(!decodeMessage(cut).ok, `prefix ${n}`);
        if (n >= 4) {
          const r = decodeMessage(withSize(cut));
          // A shorter datagram decodes only if its count covers fewer entries (never here).
          assert(!r.ok || r.message.conns.length === 0, `fixed prefix ${n}`);
        }
      }
    }
  });
  await t.step("size field disagreeing with the datagram", () => {
    rejects(Uint8Array.of(0, 1), /header too short/);
    const b = EX_A.slice();
    b[3] = 45;
    rejects(b, /bogus message size/);
    rejects(Uint8Array.of(...EX_A, 0), /bogus message size/);
  });
  await t.step("unknown entry type and entry version", () => {
    const b = EX_A.slice();
    b[8] = 2; // the type Wireshark calls IPv6: bit 0 clear, non-zero
    rejects(b, /unknown entry type 2/);
    const v = EX_A.slice();
    v[10] = 0x10; // ver_size version nibble 1
    rejects(v, /unknown entry version/);
  });
  await t.step("entry sizes that lie", () => {
    const big = EX_A.slice();
    big[11] = 40; // past the message end
    rejects(big, /past the message end/);
    const six = EX_A.slice();
    six[8] = 1; // IPv6 type with a 36-byte size
    rejects(six, /shorter than its fixed part/);
  });
  const withOpt = (opt: number[]) => {
    const b = new Uint8Array(44 + opt.length);
    b.set(EX_A);
    b.set(opt, 44);
    b[11] = 36 + opt.length;
    return withSize(b);
  };
  await t.step("bad options are fatal", () => {
    rejects(withOpt([1, 0]), /length 0/);
    rejects(withOpt([1, 30, 0]), /past the entry end/);
    rejects(withOpt([1, 2, 0, 0]), /sequence option length 2/);
    rejects(withOpt([3, 1, 0x61, 3, 1, 0x61]), /found twice/);
    rejects(withOpt([0x43, 1, 0x61, 3, 1, 0x61]), /found twice/);
    rejects(withOpt([3, 17, ...new Array(17).fill(0x61)]), /engine name length 17/);
    rejects(withOpt([7]), /option header/);
  });
  await t.step("entries that are skipped while the message counts", () => {
    const r1 = decodeMessage(withOpt([9, 1, 0]));
    assert(r1.ok && r1.message.conns.length === 0);
    assert.deepStrictEqual(r1.message.skipped, [{
      index: 0,
      reason: "unknown mandatory option 9",
    }]);
    const r2 = decodeMessage(withOpt([0x49, 1, 0]));
    assert(r2.ok && r2.message.conns.length === 1); // optional: ignored
    const r3 = decodeMessage(withOpt([2, 1, 7]));
    assert(r3.ok && r3.message.skipped[0].reason.includes("without an engine name"));
  });
  await t.step("a v1 header with non-zero spare is read as v0 (count 0)", () => {
    const b = EX_A.slice();
    b[7] = 1;
    const r = decodeMessage(b);
    assert(r.ok && r.message.version === 0 && r.message.conns.length === 0);
  });
  await t.step("v0 entry truncated in its sequence block", () => {
    const v0 = encodeMessages([FTP_CONN], { version: 0, syncid: 1, maxlen: 1472 })[0];
    rejects(withSize(v0.slice(0, 40)), /options truncated/);
  });
  await t.step("random corruption never throws (seeded)", () => {
    const seed = Number(Deno.env.get("WVS_SYNC_SEED") ?? 12345);
    const r = rng(seed);
    for (let i = 0; i < 20000; i++) {
      const b = (r() < 0.5 ? full : EX_B).slice();
      const flips = 1 + Math.floor(r() * 4);
      for (let k = 0; k < flips; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      decodeMessage(r() < 0.5 ? withSize(b) : b);
    }
  });
});

Deno.test("emitEntry() refuses entries it cannot encode", () => {
  assert.throws(() =>
    encodeMessages([{ ...DR_CONN, caddr: new Uint8Array(16) }], {
      version: 1,
      syncid: 0,
      maxlen: 1472,
    }), RangeError);
  assert.throws(() =>
    encodeMessages([{ ...DR_CONN, peData: new Uint8Array(256), peName: "sip" }], {
      version: 1,
      syncid: 0,
      maxlen: 1472,
    }), RangeError);
});
