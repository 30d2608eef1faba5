/** What RESULTS.md must name beside any figure: the commit, the machine and the command. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';

function commit(): string {
  try {
    const hash = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'packages'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${hash} (packages/ modified)` : hash;
  } catch {
    return 'unknown';
  }
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function redisVersion(): string {
  try {
    return execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The machine and the run; `script` is the npm script that was run (for the `command` field). */
export function machineInfo(argv: string[], script = 'bench') {
  return {
    commit: commit(),
    nproc: availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    redis: redisVersion(),
    command: [`npm run ${script} --`, ...argv].join(' ').replace(/ --$/, ''),
    startedAt: new Date().toISOString(),
    // Other work on the machine when the run started (the per-step `otherCpuCores` tracks it during).
    loadAverage1m: loadavg()[0],
  };
}
