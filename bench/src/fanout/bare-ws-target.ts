/**
 * The fan-out baseline ("the limit"): two bare `ws` processes subscribed to one Redis channel; the
 * sender PUBLISHes each message (serialised once, by the sender) and both processes write it to
 * every local socket.
 */
import { Redis } from 'ioredis';
import { startBaseline, type BaselineServer } from '../baselines/start-baseline.js';
import { messageFrame } from './message-frame.js';
import { splitEvenly, type FanoutTarget } from './target.js';

const CHANNEL = 'bench:fanout';

export async function startBareWsTarget(redisUrl: string, members: number): Promise<FanoutTarget> {
  const servers: BaselineServer[] = [];
  const publisher = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  publisher.on('error', () => undefined); // a failed publish rejects its own call; nothing else to report
  const stop = async () => {
    publisher.disconnect();
    await Promise.all(servers.map((server) => server.process.stop()));
  };
  try {
    for (const index of [1, 2]) {
      servers.push(await startBaseline('bare-ws-broadcast', `bare-ws-${index}`, { REDIS_URL: redisUrl, BENCH_CHANNEL: CHANNEL }));
    }
    const ids = Array.from({ length: members }, (_, i) => i);
    return {
      name: 'bare-ws',
      clientGroups: splitEvenly(ids, servers.length).map((group, node) => group.map(() => ({ url: `ws://127.0.0.1:${servers[node]!.port}/`, headers: {} }))),
      serverPids: servers.map((server) => server.process.pid),
      async send(index, text) {
        const listeners = await publisher.publish(CHANNEL, JSON.stringify(messageFrame(index, text)));
        return listeners === servers.length;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
