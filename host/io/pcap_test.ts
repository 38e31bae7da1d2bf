// Tests of the classic pcap reader and writer (pcap.ts): the four magic variants,
// round trips, and every kind of truncation giving a "Cannot read pcap" error.
import assert from "node:assert/strict";
import {
  GLOBAL_HEADER_LEN,
  LINKTYPE_ETHERNET,
  MAX_RECORD_LEN,
  PcapWriter,
  readPcap,
  readPcapHeader,
  RECORD_HEADER_LEN,
} from "./pcap.ts";

/** Hand-builds a capture with the given magic and byte order (independent of PcapWriter). */
function handmade(
  magic: number,
  littleEndian: boolean,
  records: { sec: number; frac: number; data: number[]; orig?: number }[],
): Uint8Array {
  const size = GLOBAL_HEADER_LEN +
    records.reduce((a, r) => a + RECORD_HEADER_LEN + r.data.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, magic, littleEndian);
  dv.setUint16(4, 2, littleEndian);
  dv.setUint16(6, 4, littleEndian);
  dv.setUint32(16, 65535, littleEndian);
  dv.setUint32(20, LINKTYPE_ETHERNET, littleEndian);
  let off = GLOBAL_HEADER_LEN;
  for (const r of records) {
    dv.setUint32(off, r.sec, littleEndian);
    dv.setUint32(off + 4, r.frac, littleEndian);
    dv.setUint32(off + 8, r.data.length, littleEndian);
    dv.setUint32(off + 12, r.orig ?? r.data.length, littleEndian);
    out.set(r.data, off + RECORD_HEADER_LEN);
    off += RECORD_HEADER_LEN + r.data.length;
  }
  return out;
}

const RECS = [
  { sec: 1_700_000_000, frac: 123456, data: [1, 2, 3, 4] },
  { sec: 1_700_000_001, frac: 0, data: [9, 8, 7], orig: 1514 },
];

Deno.test("readPcap() reads microsecond captures in both byte orders", () => {
  for (const le of [true, false]) {
    const { header, records } = readPcap(handmade(0xa1b2c3d4, le, RECS));
    assert.equal(header.littleEndian, le);
    assert.equal(header.nanos, false);
    assert.equal(header.linkType, LINKTYPE_ETHERNET);
    assert.equal(header.snapLen, 65535);
    assert.deepEqual([header.versionMajor, header.versionMinor], [2, 4]);
    assert.equal(records.length, 2);
    assert.equal(records[0].tsMicros, 1_700_000_000_123_456);
    assert.deepEqual([...records[0].data], [1, 2, 3, 4]);
    assert.equal(records[1].origLen, 1514);
    assert.deepEqual([...records[1].data], [9, 8, 7]);
  }
});

Deno.test("readPcap() floors nanosecond timestamps to microseconds in both byte orders", () => {
  for (const le of [true, false]) {
    const file = handmade(0xa1b23c4d, le, [{ sec: 10, frac: 999_999_999, data: [0] }]);
    const { header, records } = readPcap(file);
    assert.equal(header.nanos, true);
    assert.equal(records[0].tsMicros, 10_999_999);
  }
});

Deno.test("readPcap() returns views into the input, not copies", () => {
  const file = handmade(0xa1b2c3d4, true, RECS);
  const { records } = readPcap(file);
  assert.equal(records[0].data.buffer, file.buffer);
  assert.equal(records[0].data.byteOffset, GLOBAL_HEADER_LEN + RECORD_HEADER_LEN);
});

Deno.test("readPcap() accepts a capture with a header and no records", () => {
  const { records } = readPcap(handmade(0xa1b2c3d4, true, []));
  assert.equal(records.length, 0);
});

Deno.test("readPcap() rejects malformed files with a message naming the problem", async (t) => {
  const good = handmade(0xa1b2c3d4, true, RECS);
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty file", new Uint8Array(0), /file is 0 bytes, shorter than the 24-byte global header/],
    ["short global header", good.subarray(0, 23), /file is 23 bytes/],
    ["unknown magic", handmade(0x12345678, true, []), /unknown magic 0x78563412/],
    ["pcapng", Uint8Array.of(0x0a, 0x0d, 0x0d, 0x0a, ...new Array(28).fill(0)), /pcapng/],
    [
      "truncated record header",
      good.subarray(0, GLOBAL_HEADER_LEN + 10),
      /record 1 at offset 24 is truncated: 10 bytes left/,
    ],
    [
      "truncated record data",
      good.subarray(0, good.length - 1),
      /record 2 at offset 44 is truncated: its header says 3 bytes, 2 remain/,
    ],
    [
      "microseconds out of range",
      handmade(0xa1b2c3d4, false, [{ sec: 0, frac: 1_000_000, data: [] }]),
      /microsecond field of 1000000/,
    ],
  ];
  for (const [name, bytes, re] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => readPcap(bytes),
        (e: Error) => e.message.startsWith("Cannot read pcap: ") && re.test(e.message),
      );
    });
  }
  await t.step("absurd captured length", () => {
    const f = handmade(0xa1b2c3d4, true, [{ sec: 0, frac: 0, data: [1] }]);
    new DataView(f.buffer).setUint32(GLOBAL_HEADER_LEN + 8, MAX_RECORD_LEN + 1, true);
    assert.throws(() => readPcap(f), /claims 262145 bytes/);
  });
});

Deno.test("readPcapHeader() keeps only the low 16 bits of the link-type word", () => {
  const f = handmade(0xa1b2c3d4, true, []);
  new DataView(f.buffer).setUint32(20, 0x10000000 | LINKTYPE_ETHERNET, true);
  assert.equal(readPcapHeader(f).linkType, LINKTYPE_ETHERNET);
});

Deno.test("PcapWriter writes a little-endian microsecond header that matches the format", () => {
  const bytes = new PcapWriter().bytes();
  assert.deepEqual(
    [...bytes],
    [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0],
  );
});

Deno.test("PcapWriter output reads back with the same timestamps, bytes and lengths", () => {
  const w = new PcapWriter({ initialSize: 32 }); // forces several buffer growths
  const frames: Uint8Array[] = [];
  for (let i = 0; i < 100; i++) {
    const f = new Uint8Array(60 + i);
    f.fill(i);
    frames.push(f);
    w.write(1_700_000_000_000_000 + i * 250_001, f);
  }
  assert.equal(w.count, 100);
  const { header, records } = readPcap(w.bytes());
  assert.equal(header.littleEndian, true);
  assert.equal(header.nanos, false);
  assert.equal(records.length, 100);
  records.forEach((r, i) => {
    assert.equal(r.tsMicros, 1_700_000_000_000_000 + i * 250_001);
    assert.deepEqual(r.data, frames[i]);
    assert.equal(r.origLen, frames[i].length);
  });
});

Deno.test("PcapWriter cuts frames to the snapshot length and keeps the wire length", () => {
  const w = new PcapWriter({ snapLen: 64 });
  w.write(5, new Uint8Array(100));
  const { records } = readPcap(w.bytes());
  assert.equal(records[0].data.length, 64);
  assert.equal(records[0].origLen, 100);
});

Deno.test("PcapWriter.bytes() is a snapshot that later writes do not change", () => {
  const w = new PcapWriter();
  w.write(1, Uint8Array.of(1));
  const first = w.bytes();
  w.write(2, Uint8Array.of(2));
  assert.equal(first.length, GLOBAL_HEADER_LEN + RECORD_HEADER_LEN + 1);
  assert.equal(readPcap(w.bytes()).records.length, 2);
});

Deno.test("PcapWriter.write() rejects negative, fractional and post-2106 timestamps", () => {
  const w = new PcapWriter();
  assert.throws(() => w.write(-1, new Uint8Array(1)), RangeError);
  assert.throws(() => w.write(1.5, new Uint8Array(1)), RangeError);
  assert.throws(() => w.write(2 ** 32 * 1e6, new Uint8Array(1)), /past 2106/);
  assert.equal(w.count, 0);
});
