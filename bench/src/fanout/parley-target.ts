/**
 * Parley under the fan-out workload: two nodes sharing one Redis (one issuer, as behind one load
 * balancer), a tenant whose N users are all members of one group, each online over WebSocket on
 * node (i mod 2). The sender is the group's owner; its sends alternate between the nodes, as a
 * round-robin load balancer would spread them.
 */
import { Agent } from 'node:http';
import { createGroup, createUsers, newAdminKey } from '../parley-api.js';
import { startParleyNodes } from '../parley-server.js';
import { loopbackEndpoint, sendRequest } from '../load/http-send.js';
import { splitEvenly, type FanoutTarget } from './target.js';

export async function startParleyTarget(redisUrl: string, members: number, logLevel: string): Promise<FanoutTarget> {
  const adminKey = newAdminKey();
  const nodes = await startParleyNodes(['parley-1', 'parley-2'], { redisUrl, adminKey, logLevel });
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const stop = async () => {
    agent.destroy();
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    const users = await createUsers(nodes[0]!.url, adminKey, members);
    const groupId = await createGroup(nodes[0]!.url, users);
    const sender = users[0]!;
    const endpoints = nodes.map((node) => loopbackEndpoint(node.url));
    const headers = { authorization: `Bearer ${sender.token}`, 'content-type': 'application/json' };
    const path = `/v1/conversations/${groupId}/messages`;
    return {
      name: 'parley',
      clientGroups: splitEvenly(users, nodes.length).map((group, node) =>
        group.map((user) => ({ url: `${nodes[node]!.url.replace(/^http/, 'ws')}/v1/realtime`, headers: { authorization: `Bearer ${user.token}` } })),
      ),
      serverPids: nodes.map((node) => node.pid),
      async send(index, text) {
        const endpoint = endpoints[index % endpoints.length]!;
        const status = await sendRequest(agent, endpoint, { method: 'POST', path, headers, body: Buffer.from(JSON.stringify({ text })) });
        return status === 201;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
