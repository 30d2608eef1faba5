/**
 * `npm run bench:sizing [-- options]`: what one stored message and one open realtime connection
 * cost in Redis memory, and what an open WebSocket costs a Parley process (RSS and heap), measured
 * on a private redis-server (no persistence) and one `node packages/server/dist/main.js`. The
 * figures feed docs/operations.md ("Sizing"). Light on purpose: sends and connections go a few
 * at a time, so the machine's other work barely matters (memory, not speed, is measured).
 *
 * Method: Redis `INFO memory` `used_memory` and the process's `/metrics`
 * (`parley_process_resident_memory_bytes`, `parley_nodejs_heap_size_used_bytes`) before and after
 * each step, after the step has settled; the difference divided by the count is the cost of one.
 * Before each reading the process collects its garbage (through the inspector, on a loopback port),
 * so the heap figure is what the open connections keep alive, not where the GC happened to be.
 */
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { sleep } from './clock.js';
import { mapLimit } from './concurrency.js';
import { machineInfo } from './machine.js';
import { collectGarbage } from './inspector.js';
import { createGroup, createUsers, newAdminKey, openDirectPairs, type BenchUser } from './parley-api.js';
import { startParley, type ParleyNode } from './parley-server.js';
import { freePort } from './ports.js';
import { startRedis, type BenchRedis } from './redis-server.js';
import { progress, result } from './report.js';

interface SizingOptions {
  messages: number;
  conversations: number;
  textBytes: number;
  users: number;
  connections: number[];
}

const USAGE = `npm run bench:sizing [-- options]
  --messages N        messages stored (default 10000)
  --conversations N   direct conversations they go to (default 10)
  --text-bytes N      text size of each message (default 100)
  --users N           users created (default 1000); connections are spread over them
  --connections LIST  open WebSocket totals to measure at (default 1000,5000; at most 20 per user)`;

function parseOptions(argv: string[]): SizingOptions | null {
  const options: SizingOptions = { messages: 10_000, conversations: 10, textBytes: 100, users: 1000, connections: [1000, 5000] };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = argv[i + 1];
    const count = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error(`${flag} wants a whole number 1..100000`);
      i += 1;
      return n;
    };
    if (flag === '--help' || flag === '-h') return null;
    else if (flag === '--messages') options.messages = count();
    else if (flag === '--conversations') options.conversations = count();
    else if (flag === '--text-bytes') options.textBytes = count();
    else if (flag === '--users') options.users = count();
    else if (flag === '--connections') {
      options.connections = (value ?? '').split(',').map(Number);
      if (options.connections.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--connections wants a list of whole numbers');
      options.connections.sort((a, b) => a - b);
      i += 1;
    } else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  // REALTIME_MAX_CONNECTIONS_PER_USER is 20: beyond it a user's oldest socket is closed.
  if (options.connections.some((n) => n > options.users * 20)) throw new Error('--connections: at most 20 per user (--users)');
  if (options.conversations * 2 > options.users) throw new Error('--conversations: at most --users / 2');
  return options;
}

/** In-flight sends and connection attempts: few, so the measurement stays light on a busy machine. */
const CONCURRENCY = 8;
const SETTLE_MS = 2000;

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const match = /used_memory:(\d+)/.exec(info);
  if (!match) throw new Error('INFO memory without used_memory');
  return Number(match[1]);
}

async function keyCount(redis: Redis): Promise<number> {
  return redis.dbsize();
}

interface ProcessMemory {
  rss: number;
  heapUsed: number;
}

/** The node's own view, as Prometheus would scrape it. */
async function processMemory(node: ParleyNode): Promise<ProcessMemory> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const read = (name: string) => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text);
    if (!match) throw new Error(`/metrics without ${name}`);
    return Number(match[1]);
  };
  return { rss: read('parley_process_resident_memory_bytes'), heapUsed: read('parley_nodejs_heap_size_used_bytes') };
}

interface Snapshot {
  redisBytes: number;
  redisKeys: number;
  rss: number;
  heapUsed: number;
}

async function snapshot(redis: Redis, node: ParleyNode, inspectorPort: number): Promise<Snapshot> {
  await sleep(SETTLE_MS);
  await collectGarbage(inspectorPort);
  const memory = await processMemory(node);
  return { redisBytes: await usedMemory(redis), redisKeys: await keyCount(redis), ...memory };
}

function per(before: Snapshot, after: Snapshot, count: number) {
  return {
    redisBytes: (after.redisBytes - before.redisBytes) / count,
    redisKeys: (after.redisKeys - before.redisKeys) / count,
    rssBytes: (after.rss - before.rss) / count,
    heapBytes: (after.heapUsed - before.heapUsed) / count,
  };
}

async function send(node: ParleyNode, token: string, conversationId: string, body: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${node.url}/v1/conversations/${conversationId}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`send: ${response.status} ${text.slice(0, 300)}`);
}

/** Opens one WebSocket and resolves once the server said `ready` (the connection is registered). */
function connect(node: ParleyNode, user: BenchUser): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${node.url.replace(/^http/, 'ws')}/v1/realtime`, { headers: { authorization: `Bearer ${user.token}` } });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no ready frame within 30 s for ${user.id}`));
    }, 30_000);
    socket.on('message', (data: Buffer) => {
      if (data.toString('utf8', 0, 16).startsWith('{"type":"ready"')) {
        clearTimeout(timer);
        resolve(socket);
      }
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`closed ${code} before ready`));
    });
  });
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options = parseOptions(argv);
  if (options === null) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const machine = { ...machineInfo(argv), command: ['npm run bench:sizing --', ...argv].join(' ').replace(/ --$/, '') };
  result({ kind: 'machine', ...machine, ...options });
  let redisServer: BenchRedis | undefined;
  let node: ParleyNode | undefined;
  let client: Redis | undefined;
  const sockets: WebSocket[] = [];
  try {
    redisServer = await startRedis();
    client = new Redis(redisServer.url);
    const adminKey = newAdminKey();
    // Parley's defaults apply to everything else, event retention included (README, Configuration).
    const inspectorPort = await freePort();
    node = await startParley('parley', { redisUrl: redisServer.url, adminKey, logLevel: 'warn', env: { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectorPort}` } });
    const rows: Array<[string, string, string]> = [];

    const empty = await snapshot(client, node, inspectorPort);
    progress(`creating ${options.users} users (upsert + token through a tenant key)`);
    const users = await createUsers(node.url, adminKey, options.users);
    const withUsers = await snapshot(client, node, inspectorPort);
    const perUser = per(empty, withUsers, options.users);
    result({ kind: 'users', count: options.users, ...perUser });
    rows.push(['Redis per user (account, no password; tenant once)', `${Math.round(perUser.redisBytes)} B`, `${perUser.redisKeys.toFixed(2)} keys`]);

    const pairs = Math.floor(options.users / 2);
    progress(`opening ${pairs} direct conversations`);
    const conversations = await openDirectPairs(node.url, users);
    const withConversations = await snapshot(client, node, inspectorPort);
    const perConversation = per(withUsers, withConversations, pairs);
    result({ kind: 'conversations', count: pairs, members: 2, ...perConversation });
    // Where it goes: every key of the first conversation, and of its first member's own slot (the
    // inbox stream and presence are created with a user's first membership or connection).
    const breakdown: Record<string, number> = {};
    const first = conversations[0]!;
    const patterns = [`*${first.id}}:*`, `*{u:*:${first.members[0].id}}:*`, `*user-convs:${first.members[0].id}`];
    for (const pattern of patterns) {
      for (const key of await client.keys(pattern)) {
        breakdown[key.replace(/^.*\}:/, '')] = (await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) as number;
      }
    }
    result({ kind: 'direct-conversation-keys', bytes: breakdown });
    rows.push(['Redis per direct conversation (2 members)', `${Math.round(perConversation.redisBytes)} B`, `${perConversation.redisKeys.toFixed(2)} keys`]);

    progress(`creating one group of all ${options.users} users`);
    await createGroup(node.url, users);
    const withGroup = await snapshot(client, node, inspectorPort);
    const perMember = per(withConversations, withGroup, options.users);
    result({ kind: 'group-members', count: options.users, ...perMember });
    rows.push([`Redis per group member (one group of ${options.users})`, `${Math.round(perMember.redisBytes)} B`, `${perMember.redisKeys.toFixed(3)} keys`]);

    const text = 'x'.repeat(options.textBytes);
    const targets = conversations.slice(0, options.conversations);
    progress(`sending ${options.messages} messages of ${options.textBytes} bytes into ${targets.length} conversations`);
    await mapLimit(Array.from({ length: options.messages }, (_, i) => i), CONCURRENCY, (i) => {
      const conversation = targets[i % targets.length]!;
      return send(node!, conversation.members[i % 2]!.token, conversation.id, { text });
    });
    const withMessages = await snapshot(client, node, inspectorPort);
    const perMessage = per(withGroup, withMessages, options.messages);
    result({ kind: 'messages', count: options.messages, textBytes: options.textBytes, conversations: targets.length, ...perMessage });
    rows.push([`Redis per message (${options.textBytes}-byte text, with its event-log entry)`, `${Math.round(perMessage.redisBytes)} B`, `${perMessage.redisKeys.toFixed(3)} keys`]);
    // The split: the message itself (kept until deleted) and its event-log entry (trimmed after the
    // retention), by MEMORY USAGE of the conversations' two keys (this Redis holds nothing else).
    let messagesBytes = 0;
    let eventsBytes = 0;
    for (const conversation of targets) {
      for (const key of await client.keys(`*${conversation.id}}:messages`)) messagesBytes += (await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) as number;
      for (const key of await client.keys(`*${conversation.id}}:events`)) eventsBytes += (await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) as number;
    }
    if (messagesBytes === 0 || eventsBytes === 0) throw new Error('the conversations\' messages or events keys were not found');
    result({ kind: 'message-split', messagesHashBytesPerMessage: messagesBytes / options.messages, eventLogBytesPerMessage: eventsBytes / options.messages });
    rows.push(['… of which the message (hash `messages`, kept)', `${Math.round(messagesBytes / options.messages)} B`, 'MEMORY USAGE']);
    rows.push(['… of which its event-log entry (stream `events`, trimmed after the retention)', `${Math.round(eventsBytes / options.messages)} B`, 'MEMORY USAGE']);

    // The same again with a clientMessageId: what the idempotency record adds while it lives.
    const idempotent = Math.max(1, Math.floor(options.messages / 10));
    progress(`sending ${idempotent} messages with a clientMessageId`);
    await mapLimit(Array.from({ length: idempotent }, (_, i) => i), CONCURRENCY, (i) => {
      const conversation = targets[i % targets.length]!;
      return send(node!, conversation.members[i % 2]!.token, conversation.id, { text, clientMessageId: `sizing-${i}` });
    });
    const withIdempotent = await snapshot(client, node, inspectorPort);
    const perIdempotent = per(withMessages, withIdempotent, idempotent);
    result({ kind: 'messages-with-client-id', count: idempotent, ...perIdempotent });
    rows.push(['Redis per message with a clientMessageId (for IDEMPOTENCY_TTL_SECONDS)', `${Math.round(perIdempotent.redisBytes)} B`, `${perIdempotent.redisKeys.toFixed(3)} keys`]);

    let before = withIdempotent;
    for (const total of options.connections) {
      const adding = total - sockets.length;
      progress(`opening WebSockets up to ${total} (${adding} more), each waiting for ready`);
      // Socket k belongs to user k mod users: one per user first, then a second one each, …
      const opened = await mapLimit(Array.from({ length: adding }, (_, i) => sockets.length + i), CONCURRENCY, (k) => connect(node!, users[k % users.length]!));
      sockets.push(...opened);
      const after = await snapshot(client, node, inspectorPort);
      const perConnection = per(before, after, adding);
      const open = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
      if (open !== sockets.length) throw new Error(`${sockets.length - open} sockets were closed by the server`);
      result({ kind: 'connections', total, added: adding, usersConnected: Math.min(total, users.length), ...perConnection, processRssBytes: after.rss, processHeapUsedBytes: after.heapUsed });
      // Presence is per user, not per socket: a user's second socket should cost Redis (almost) nothing.
      const cameOnline = Math.min(total, users.length) - Math.min(total - adding, users.length);
      rows.push([`Redis per open WebSocket (${total - adding} → ${total}; ${cameOnline} users came online)`, `${Math.round(perConnection.redisBytes)} B`, `${perConnection.redisKeys.toFixed(3)} keys`]);
      rows.push([`Node RSS per open WebSocket (${total - adding} → ${total})`, kib(perConnection.rssBytes), `RSS ${mib(after.rss)}`]);
      rows.push([`Node heap used per open WebSocket (${total - adding} → ${total})`, kib(perConnection.heapBytes), `heap ${mib(after.heapUsed)}`]);
      before = after;
    }

    process.stderr.write(
      [
        '',
        `Machine: ${machine.nproc} cores (${machine.cpuModel}), Node ${machine.node}, Redis ${machine.redis}, commit ${machine.commit}`,
        `Idle Parley process before any load: RSS ${mib(empty.rss)}, heap used ${mib(empty.heapUsed)}; Redis used_memory ${mib(empty.redisBytes)}`,
        `Event retention: Parley's defaults (EVENT_RETENTION_SECONDS 86400, EVENT_RETENTION_MAX_EVENTS 10000 per conversation); ${Math.ceil(options.messages / targets.length)} events per conversation, none trimmed`,
        '',
        '| What | Cost | Notes |',
        '|---|---|---|',
        ...rows.map((row) => `| ${row.join(' | ')} |`),
        '',
      ].join('\n'),
    );
  } finally {
    for (const socket of sockets) socket.terminate();
    client?.disconnect();
    await node?.stop();
    await redisServer?.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`sizing failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
