// CPU affinity of the batch scenarios' processes: the orchestrating process on core 0, the simulated AWS
// on the others, with taskset (Debian's util-linux) when it is installed.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** The CPUs this process may run on (/proc/self/status Cpus_allowed_list), or null where there is no /proc. */
export function cpusAllowed(): string | null {
  try {
    return /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Whether `taskset` can be run. */
export function hasTaskset(): boolean {
  const r = spawnSync('taskset', ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

/**
 * Where the processes go: the orchestrating process on CPU 0 and the cloud process on CPUs 1..n-1, or
 * null (nothing pinned) without taskset; with one CPU, both on CPU 0.
 */
export function placement(): { orchestrator: string; cloud: string } | null {
  if (!hasTaskset()) return null;
  const n = availableParallelism();
  return { orchestrator: '0', cloud: n > 1 ? (n > 2 ? `1-${n - 1}` : '1') : '0' };
}

/**
 * CPU (user + system, ms) used so far by this process's child processes (e.g. DynamoDB Local's JVM),
 * from /proc; null where there is no /proc. Clock ticks are taken as 100 a second (Linux's USER_HZ).
 */
export function childrenCpuMs(): number | null {
  try {
    let ticks = 0;
    for (const task of readdirSync('/proc/self/task')) {
      for (const pid of readFileSync(`/proc/self/task/${task}/children`, 'utf8').split(/\s+/).filter(Boolean)) {
        // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks += Number(f[11]) + Number(f[12]);
      }
    }
    return ticks * 10;
  } catch {
    return null;
  }
}
