/**
 * For the end-to-end tests of the bench scripts (smoke.test.ts, soak.test.ts): runs `node args…`
 * from the repository root and collects its output; every child still running is killed when the
 * test process exits, even after a timed-out test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Stops (SIGTERM) every child still running: for a test's afterAll. */
export function stopChildren(): void {
  for (const child of children) child.kill('SIGTERM');
}

/** Runs `node args…`, stopped by SIGTERM after `timeoutMs` (the scripts then stop every process they started). */
export function runNode(args: string[], timeoutMs: number): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}
