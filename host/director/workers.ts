// The main thread's side of a multi-worker director: starts N workers
// (worker_deno.ts) one at a time, relays neighbours between them, broadcasts
// reloads, merges statistics, and stops them. Uses the Web Worker API (Deno).
// See worker_protocol.ts for the design and the message set.
import type { DirectorPlan, ServicePlan } from "./config.ts";
import type { DirectorSnapshot } from "./director.ts";
import type { AdoptedService } from "./adopt.ts";
import {
  CTL_MAIL,
  CTL_STOP,
  type EngineCall,
  type EngineReadings,
  type FromWorker,
  mergeSnapshots,
  type ToWorker,
  type WorkerIo,
} from "./worker_protocol.ts";

const WORKER_URL = new URL("./worker_deno.ts", import.meta.url);

export interface PoolOptions {
  workers: number;
  io?: WorkerIo;
  log?: (line: string) => void;
  /** Fanout group base (default derived from the PID; ports use base + i). */
  fanoutGroup?: number;
}

export class WorkerPool {
  readonly size: number;
  /** The first worker's health line, plus the worker count. */
  health = "";
  #workers: Worker[] = [];
  #ctl: Int32Array;
  #log: (line: string) => void;
  #pending = new Map<
    number,
    { want: number; got: DirectorSnapshot[]; done: (s: DirectorSnapshot) => void }
  >();
  /** Control-plane requests (control, readings) waiting for every worker's answer. */
  #asks = new Map<
    number,
    { got: unknown[]; done: (r: unknown[]) => void; fail: (e: Error) => void }
  >();
  #nextId = 1;
  #ready = new Set<number>();
  #readyWaiters: (() => void)[] = [];
  #reloads: {
    want: number;
    got: { changes: string[]; error?: string }[];
    done: (c: string[]) => void;
    fail: (e: Error) => void;
  } | null = null;
  #stopped: DirectorSnapshot[] = [];
  /** Neighbours learned so far, replayed to each worker as it opens. */
  #neigh = new Map<string, { addr: Uint8Array; mac: Uint8Array; port: number }>();
  #stopWaiter: (() => void) | null = null;
  #failure: ((e: Error) => void) | null = null;
  /** Rejects when a worker reports an error it cannot recover from. */
  readonly failed: Promise<never>;

  private constructor(size: number, log: (line: string) => void) {
    this.size = size;
    this.#log = log;
    this.#ctl = new Int32Array(new SharedArrayBuffer(4 * (CTL_MAIL + size)));
    this.failed = new Promise<never>((_, reject) => (this.#failure = reject));
    this.failed.catch(() => {});
  }

  /** Starts `o.workers` workers over `plan`, one after the other, and resolves when all are open. */
  static async start(plan: DirectorPlan, o: PoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(o.workers, o.log ?? ((l) => console.log(l)));
    const group = o.workers > 1 ? (o.fanoutGroup ?? ((Deno.pid % 4000) * 16 + 1)) : 0;
    try {
      for (let i = 0; i < o.workers; i++) {
        await pool.#spawn(i, plan, group, o.io ?? {});
      }
    } catch (e) {
      pool.#terminate();
      throw e;
    }
    pool.health += `; workers ${o.workers}${group ? ` (fanout ${o.io?.fanout ?? "client"})` : ""}`;
    return pool;
  }

  #spawn(i: number, plan: DirectorPlan, group: number, io: WorkerIo): Promise<void> {
    const w = new Worker(WORKER_URL, { type: "module" });
    this.#workers.push(w);
    return new Promise<void>((resolve, reject) => {
      w.onerror = (e) => {
        e.preventDefault();
        const err = new Error(`Worker ${i} failed: ${e.message}`);
        reject(err);
        this.#failure?.(err);
      };
      w.onmessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data;
        if (m.type === "opened") {
          if (i === 0) this.health = m.health;
          for (const n of this.#neigh.values()) this.#post(i, { type: "neigh", ...n });
          resolve();
        } else if (m.type === "error") {
          const err = new Error(`Worker ${m.index}: ${m.message}`);
          reject(err);
          this.#failure?.(err);
        } else this.#onMessage(m);
      };
      const init: ToWorker = {
        type: "init",
        plan,
        index: i,
        workers: this.size,
        fanoutGroup: group,
        ctl: this.#ctl.buffer as SharedArrayBuffer,
        io,
      };
      w.postMessage(init);
    });
  }

  #post(i: number, m: ToWorker): void {
    this.#workers[i].postMessage(m);
    Atomics.add(this.#ctl, CTL_MAIL + i, 1);
  }

  #onMessage(m: FromWorker): void {
    switch (m.type) {
      case "log":
        this.#log(m.line);
        break;
      case "ready":
        this.#ready.add(m.index);
        if (this.#ready.size === this.size) this.#readyWaiters.splice(0).forEach((f) => f());
        break;
      case "neigh": {
        // What one worker learned (the primary, from ARP/ND) every other engine needs too.
        const n = { addr: m.addr, mac: m.mac, port: m.port };
        this.#neigh.set(n.addr.join("."), n);
        for (let j = 0; j < this.#workers.length; j++) {
          if (j !== m.index) this.#post(j, { type: "neigh", ...n });
        }
        break;
      }
      case "stats": {
        const p = this.#pending.get(m.id);
        if (!p) break;
        p.got[m.index] = m.snapshot;
        if (p.got.filter(Boolean).length === p.want) {
          this.#pending.delete(m.id);
          p.done(mergeSnapshots(p.got));
        }
        break;
      }
      case "controlled":
      case "readings": {
        const a = this.#asks.get(m.id);
        if (!a) break;
        if (m.type === "controlled" && m.error) {
          this.#asks.delete(m.id);
          a.fail(new Error(`Worker ${m.index}: ${m.error}`));
          break;
        }
        a.got[m.index] = m.type === "controlled" ? m.results : m.readings;
        if (a.got.filter(Boolean).length === this.size) {
          this.#asks.delete(m.id);
          a.done(a.got);
        }
        break;
      }
      case "reloaded": {
        const r = this.#reloads;
        if (!r) break;
        r.got[m.index] = { changes: m.changes, error: m.error };
        if (r.got.filter(Boolean).length === r.want) {
          this.#reloads = null;
          const err = r.got.find((x) => x.error);
          if (err) r.fail(new Error(err.error));
          else r.done(r.got[0].changes);
        }
        break;
      }
      case "stopped":
        this.#stopped[m.index] = m.snapshot;
        if (this.#stopped.filter(Boolean).length === this.size) this.#stopWaiter?.();
        break;
    }
  }

  /** Resolves once every worker has resolved its neighbours. */
  ready(): Promise<void> {
    if (this.#ready.size === this.size) return Promise.resolve();
    return new Promise((r) => this.#readyWaiters.push(r));
  }

  /** Merged statistics of all workers. */
  stats(): Promise<DirectorSnapshot> {
    const id = this.#nextId++;
    return new Promise((done) => {
      this.#pending.set(id, { want: this.size, got: [], done });
      for (let i = 0; i < this.size; i++) this.#post(i, { type: "stats", id });
    });
  }

  #ask<T>(message: (id: number) => ToWorker): Promise<T[]> {
    const id = this.#nextId++;
    return new Promise<T[]>((done, fail) => {
      this.#asks.set(id, { got: [], done: done as (r: unknown[]) => void, fail });
      for (let i = 0; i < this.size; i++) this.#post(i, message(id));
    });
  }

  /** Replays the control plane's engine calls in every worker, then adopts `services` there. */
  control(calls: EngineCall[], services: AdoptedService[]): Promise<number[][]> {
    return this.#ask<number[]>((id) => ({ type: "control", id, calls, services }));
  }

  /** Every worker's engine readings for the control plane (control_workers.ts). */
  readings(svcs: number[], dests: number[], conns: boolean): Promise<EngineReadings[]> {
    return this.#ask<EngineReadings>((id) => ({ type: "readings", id, svcs, dests, conns }));
  }

  /** Applies `services` in every worker; resolves with worker 0's list of changes. */
  reload(services: ServicePlan[]): Promise<string[]> {
    if (this.#reloads) return Promise.reject(new Error("Cannot reload: a reload is under way"));
    return new Promise((done, fail) => {
      this.#reloads = { want: this.size, got: [], done, fail };
      for (let i = 0; i < this.size; i++) this.#post(i, { type: "reload", services });
    });
  }

  /** Stops every worker (they close their sockets) and returns their merged final statistics. */
  async stop(timeoutMs = 5000): Promise<DirectorSnapshot | null> {
    Atomics.store(this.#ctl, CTL_STOP, 1);
    const all = new Promise<void>((r) => {
      this.#stopWaiter = r;
      if (this.#stopped.filter(Boolean).length === this.size) r();
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    const ok = await Promise.race([all.then(() => true), late]);
    clearTimeout(timer);
    this.#terminate();
    return ok ? mergeSnapshots(this.#stopped) : null;
  }

  #terminate(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
  }
}
