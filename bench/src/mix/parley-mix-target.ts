/**
 * Parley under the mix workload: two nodes sharing one Redis (one issuer, as behind one load
 * balancer); users u0…u(N-1), each pair (u2k, u2k+1) in a direct conversation and the first
 * `groupedUsers` also in consecutive groups of `groupSize` (each created by its first member).
 * User i's socket and requests go to node i mod 2.
 */
import { createGroups, createUsers, newAdminKey, openDirectPairs, type BenchUser } from '../parley-api.js';
import { startParleyNodes } from '../parley-server.js';
import type { MixClientSpec } from './protocol.js';

/** A conversation a user sends to: its id and its members' user indexes (the sender's included). */
export interface MixConversation {
  id: string;
  members: number[];
}

export interface MixTarget {
  users: BenchUser[];
  /** Per user: its direct conversation, and its group (null for users in none). */
  direct: MixConversation[];
  group: (MixConversation | null)[];
  /** Per node: the clients connecting to it. */
  clientsByNode: MixClientSpec[][];
  /** Base URL of the node user i talks to. */
  urlOf(user: number): string;
  serverPids: number[];
  stop(): Promise<void>;
}

export async function startParleyMixTarget(redisUrl: string, users: number, groupedUsers: number, groupSize: number, logLevel: string): Promise<MixTarget> {
  if (users % 2 !== 0 || groupedUsers > users) throw new Error(`mix needs an even number of users and at most that many grouped (${users}, ${groupedUsers})`);
  const adminKey = newAdminKey();
  const nodes = await startParleyNodes(['parley-a', 'parley-b'], { redisUrl, adminKey, logLevel });
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    const urls = nodes.map((node) => node.url);
    const created = await createUsers(urls, adminKey, users);
    // Setup is spread over both nodes (two cores, two event loops); halves keep the pairs whole.
    const half = 2 * Math.floor(users / 4);
    const pairs = (await Promise.all([openDirectPairs(urls[0]!, created.slice(0, half)), openDirectPairs(urls[1]!, created.slice(half))])).flat();
    const groups = await createGroups(urls[1]!, created.slice(0, groupedUsers), groupSize);
    const indexOf = (user: BenchUser) => Number(user.id.slice(1));
    const direct: MixConversation[] = [];
    for (const pair of pairs) {
      const conversation = { id: pair.id, members: pair.members.map(indexOf) };
      for (const member of conversation.members) direct[member] = conversation;
    }
    const group: (MixConversation | null)[] = created.map(() => null);
    for (const { id, members } of groups) {
      const conversation = { id, members: members.map(indexOf) };
      for (const member of conversation.members) group[member] = conversation;
    }
    const urlOf = (user: number) => urls[user % urls.length]!;
    const clientsByNode = urls.map((url, node) =>
      created.flatMap((user, index) =>
        index % urls.length === node ? [{ user: index, token: user.token, wsUrl: `${url.replace(/^http/, 'ws')}/v1/realtime`, httpUrl: url }] : [],
      ),
    );
    return { users: created, direct, group, clientsByNode, urlOf, serverPids: nodes.map((node) => node.pid), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
