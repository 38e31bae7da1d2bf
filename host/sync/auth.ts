// Optional authentication of sync datagrams (beyond IPVS; off by default): a trailer with an
// HMAC-SHA-256 over the message, so a forged or replayed datagram on the segment cannot inject
// or refresh connections. Runtime-agnostic (WebCrypto).
// Invariants: with a key, a receiver accepts only datagrams whose trailer verifies and whose
// sequence number it has not seen (64-message window per sender epoch); without a key the
// wire is plain IPVS. A kernel backup rejects authenticated datagrams (their length differs
// from the message's size field), so both ends must agree, like any shared secret.
//
// Trailer, appended after the IPVS message (AUTH_TRAILER_LEN bytes, big-endian):
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Magic "WVSA" (0x57 0x56 0x53 0x41)                   |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Epoch (random per sender start)                      |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Sequence (1, 2, ... per datagram)                    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          HMAC-SHA-256(key, message || magic || epoch || seq)  |
//   |          (32 bytes)                                           |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

export const AUTH_TRAILER_LEN = 44;
const MAGIC = [0x57, 0x56, 0x53, 0x41];
const MAC_AT = 12;
const WINDOW = 64;
const MAX_EPOCHS = 16;

interface Replay {
  top: number;
  /** Bit i set: sequence top - i was seen. */
  seen: bigint;
}

/**
 * Signs and verifies sync datagrams with a shared key.
 *
 * @example
 * ```ts
 * import { SyncAuth } from "./auth.ts";
 * const key = new TextEncoder().encode("a shared secret of 32 bytes.....");
 * const a = await SyncAuth.create(key), b = await SyncAuth.create(key);
 * const d = await a.sign(Uint8Array.of(0, 1, 0, 8, 0, 1, 0, 0));
 * if ((await b.verify(d))?.length !== 8 || (await b.verify(d)) !== null) throw new Error();
 * ```
 */
export class SyncAuth {
  readonly #key: CryptoKey;
  readonly #epoch: number;
  #seq = 0;
  #replay = new Map<number, Replay>();

  private constructor(key: CryptoKey, epoch: number) {
    this.#key = key;
    this.#epoch = epoch;
  }

  /**
   * @param key the shared secret (16 bytes or more)
   * @param epoch this sender's epoch (default: random)
   * @throws RangeError for a key shorter than 16 bytes
   */
  static async create(key: Uint8Array, epoch?: number): Promise<SyncAuth> {
    if (key.length < 16) throw new RangeError("Cannot use a sync key shorter than 16 bytes");
    const k = await crypto.subtle.importKey(
      "raw",
      key.slice(),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    return new SyncAuth(k, epoch ?? crypto.getRandomValues(new Uint32Array(1))[0]);
  }

  /** The message followed by its trailer. */
  async sign(msg: Uint8Array): Promise<Uint8Array> {
    const out = new Uint8Array(msg.length + AUTH_TRAILER_LEN);
    out.set(msg);
    const t = msg.length;
    out.set(MAGIC, t);
    const dv = new DataView(out.buffer);
    dv.setUint32(t + 4, this.#epoch);
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    dv.setUint32(t + 8, this.#seq);
    const mac = await crypto.subtle.sign("HMAC", this.#key, out.subarray(0, t + MAC_AT));
    out.set(new Uint8Array(mac), t + MAC_AT);
    return out;
  }

  /**
   * @param d a received datagram
   * @returns the message without its trailer, or null (no trailer, bad MAC, replayed)
   */
  async verify(d: Uint8Array): Promise<Uint8Array | null> {
    if (d.length < AUTH_TRAILER_LEN + 4) return null;
    const t = d.length - AUTH_TRAILER_LEN;
    if (MAGIC.some((b, i) => d[t + i] !== b)) return null;
    const ok = await crypto.subtle.verify(
      "HMAC",
      this.#key,
      d.slice(t + MAC_AT, d.length),
      d.slice(0, t + MAC_AT),
    );
    if (!ok) return null;
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    if (!this.#fresh(dv.getUint32(t + 4), dv.getUint32(t + 8))) return null;
    return d.subarray(0, t);
  }

  /** Anti-replay window per epoch (RFC 4303 §3.4.3 style). */
  #fresh(epoch: number, seq: number): boolean {
    let r = this.#replay.get(epoch);
    if (!r) {
      if (this.#replay.size >= MAX_EPOCHS) this.#replay.delete(this.#replay.keys().next().value!);
      r = { top: 0, seen: 0n };
      this.#replay.set(epoch, r);
    }
    if (seq > r.top) {
      const shift = seq - r.top;
      r.seen = shift >= WINDOW ? 1n : ((r.seen << BigInt(shift)) | 1n) & ((1n << 64n) - 1n);
      r.top = seq;
      return true;
    }
    const back = r.top - seq;
    if (back >= WINDOW) return false;
    const bit = 1n << BigInt(back);
    if (r.seen & bit) return false;
    r.seen |= bit;
    return true;
  }
}
