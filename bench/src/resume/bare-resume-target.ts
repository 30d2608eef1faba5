/**
 * The resume baseline: two bare `ws` servers (the fan-out baseline's process, which greets every
 * socket with `{"type":"ready"}`); the clients start on the first, which is killed, and reconnect
 * to the second. No auth, no storage, nothing to replay: the bare cost of 10,000 sockets
 * reconnecting at once, the floor under any resume.
 */
import { startBaseline, type BaselineServer } from '../baselines/start-baseline.js';
import type { ResumeTarget } from './target.js';

export async function startBareResumeTarget(redisUrl: string, clients: number): Promise<ResumeTarget> {
  const servers: BaselineServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((server) => server.process.stop()));
  };
  try {
    for (const index of [1, 2]) servers.push(await startBaseline('bare-ws-broadcast', `bare-ws-${index}`, { REDIS_URL: redisUrl, BENCH_CHANNEL: 'bench:resume' }));
    const [first, survivor] = servers as [BaselineServer, BaselineServer];
    return {
      name: 'bare-ws',
      clients: Array.from({ length: clients }, () => ({ token: '', conversationId: '' })),
      firstUrl: `ws://127.0.0.1:${first.port}/`,
      survivorUrl: `ws://127.0.0.1:${survivor.port}/`,
      survivorPid: survivor.process.pid,
      // Nothing is stored: there are no messages to miss, the clients are caught up once they are open.
      send: () => Promise.resolve({}),
      killFirst: () => first.process.kill(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
