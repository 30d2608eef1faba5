/**
 * CPU time, from /proc (Linux): of the processes the harness started (/proc/<pid>/stat utime +
 * stime), of the harness itself, and of the whole machine (/proc/stat). The last one tells how
 * much CPU *other* processes took meanwhile — on a shared 2-core machine, the noise behind a run.
 * Clock ticks are usually 100 per second (10 ms resolution; steps last seconds).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { monoMs } from './clock.js';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of `pid` in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces: split after its end.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name, fields start at 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  return ((utime + stime) * 1e6) / clockTicks();
}

/** Busy time of all CPUs together (everything but idle and iowait), in microseconds. */
function machineBusyMicros(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1e6) / clockTicks();
}

export interface CpuReading {
  /** CPU µs of each named group of processes. */
  groups: Record<string, number>;
  /** The harness process (load generator, receivers), all threads. */
  harnessUs: number;
  /** Average cores used by processes the harness did not start (0 on a quiet machine). */
  otherCores: number;
}

/** Starts measuring; the returned function reads the CPU spent since. */
export function startCpuMeter(groups: Record<string, readonly number[]>): () => CpuReading {
  const total = (pids: readonly number[]) => pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
  const before = Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, total(pids)]));
  const harnessBefore = process.cpuUsage();
  const machineBefore = machineBusyMicros();
  const startedAt = monoMs();
  return () => {
    const used = Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, total(pids) - before[name]!]));
    const harness = process.cpuUsage(harnessBefore);
    const harnessUs = harness.user + harness.system;
    const ours = Object.values(used).reduce((sum, us) => sum + us, 0) + harnessUs;
    const elapsedUs = (monoMs() - startedAt) * 1000;
    return { groups: used, harnessUs, otherCores: Math.max(0, (machineBusyMicros() - machineBefore - ours) / elapsedUs) };
  };
}
