// A client of the daemon's control API (newline-delimited JSON over a Unix socket), as
// wvsadm and tests use it. Deno-specific. Requests on one connection are answered in order.

import type { Request, Response } from "./protocol.ts";

const enc = new TextEncoder();

/** One connection to the daemon. */
export class ControlClient {
  #conn: Deno.UnixConn;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #dec = new TextDecoder();
  /** Received bytes not yet returned; only the last chunk can hold a newline. */
  #pending: Uint8Array[] = [];
  #nextId = 1;

  private constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
    this.#reader = conn.readable.getReader();
  }

  /**
   * Connects to a daemon.
   *
   * @param path the socket path
   * @returns the client
   * @throws Deno.errors.NotFound / ConnectionRefused when no daemon listens there
   */
  static async connect(path: string): Promise<ControlClient> {
    return new ControlClient(await Deno.connect({ transport: "unix", path }));
  }

  /**
   * Sends one request and waits for its response.
   *
   * @param req the request (an `id` is added if absent)
   * @returns the response
   */
  async request(req: Request): Promise<Response> {
    const id = req.id ?? this.#nextId++;
    const body = JSON.stringify({ ...req, id }) + "\n";
    const bytes = enc.encode(body);
    for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
    for (;;) {
      const nl = this.#pending.length ? this.#pending[this.#pending.length - 1].indexOf(10) : -1;
      if (nl >= 0) {
        const last = this.#pending.pop()!;
        this.#pending.push(last.subarray(0, nl));
        const total = this.#pending.reduce((n, p) => n + p.length, 0);
        const bytes = new Uint8Array(total);
        let off = 0;
        for (const p of this.#pending) bytes.set(p, off), off += p.length;
        this.#pending = nl + 1 < last.length ? [last.slice(nl + 1)] : [];
        return JSON.parse(this.#dec.decode(bytes)) as Response;
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("Cannot read the response: the daemon closed the connection");
      this.#pending.push(value);
    }
  }

  /** Closes the connection. */
  close(): void {
    this.#reader.releaseLock();
    this.#conn.close();
  }
}

/**
 * Connects, sends one request, and closes.
 *
 * @param path the socket path
 * @param req the request
 * @returns the response
 */
export async function requestOnce(path: string, req: Request): Promise<Response> {
  const c = await ControlClient.connect(path);
  try {
    return await c.request(req);
  } finally {
    c.close();
  }
}
