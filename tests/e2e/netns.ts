// Network-namespace testbed helpers for end-to-end tests and the lab.
// Deno-specific (runs `ip`). Safety rules, enforced here rather than trusted to
// callers: every namespace is named `wvs<pid>-<name>` and created by this
// object; veth pairs are created directly inside namespaces (never in the root
// namespace, whose interfaces are never touched); addresses are checked to lie
// in 198.18.0.0/15 or 2001:2::/48; only processes spawned here are killed, by
// PID; `cleanup()` (call it in `finally`) kills them and deletes the namespaces,
// which takes their interfaces along. Every command has a timeout.

import { parseIp } from "../../host/director/inet.ts";

const DEFAULT_TIMEOUT_MS = 10_000;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Why end-to-end tests cannot run here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)";
  try {
    const r = new Deno.Command("ip", { args: ["netns", "list"], stdout: "null", stderr: "null" })
      .outputSync();
    if (!r.success) return "`ip netns list` failed";
  } catch {
    return "the `ip` command (iproute2) is missing";
  }
  return null;
}

/** True when `cmd` is on PATH (checked with `command -v`). */
export function haveCommand(cmd: string): boolean {
  try {
    return new Deno.Command("sh", {
      args: ["-c", `command -v ${cmd}`],
      stdout: "null",
      stderr: "null",
    })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Throws unless `cidr` is in 198.18.0.0/15 or 2001:2::/48, the only ranges the lab may use. */
export function checkAddr(cidr: string): void {
  let b: Uint8Array | null = null;
  try {
    b = parseIp(cidr.split("/")[0]);
  } catch { /* reported below */ }
  const ok = b !== null &&
    (b.length === 4
      ? b[0] === 198 && (b[1] & 0xfe) === 18
      : b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 2 && b[4] === 0 && b[5] === 0);
  if (!ok) {
    throw new Error(`Cannot use address ${cidr}: the lab uses only 198.18.0.0/15 and 2001:2::/48`);
  }
}

/** A line-buffered view of a child's output, so tests can wait for a line. */
export class LineLog {
  readonly lines: string[] = [];
  #waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  #done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>, echo?: (l: string) => void) {
    this.#done = (async () => {
      let buf = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          this.#push(buf.slice(0, nl), echo);
          buf = buf.slice(nl + 1);
        }
      }
      if (buf) this.#push(buf, echo);
    })().catch(() => {});
  }

  #push(line: string, echo?: (l: string) => void): void {
    this.lines.push(line);
    echo?.(line);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.re.test(line)) return true;
      w.resolve(line);
      return false;
    });
  }

  /** Resolves with the first line (past or future) matching `re`; rejects after `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs: number): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${re}`)),
        timeoutMs,
      );
      this.#waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
    });
  }

  /** Resolves when the stream has ended. */
  closed(): Promise<void> {
    return this.#done;
  }
}

/** A process started in a namespace, with its output captured line by line. */
export interface Spawned {
  name: string;
  child: Deno.ChildProcess;
  out: LineLog;
  err: LineLog;
}

/**
 * Deletes namespaces left by lab or test processes that died without cleaning
 * up: only names of our own pattern (`wvs<pid><tag>-…`) whose PID is gone.
 */
export async function reapStaleNamespaces(): Promise<string[]> {
  const r = await new Deno.Command("ip", {
    args: ["netns", "list"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const reaped: string[] = [];
  for (const line of new TextDecoder().decode(r.stdout).split("\n")) {
    const name = line.split(" ")[0];
    const m = /^wvs(\d+)[a-z]*-[a-z0-9]+$/.exec(name);
    if (!m || Number(m[1]) === Deno.pid) continue;
    try {
      Deno.statSync(`/proc/${m[1]}`);
      continue; // its owner is alive
    } catch { /* dead: reap */ }
    await new Deno.Command("ip", { args: ["netns", "del", name], stdout: "null", stderr: "null" })
      .output();
    reaped.push(name);
  }
  if (reaped.length) console.warn(`removed namespaces left by dead runs: ${reaped.join(" ")}`);
  return reaped;
}

export class Netns {
  readonly prefix: string;
  #namespaces: string[] = [];
  #children: Spawned[] = [];
  #tempDirs: string[] = [];

  constructor(tag = "") {
    this.prefix = `wvs${Deno.pid}${tag}-`;
  }

  /** The full name of lab namespace `name`. */
  ns(name: string): string {
    return this.prefix + name;
  }

  /** Runs a command (not in a namespace); throws on a non-zero exit unless `check` is false. */
  async run(
    cmd: string[],
    opts: { timeoutMs?: number; check?: boolean; stdin?: string } = {},
  ): Promise<RunResult> {
    const c = new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdout: "piped",
      stderr: "piped",
      stdin: opts.stdin === undefined ? "null" : "piped",
      signal: AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
    const p = c.spawn();
    if (opts.stdin !== undefined) {
      const w = p.stdin.getWriter();
      await w.write(new TextEncoder().encode(opts.stdin));
      await w.close();
    }
    const o = await p.output();
    const r = {
      code: o.code,
      stdout: new TextDecoder().decode(o.stdout),
      stderr: new TextDecoder().decode(o.stderr),
    };
    if (opts.check !== false && r.code !== 0) {
      throw new Error(
        `Cannot run ${cmd.join(" ")}: exit ${r.code}${
          o.signal ? ` (${o.signal})` : ""
        }: ${r.stderr.trim()}`,
      );
    }
    return r;
  }

  /** Runs `cmd` inside namespace `name`. */
  exec(
    name: string,
    cmd: string[],
    opts: { timeoutMs?: number; check?: boolean; stdin?: string } = {},
  ) {
    return this.run(["ip", "netns", "exec", this.ns(name), ...cmd], opts);
  }

  /** `ip -n <ns> <args…>`. */
  ip(name: string, ...args: string[]): Promise<RunResult> {
    args.forEach((a, i) => {
      if (/^[0-9a-f.:]+\/\d+$/i.test(a)) checkAddr(a);
      if (a === "via") checkAddr(args[i + 1] ?? "");
    });
    return this.run(["ip", "-n", this.ns(name), ...args]);
  }

  async sysctl(name: string, key: string, value: string | number): Promise<void> {
    await this.exec(name, ["sysctl", "-qw", `${key}=${value}`]);
  }

  /** Creates namespace `name` with `lo` up. */
  async addNs(name: string): Promise<void> {
    // A namespace with our own PID-based name that we have not made yet was
    // left by a dead process whose PID the kernel has handed to us: reap it.
    await new Deno.Command("ip", {
      args: ["netns", "del", this.ns(name)],
      stdout: "null",
      stderr: "null",
    })
      .output();
    await this.run(["ip", "netns", "add", this.ns(name)]);
    this.#namespaces.push(this.ns(name));
    await this.ip(name, "link", "set", "lo", "up");
  }

  /** A veth pair from `a:ifA` to `b:ifB`, created inside the namespaces, both ends up. */
  async veth(
    a: string,
    ifA: string,
    b: string,
    ifB: string,
    macA?: string,
    macB?: string,
  ): Promise<void> {
    await this.run([
      "ip",
      "-n",
      this.ns(a),
      "link",
      "add",
      ifA,
      "type",
      "veth",
      "peer",
      "name",
      ifB,
      "netns",
      this.ns(b),
    ]);
    if (macA) await this.ip(a, "link", "set", ifA, "address", macA);
    if (macB) await this.ip(b, "link", "set", ifB, "address", macB);
    await this.ip(a, "link", "set", ifA, "up");
    await this.ip(b, "link", "set", ifB, "up");
  }

  /** Adds `cidr` to `ifname` in `name` (IPv6 without duplicate address detection). */
  async addr(name: string, ifname: string, cidr: string): Promise<void> {
    checkAddr(cidr);
    await this.ip(
      name,
      "addr",
      "add",
      cidr,
      "dev",
      ifname,
      ...(cidr.includes(":") ? ["nodad"] : []),
    );
  }

  /** Starts a long-running process in `name`; it is killed by `cleanup()` if still running. */
  spawn(name: string, cmd: string[], echo?: (l: string) => void): Spawned {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", this.ns(name), ...cmd],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    const s = {
      name,
      child,
      out: new LineLog(child.stdout, echo),
      err: new LineLog(child.stderr, echo),
    };
    this.#children.push(s);
    return s;
  }

  /** Sends `signal` to a spawned process and waits up to `timeoutMs` for it, then SIGKILLs it. */
  async stop(
    s: Spawned,
    signal: Deno.Signal = "SIGTERM",
    timeoutMs = 5000,
  ): Promise<Deno.CommandStatus> {
    try {
      s.child.kill(signal);
    } catch { /* already gone */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((r) => {
      timer = setTimeout(() => {
        try {
          s.child.kill("SIGKILL");
        } catch { /* already gone */ }
        r();
      }, timeoutMs);
    });
    const status = await Promise.race([s.child.status, killed.then(() => s.child.status)]);
    clearTimeout(timer);
    await Promise.all([s.out.closed(), s.err.closed()]);
    this.#children = this.#children.filter((c) => c !== s);
    return status;
  }

  /** A temporary directory that `cleanup()` removes. */
  async tempDir(prefix: string): Promise<string> {
    const d = await Deno.makeTempDir({ prefix });
    this.#tempDirs.push(d);
    return d;
  }

  /** Kills what we spawned, deletes our namespaces and temporary directories. Never throws. */
  async cleanup(): Promise<void> {
    for (const s of [...this.#children].reverse()) {
      await this.stop(s, "SIGTERM", 2000).catch(() => {});
    }
    for (const n of this.#namespaces.reverse()) {
      await this.run(["ip", "netns", "del", n], { check: false, timeoutMs: 5000 }).catch(() => {});
    }
    this.#namespaces = [];
    for (const d of this.#tempDirs) await Deno.remove(d, { recursive: true }).catch(() => {});
    this.#tempDirs = [];
  }
}
