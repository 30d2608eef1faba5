/**
 * Parley under the resume workload: two nodes A and B sharing one Redis (one issuer, as behind
 * one load balancer), a tenant of N users in groups of `groupSize` (each group created by its
 * first member), every user's client on A. Messages go through A before the kill and through B
 * while the clients are away, each sent by a member in turn.
 */
import { createGroups, createUsers, newAdminKey, sendText, type BenchGroup } from '../parley-api.js';
import { startParleyNodes, type ParleyNode } from '../parley-server.js';
import { mapLimit } from '../concurrency.js';
import type { ResumeTarget } from './target.js';

/** REST sends in flight at once. */
const SEND_CONCURRENCY = 64;

export async function startParleyResumeTarget(redisUrl: string, users: number, groupSize: number, logLevel: string): Promise<ResumeTarget> {
  const adminKey = newAdminKey();
  const nodes = await startParleyNodes(['parley-a', 'parley-b'], { redisUrl, adminKey, logLevel });
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    const [a, b] = nodes as [ParleyNode, ParleyNode];
    // Setup is spread over both nodes (two cores, two event loops).
    const created = await createUsers([a.url, b.url], adminKey, users);
    const groups = await createGroups(a.url, created, groupSize);
    const wsUrl = (node: ParleyNode) => `${node.url.replace(/^http/, 'ws')}/v1/realtime`;
    let sent = 0;
    return {
      name: 'parley',
      clients: groups.flatMap((group) => group.members.map((user) => ({ token: user.token, conversationId: group.id }))),
      firstUrl: wsUrl(a),
      survivorUrl: wsUrl(b),
      survivorPid: b.pid,
      async send(perConversation, through) {
        const node = through === 'first' ? a : b;
        const jobs = groups.flatMap((group) => Array.from({ length: perConversation }, (_, k) => ({ group, k: sent + k })));
        sent += perConversation;
        const seqs = await mapLimit(jobs, SEND_CONCURRENCY, ({ group, k }: { group: BenchGroup; k: number }) =>
          sendText(node.url, group.members[k % group.members.length]!, group.id, `resume ${k}`),
        );
        const byConversation: Record<string, number[]> = {};
        jobs.forEach(({ group }, index) => (byConversation[group.id] ??= []).push(seqs[index]!));
        return byConversation;
      },
      killFirst: () => a.process.kill(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
