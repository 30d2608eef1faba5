/**
 * Every process the harness starts goes through here, so it can stop exactly those (and nothing
 * else): on a normal stop, on Ctrl-C, and — as a last resort — with SIGKILL when the harness exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { sleep } from './clock.js';
import { freePort } from './ports.js';

export interface Managed {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The last few KB of the process's stdout and stderr, for error messages. */
  tail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL (`kill -9`: a crash, no shutdown); resolves once the process has exited. */
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n[bench] ${signal}: stopping the ${running.size} process(es) it started\n`);
    for (const child of running) child.kill('SIGTERM');
    // Give them a moment to exit cleanly; the exit hook kills whatever is left.
    setTimeout(() => process.exit(130), 1500).unref();
  });
}

const TAIL_BYTES = 8192;

/**
 * Spawns `command` with exactly `env` (plus PATH) and tracks it until it exits. `ipc`: a Node
 * child with an IPC channel (`child.send`, `process.send`), for load generators the harness drives.
 */
export function startProcess(name: string, command: string, args: string[], env: Record<string, string>, { ipc = false } = {}): Managed {
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  running.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-TAIL_BYTES);
  };
  // Drained continuously: a full pipe would block the child's writes and distort its timings.
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return {
    name,
    pid: child.pid,
    child,
    tail: () => output,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(killer);
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls `url` until it answers 200; fails early if the process died, with its output. */
export async function waitForHttp(managed: Managed, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (managed.child.exitCode !== null || managed.child.signalCode !== null) {
      throw new Error(`${managed.name} exited (${managed.child.exitCode ?? managed.child.signalCode}) before it was ready:\n${managed.tail()}`);
    }
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${managed.name} was not ready at ${url} within ${timeoutMs} ms:\n${managed.tail()}`);
}

export interface HttpProcess {
  readonly url: string;
  readonly port: number;
  readonly process: Managed;
}

/**
 * Starts a Node script that serves HTTP on `PORT` (a free loopback port given here) and waits for
 * its `/health/ready`; a process that never gets ready is stopped before the error is thrown.
 */
export async function startHttpProcess(
  name: string,
  file: string,
  env: Record<string, string> = {},
  options: { nodeArgs?: string[]; ipc?: boolean } = {},
): Promise<HttpProcess> {
  const port = await freePort();
  const managed = startProcess(name, process.execPath, [...(options.nodeArgs ?? []), file], { ...env, PORT: String(port) }, { ipc: options.ipc ?? false });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(managed, `${url}/health/ready`);
  } catch (error) {
    await managed.stop();
    throw error;
  }
  return { url, port, process: managed };
}
