// CPU accounting for the end-to-end benchmarks, from /proc (Linux only).
// Director CPU = the forwarder's process (all threads) + the pinned NAPI kthread
// + ksoftirqd of the director core, as in baselines.md §2. Foreign load = CPU
// used during a window by user processes that are not descendants of the
// benchmark runner: other work on a shared machine (baselines.md pitfall 13).

/** Kernel clock ticks per second (USER_HZ; 100 on every Linux ABI in practice). */
export const CLK_TCK = 100;

interface ProcStat {
  ppid: number;
  ticks: number;
  user: number;
}

function readStat(pid: number | string, task?: number): ProcStat | null {
  try {
    const path = task === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${task}/stat`;
    const s = Deno.readTextFileSync(path);
    // Fields after the ")" of comm: state(3) ppid(4) ... utime(14) stime(15).
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), user: Number(f[11]) };
  } catch {
    return null;
  }
}

/** CPU ticks used so far by each of `pids` (whole processes), summed. */
export function ticksOf(pids: readonly number[]): number {
  let t = 0;
  for (const p of pids) t += readStat(p)?.ticks ?? 0;
  return t;
}

/** The PID of ksoftirqd/`cpu`. */
export function ksoftirqd(cpu: number): number | null {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${e.name}/comm`).trim() === `ksoftirqd/${cpu}`) {
        return Number(e.name);
      }
    } catch { /* gone */ }
  }
  return null;
}

/**
 * What foreign load is computed from: per-PID ticks of user processes not
 * descended from `root`, and the machine's user time against our tree's, which
 * also catches processes that start and exit between two snapshots.
 */
export interface ForeignSnapshot {
  perPid: Map<number, number>;
  /** user + nice ticks of all CPUs (/proc/stat). */
  machineUser: number;
  /** utime of `root` and its descendants. */
  oursUser: number;
}

function machineUserTicks(): number {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0].split(/\s+/);
  return Number(line[1]) + Number(line[2]);
}

export function foreignTicks(root = Deno.pid): ForeignSnapshot {
  const stats = new Map<number, ProcStat>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const s = readStat(e.name);
    if (s) stats.set(Number(e.name), s);
  }
  const ours = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      if (p === root) return true;
      p = stats.get(p)?.ppid ?? 0;
    }
    return false;
  };
  const perPid = new Map<number, number>();
  let oursUser = 0;
  for (const [pid, s] of stats) {
    // Kernel threads (children of kthreadd, PID 2) are network work or noise we cannot attribute.
    if (pid === 2 || s.ppid === 2) continue;
    if (ours(pid)) oursUser += s.user;
    else perPid.set(pid, s.ticks);
  }
  return { perPid, machineUser: machineUserTicks(), oursUser };
}

/** CPUs (as a fraction of one) used by foreign processes between two snapshots. */
export function foreignLoad(a: ForeignSnapshot, b: ForeignSnapshot, seconds: number): number {
  let t = 0;
  // A process that appeared in between started during the window: all its ticks count.
  for (const [pid, ticks] of b.perPid) t += ticks - (a.perPid.get(pid) ?? 0);
  // Our tree's children that exited are missed by oursUser, so this estimate errs high; it is a
  // floor under the per-PID one, for foreign processes too short-lived to be seen.
  const user = Math.max(0, (b.machineUser - a.machineUser) - (b.oursUser - a.oursUser));
  return Math.max(t, user) / CLK_TCK / seconds;
}

/** Waits until foreign load stays under `max` (fraction of a CPU) for a second, up to `timeoutS`. */
export async function waitQuiet(max = 0.25, timeoutS = 20): Promise<number> {
  const t0 = performance.now();
  let load = 0;
  while ((performance.now() - t0) / 1000 < timeoutS) {
    const a = foreignTicks();
    await new Promise((r) => setTimeout(r, 1000));
    load = foreignLoad(a, foreignTicks(), 1);
    if (load < max) return load;
  }
  return load;
}
