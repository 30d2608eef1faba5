import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { GENEROUS_RATE_LIMITS } from './rate-limits.js';

/** The compiled entry point; `npm test` builds before running tests. */
export const MAIN_JS = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Every log line the process wrote to stdout, parsed. */
  logs: Record<string, unknown>[];
  /** What the process wrote to stderr so far (Node's own messages, such as the inspector's address). */
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
  /** Sends the signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * Runs `node dist/main.js` as a real server process with `env`, and waits until it listens.
 * Rate limits are GENEROUS_RATE_LIMITS unless `env` sets them. `where` runs another copy of the
 * entry point (`mainJs`) or from another working directory (`cwd`), as a container image does.
 */
export async function startServerProcess(
  env: Record<string, string>,
  timeoutMs = 20_000,
  where: { mainJs?: string; cwd?: string } = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [where.mainJs ?? MAIN_JS], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...GENEROUS_RATE_LIMITS, ...env },
    ...(where.cwd === undefined ? {} : { cwd: where.cwd }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'Parley is listening' && typeof entry.url === 'string') {
        clearTimeout(timer);
        resolve(entry.url);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });
  return {
    url,
    child,
    logs,
    stderr: () => stderr,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
