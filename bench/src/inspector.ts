/**
 * A benchmarked process's own view of its memory, read from outside through its inspector (Chrome
 * DevTools Protocol on a loopback port, `--inspect=127.0.0.1:PORT`): a full garbage collection on
 * request, and `process.memoryUsage()`. The process itself needs no code for it (Parley exposes no
 * `global.gc` in production), and every target is measured the same way.
 */
import WebSocket from 'ws';

export interface MemoryUsage {
  rss: number;
  heapUsed: number;
}

/** Sends one CDP command to the process's first target and resolves with its result. */
async function command(inspectorPort: number, method: string, params: Record<string, unknown> = {}): Promise<any> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const debuggerUrl = targets[0]?.webSocketDebuggerUrl;
  if (debuggerUrl === undefined) throw new Error('the inspector lists no target');
  const socket = new WebSocket(debuggerUrl, { perMessageDeflate: false });
  try {
    return await new Promise((resolve, reject) => {
      socket.once('open', () => socket.send(JSON.stringify({ id: 1, method, params })));
      socket.on('message', (data: Buffer) => {
        const reply = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
        if (reply.id !== 1) return;
        if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
        else resolve(reply.result);
      });
      socket.once('error', reject);
    });
  } finally {
    socket.close();
  }
}

/** A full garbage collection in the process. */
export async function collectGarbage(inspectorPort: number): Promise<void> {
  await command(inspectorPort, 'HeapProfiler.collectGarbage');
}

/** The process's resident set and used heap, as it reports them itself. */
export async function memoryUsage(inspectorPort: number): Promise<MemoryUsage> {
  const reply = await command(inspectorPort, 'Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
  const usage = JSON.parse(reply.result.value as string) as MemoryUsage;
  return { rss: usage.rss, heapUsed: usage.heapUsed };
}
