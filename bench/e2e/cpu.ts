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
}

function readStat(pid: number | string, task?: number): ProcStat | null {
  try {
    const path = task === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${task}/stat`;
    const s = Deno.readTextFileSync(path);
    // Fields after the ")" of comm: state(3) ppid(4) ... utime(14) stime(15).
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
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

/** Per-PID ticks of all user processes not descended from `root`. */
export function foreignTicks(root = Deno.pid): Map<number, number> {
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
  const out = new Map<number, number>();
  for (const [pid, s] of stats) {
    // Kernel threads (children of kthreadd, PID 2) are network work or noise we cannot attribute.
    if (pid === 2 || s.ppid === 2 || ours(pid)) continue;
    out.set(pid, s.ticks);
  }
  return out;
}

/** CPUs (as a fraction of one) used by foreign processes between two snapshots. */
export function foreignLoad(a: Map<number, number>, b: Map<number, number>, seconds: number): number {
  let t = 0;
  for (const [pid, ticks] of b) t += ticks - (a.get(pid) ?? ticks);
  return t / CLK_TCK / seconds;
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
