/**
 * The real system the model-based test drives: `node dist/main.js` processes (2–3 on the test
 * Redis under one key prefix, or one embedded process without Redis), and per fast-check run a
 * fresh tenant with the model's users, groups and one realtime client per user. Everything
 * observed is what users see: REST answers and frames on their sockets.
 *
 * `DeliveryCluster` lives for a whole `describe` (processes are slow to start); `DeliverySystem`
 * is one run's tenant, clients and requests, and `check` compares them to the model.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { expect } from 'vitest';
import type { Redis } from 'ioredis';
import { createTestTenant, type TenantUser } from '../test-support/conversations.js';
import { createApiClient, type ApiClient, type ApiResponse } from '../test-support/api-client.js';
import { createFleet, sleep, type Fleet } from '../test-support/node-scenarios.js';
import { connectRealtime, type Frame, type RealtimeClient } from '../test-support/realtime-client.js';
import { TEST_REDIS_URL, createTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from '../test-support/redis.js';
import type { ServerProcess } from '../test-support/server-process.js';
import {
  INITIAL_GROUPS,
  USER_NAMES,
  addedKey,
  createdKey,
  deletedKey,
  historyOf,
  membersOf,
  reactionKey,
  readKey,
  removedKey,
  updatedKey,
  type DeliveryModel,
  type HistoryEntry,
} from './delivery-model.js';

export type Flavour = 'redis' | 'embedded';

/** How long one request, one connect or one wait for quiescence may take before it counts as a failure. */
const REQUEST_TIMEOUT_MS = 10_000;
const QUIESCENCE_TIMEOUT_MS = 10_000;

/** The Parley processes of a describe block, by slot: a node killed and restarted keeps its slot (with a new URL). */
export class DeliveryCluster {
  readonly nodes: ServerProcess[] = [];
  private readonly fleet: Fleet;
  private readonly keyPrefix: string | null;
  private redis: Redis | null = null;

  constructor(
    readonly flavour: Flavour,
    readonly nodeCount: number,
  ) {
    this.keyPrefix = flavour === 'redis' ? uniqueKeyPrefix() : null;
    this.fleet = createFleet(this.keyPrefix === null ? {} : { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: this.keyPrefix });
  }

  async start(): Promise<void> {
    const started = await Promise.all(Array.from({ length: this.nodeCount }, () => this.fleet.startNode()));
    this.nodes.push(...started);
    if (this.flavour === 'redis') this.redis = createTestRedis();
  }

  api(node: number): ApiClient {
    return createApiClient(this.nodes[node]!.url);
  }

  /** Kills the node (SIGKILL: no goodbye) or drains it (SIGTERM: clients told 1012), then starts a new process in its slot. */
  async restart(node: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<number | string> {
    const victim = this.nodes[node]!;
    const exit = signal === 'SIGKILL' ? await victim.stop('SIGKILL') : await this.fleet.stopNode(victim);
    this.nodes[node] = await this.fleet.startNode();
    return exit;
  }

  /**
   * Kills the node's Redis subscription connection with CLIENT KILL. The connection is found as
   * Redis lists it (CLIENT LIST: name `parley`, in pub/sub mode) whose address is a socket of the
   * node's process (its file descriptors, looked up in /proc/net/tcp*): other nodes and other
   * tests share this Redis. A subscription still reconnecting from an earlier cut is waited for
   * (bounded) first. Returns how many connections were killed (1 when it worked).
   */
  async cutSubscriber(node: number): Promise<number> {
    const deadline = Date.now() + 10_000;
    let ids = await this.subscriberIds(node);
    while (ids.length === 0 && Date.now() < deadline) {
      await sleep(50);
      ids = await this.subscriberIds(node);
    }
    for (const id of ids) await this.redis!.call('CLIENT', 'KILL', 'ID', id);
    return ids.length;
  }

  /** The CLIENT LIST ids of the node's subscription connections. */
  private async subscriberIds(node: number): Promise<string[]> {
    if (!this.redis) throw new Error('cutSubscriber needs the Redis flavour');
    const ports = await localTcpPortsOf(this.nodes[node]!.child.pid!);
    const list = (await this.redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
    return list
      .split('\n')
      .map((line) => Object.fromEntries(line.trim().split(' ').map((field) => [field.slice(0, field.indexOf('=')), field.slice(field.indexOf('=') + 1)])))
      .filter((client) => client.name === 'parley' && ports.has(Number(String(client.addr).split(':').pop())))
      .map((client) => String(client.id));
  }

  async close(): Promise<void> {
    await this.fleet.close();
    if (this.redis && this.keyPrefix) {
      try {
        await deleteKeysWithPrefix(this.redis, this.keyPrefix);
      } finally {
        this.redis.disconnect();
      }
    }
  }
}

/** The local ports of the TCP sockets the process holds (from its fds and the kernel's socket tables). */
async function localTcpPortsOf(pid: number): Promise<Set<number>> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.add(match[1]!);
  }
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length > 9 && inodes.has(fields[9]!)) ports.add(parseInt(fields[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** One user's client: every connection it opened, in order (the last one is current while online). */
interface RealClient {
  user: TenantUser;
  connections: RealtimeClient[];
  online: boolean;
}

/** What a REST call answered, with the status first so failures read well. */
export type Answer = ApiResponse;

/** One fast-check run's tenant: its users, groups and clients on the cluster. */
export class DeliverySystem {
  private constructor(
    readonly cluster: DeliveryCluster,
    readonly users: TenantUser[],
    readonly conversationIds: string[],
    private readonly clients: RealClient[],
  ) {}

  /** A fresh tenant with the model's users and groups, and each user's client connected (user i to node i % nodes). */
  static async create(cluster: DeliveryCluster): Promise<DeliverySystem> {
    const tenant = await createTestTenant(cluster.api(0));
    const users = await tenant.users([...USER_NAMES]);
    const conversationIds: string[] = [];
    for (const [owner, ...others] of INITIAL_GROUPS) {
      const created = await cluster.api(0).post('/v1/conversations', { type: 'group', title: 'Model', members: others.map((user) => users[user]!.id) }, users[owner!]!.token);
      if (created.status !== 201) throw new Error(`create group: ${created.status} ${created.text}`);
      conversationIds.push(created.body.id);
    }
    const clients = users.map((user) => ({ user, connections: [] as RealtimeClient[], online: false }));
    const system = new DeliverySystem(cluster, users, conversationIds, clients);
    await Promise.all(users.map((_, index) => system.connect(index, index % cluster.nodeCount)));
    return system;
  }

  get nodeCount(): number {
    return this.cluster.nodeCount;
  }

  /** A REST request as `user` through `node`, failing after REQUEST_TIMEOUT_MS instead of hanging the run. */
  async request(node: number, user: number, method: string, path: string, json?: unknown): Promise<Answer> {
    const api = this.cluster.api(node);
    const work = api.request(method, path, { token: this.users[user]!.token, ...(json === undefined ? {} : { json }) });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${method} ${path} on node ${node}: no answer in ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  conversationPath(conversation: number): string {
    return `/v1/conversations/${this.conversationIds[conversation]!}`;
  }

  /** The client's cursor: that of the last event (or `ready`) its latest connection got. */
  cursorOf(user: number): string | undefined {
    const latest = this.clients[user]!.connections.at(-1);
    return latest?.lastCursor();
  }

  /** Connects the user's client to `node`, resuming from its cursor when it had one; resolves once `ready`. */
  async connect(user: number, node: number): Promise<void> {
    const client = this.clients[user]!;
    const cursor = this.cursorOf(user);
    const connection = await connectRealtime(this.cluster.nodes[node]!.url, { token: client.user.token, ...(cursor ? { cursor } : {}) });
    client.connections.push(connection);
    await connection.waitFor((frame) => frame.type === 'ready', REQUEST_TIMEOUT_MS);
    client.online = true;
  }

  /** Closes the client's connection: a clean close, or an abrupt cut (no close handshake). */
  async disconnect(user: number, abrupt: boolean): Promise<void> {
    const client = this.clients[user]!;
    const connection = client.connections.at(-1)!;
    if (abrupt) connection.socket.terminate();
    else await connection.close();
    await connection.closed;
    client.online = false;
  }

  /**
   * Waits (bounded) until the server closed the current connection of each of `users` (their node
   * died, drained or lost its event stream) and returns the close codes.
   */
  async awaitClosed(users: number[]): Promise<number[]> {
    const codes: number[] = [];
    for (const user of users) {
      const client = this.clients[user]!;
      const connection = client.connections.at(-1)!;
      const closed = await Promise.race([connection.closed, sleep(REQUEST_TIMEOUT_MS).then(() => null)]);
      if (closed === null) throw new Error(`${USER_NAMES[user]}'s connection was not closed in ${REQUEST_TIMEOUT_MS} ms`);
      client.online = false;
      codes.push(closed.code);
    }
    return codes;
  }

  /** Every durable frame the user's client received, over all its connections, in arrival order. */
  private durableFrames(user: number): Frame[] {
    return this.clients[user]!.connections.flatMap((connection) => connection.frames.filter((frame) => frame.type !== 'ready' && typeof frame.cursor === 'string'));
  }

  /** Frames that must never come in these runs: resync.required (nothing is old enough) and errors. */
  private unexpectedFrames(user: number): Frame[] {
    return this.clients[user]!.connections.flatMap((connection) => connection.frames.filter((frame) => frame.type === 'resync.required' || frame.type === 'error'));
  }

  /** The received events as the model's keys, per conversation index, split as ExpectedEvents. */
  received(model: DeliveryModel, user: number): Map<number, { log: string[]; self: string[] }> {
    const me = this.users[user]!.id;
    const byConversation = new Map<number, { log: string[]; self: string[] }>();
    for (const frame of this.durableFrames(user)) {
      const conversationId: string = frame.message?.conversationId ?? frame.conversationId ?? frame.conversation?.id;
      let index = this.conversationIds.indexOf(conversationId);
      if (index < 0) index = -1;
      const entry = byConversation.get(index) ?? { log: [], self: [] };
      byConversation.set(index, entry);
      const isSelf = frame.type === 'conversation.created' || ((frame.type === 'member.added' || frame.type === 'member.removed') && frame.userId === me);
      (isSelf ? entry.self : entry.log).push(keyOfFrame(frame, index < 0 ? [] : model.conversations[index]!.messages));
    }
    return byConversation;
  }

  /** How many events the client has received in all, and how many the model expects. */
  private counts(model: DeliveryModel, user: number): { have: number; want: number } {
    let want = 0;
    for (const expected of model.clients[user]!.expected.values()) want += expected.log.length + expected.self.length;
    return { have: this.durableFrames(user).length, want };
  }

  /**
   * The properties checked after every command sequence:
   *   - every client (offline ones resume first, on the node of their index) has received exactly
   *     the model's events: per conversation, the log events it could see in log order, each once,
   *     and the events about its own membership in order, each once; nothing of a conversation it
   *     could not see; no resync.required and no error frame;
   *   - REST history of every conversation equals the model's messages, seqs contiguous from 1;
   *   - REST members (and their read positions) equal the model's.
   * Quiescence: a bounded poll until every client has at least as many events as expected, then a
   * ping answered on each connection (so everything sent before it has been read).
   */
  async check(model: DeliveryModel): Promise<void> {
    for (const [user, client] of this.clients.entries()) {
      if (!client.online) {
        await this.connect(user, user % this.nodeCount);
        model.clients[user]!.node = user % this.nodeCount;
      }
    }
    const deadline = Date.now() + QUIESCENCE_TIMEOUT_MS;
    while (Date.now() < deadline && !this.clients.every((_, user) => this.counts(model, user).have >= this.counts(model, user).want)) await sleep(20);
    await Promise.all(
      this.clients.map(async (client) => {
        const connection = client.connections.at(-1)!;
        const pongs = connection.frames.filter((frame) => frame.type === 'pong').length;
        connection.send({ type: 'ping' });
        await connection.waitForCount((frame) => frame.type === 'pong', pongs + 1, REQUEST_TIMEOUT_MS);
      }),
    );

    for (const user of USER_NAMES.keys()) {
      const who = USER_NAMES[user]!;
      expect(this.unexpectedFrames(user), `${who}: resync.required or error frames`).toEqual([]);
      const received = this.received(model, user);
      const conversations = new Set([...received.keys(), ...model.clients[user]!.expected.keys()]);
      for (const conversation of conversations) {
        const got = received.get(conversation) ?? { log: [], self: [] };
        const want = model.clients[user]!.expected.get(conversation) ?? { log: [], self: [] };
        expect(got.log, `${who}'s events of conversation ${conversation} (log order)`).toEqual(want.log);
        expect(got.self, `${who}'s own membership events of conversation ${conversation}`).toEqual(want.self);
      }
    }

    for (const [index, conversation] of model.conversations.entries()) {
      const history = await this.request(0, conversation.owner, 'GET', `${this.conversationPath(index)}/messages?limit=100`);
      expect(history.status, history.text).toBe(200);
      const seqs = history.body.items.map((message: any) => message.seq);
      expect(seqs, `seqs of conversation ${index} are contiguous from 1`).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect(history.body.items.map(historyEntryOf), `REST history of conversation ${index}`).toEqual(historyOf(conversation));
      const members = await this.request(this.nodeCount - 1, conversation.owner, 'GET', `${this.conversationPath(index)}/members?limit=100`);
      expect(members.status, members.text).toBe(200);
      const listed = Object.fromEntries(
        [...members.body.items].sort((a: any, b: any) => String(a.userId).localeCompare(String(b.userId))).map((member: any) => [member.userId, { role: member.role, lastReadSeq: member.lastReadSeq }]),
      );
      expect(listed, `members of conversation ${index}`).toEqual(membersOf(conversation));
    }
  }

  /** Closes every socket of the run. */
  async close(): Promise<void> {
    for (const client of this.clients) for (const connection of client.connections) connection.socket.terminate();
  }
}

/** A frame as the model's event key; a frame the model cannot name keeps its type (and so never matches). */
function keyOfFrame(frame: Frame, messages: readonly { id: string; seq: number }[]): string {
  const seqOf = (id: string) => messages.find((message) => message.id === id)?.seq ?? `?${id}`;
  switch (frame.type) {
    case 'message.created':
      return createdKey(frame.message.seq);
    case 'message.updated':
      return updatedKey(frame.message.seq, frame.message.text);
    case 'message.deleted':
      return deletedKey(frame.message.seq);
    case 'reaction.added':
    case 'reaction.removed':
      return reactionKey(frame.type === 'reaction.added', seqOf(frame.messageId) as number, frame.emoji, frame.userId);
    case 'read':
      return readKey(frame.userId, frame.seq);
    case 'member.added':
      return addedKey(frame.userId);
    case 'member.removed':
      return removedKey(frame.userId);
    default:
      return `${frame.type} ${JSON.stringify(frame).slice(0, 200)}`;
  }
}

/** A REST message as the model's history entry. */
function historyEntryOf(message: any): HistoryEntry {
  return {
    seq: message.seq,
    id: message.id,
    sender: message.senderId,
    text: message.text,
    edited: message.editedAt !== null,
    deleted: message.deletedAt !== null,
    reactions: Object.fromEntries(Object.entries(message.reactions ?? {}).map(([emoji, reaction]: [string, any]) => [emoji, reaction.count])),
  };
}
