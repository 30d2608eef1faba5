/**
 * The fan-out peer as a target: two Socket.IO processes sharing one Redis through the Redis
 * adapter; members split evenly; sends alternate between the nodes over HTTP, as with Parley.
 */
import { Agent } from 'node:http';
import { startBaseline, type BaselineServer } from '../baselines/start-baseline.js';
import { loopbackEndpoint, sendRequest } from '../load/http-send.js';
import { splitEvenly, type FanoutTarget } from './target.js';

export async function startSocketIoTarget(redisUrl: string, members: number): Promise<FanoutTarget> {
  const servers: BaselineServer[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const stop = async () => {
    agent.destroy();
    await Promise.all(servers.map((server) => server.process.stop()));
  };
  try {
    for (const index of [1, 2]) servers.push(await startBaseline('socketio-redis', `socket.io-${index}`, { REDIS_URL: redisUrl }));
    const endpoints = servers.map((server) => loopbackEndpoint(server.url));
    const ids = Array.from({ length: members }, (_, i) => i);
    const headers = { 'content-type': 'application/json' };
    return {
      name: 'socket.io',
      clientGroups: splitEvenly(ids, servers.length).map((group, node) =>
        group.map(() => ({ url: `ws://127.0.0.1:${servers[node]!.port}/socket.io/?EIO=4&transport=websocket`, headers: {}, protocol: 'socket.io' as const })),
      ),
      serverPids: servers.map((server) => server.process.pid),
      async send(index, text) {
        const endpoint = endpoints[index % endpoints.length]!;
        const status = await sendRequest(agent, endpoint, { method: 'POST', path: '/send', headers, body: Buffer.from(JSON.stringify({ index, text })) });
        return status === 201;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
