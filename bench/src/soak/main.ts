/**
 * Parley's soak script: `npm run soak [-- options]` (bench/README.md, *Soak*). Two Parley nodes on
 * a private Redis under a steady mixed load (load.ts) for `--minutes`; every few seconds one JSON
 * line of each node's RSS, heap, event-loop lag, realtime connections and file descriptors, Redis's
 * memory and the running correctness counters; at the end the growth per hour after the warm-up,
 * the correctness check (every acknowledged message received once by each member, in order, none
 * missing after resumes) in one summary line, and optionally an SVG chart. Exits 2 when a
 * guarantee was broken, 1 when the script itself failed.
 */
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { sleep } from '../clock.js';
import { mapLimit } from '../concurrency.js';
import { machineInfo } from '../machine.js';
import { createGroups, createTenantWithUsers, createWebhook, newAdminKey, openDirectPairs } from '../parley-api.js';
import { startParleyNodes, type ParleyNode } from '../parley-server.js';
import { startRedis, type BenchRedis } from '../redis-server.js';
import { progress, result } from '../report.js';
import { soakChart } from './chart.js';
import { SoakClient, type ClientCounters } from './clients.js';
import { linearGrowth } from './growth.js';
import { SoakLoad, type SoakConversation } from './load.js';
import { parseSoakOptions, SOAK_USAGE, type SoakOptions } from './options.js';
import { readNode, redisUsedMemory, type NodeReading } from './resources.js';
import { startWebhookReceiver, type SoakWebhookReceiver } from './webhook-receiver.js';

const NODE_NAMES = ['parley-a', 'parley-b'] as const;

interface Sample {
  atMs: number;
  nodes: Record<string, NodeReading>;
  redisUsedMemoryBytes: number;
}

/** What must hold after the drain; every field but the informative ones must be 0 for `ok`. */
interface Correctness {
  expectedDeliveries: number;
  delivered: number;
  missing: number;
  /** Messages received that no acknowledged send accounts for. */
  unacknowledgedReceived: number;
  webhooksMissing: number;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const options = parseSoakOptions(argv);
  if (options === null) {
    process.stdout.write(`${SOAK_USAGE}\n`);
    return 0;
  }
  result({
    kind: 'soak-start', ...machineInfo(argv, 'soak'), smoke: options.smoke, minutes: options.durationMs / 60_000, warmupMinutes: options.warmupMs / 60_000,
    users: options.users, groupSize: options.groupSize, rate: options.rate, sampleSeconds: options.sampleEveryMs / 1000,
  });
  const stoppers: (() => Promise<void>)[] = [];
  try {
    return await soak(options, stoppers);
  } finally {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
  }
}

async function soak(options: SoakOptions, stoppers: (() => Promise<void>)[]): Promise<number> {
  const redis: BenchRedis = await startRedis();
  stoppers.push(() => redis.stop());
  const receiver: SoakWebhookReceiver = await startWebhookReceiver();
  stoppers.push(() => receiver.stop());
  const adminKey = newAdminKey();
  // OUTBOUND_ALLOWED_HOSTS lets Parley call the receiver on 127.0.0.1; the rest of its outbound policy stays on.
  const nodes: ParleyNode[] = await startParleyNodes(NODE_NAMES, { redisUrl: redis.url, adminKey, logLevel: options.logLevel, env: { OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' } });
  stoppers.push(() => Promise.all(nodes.map((node) => node.stop())).then(() => undefined));
  const urls = nodes.map((node) => node.url);
  const inspector = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  stoppers.push(async () => inspector.disconnect());

  progress(`setup: ${options.users} users, direct pairs and groups of ${options.groupSize}, a webhook`);
  const tokenSeconds = Math.min(86_400, Math.ceil(options.durationMs / 1000) + 3600);
  const tenant = await createTenantWithUsers(urls, adminKey, options.users, tokenSeconds);
  const indexOf = (userId: string) => Number(userId.slice(1));
  const conversationsOf: SoakConversation[][] = tenant.users.map(() => []);
  const pairs = await openDirectPairs(urls[0]!, tenant.users);
  const groups = await createGroups(urls[1]!, tenant.users, options.groupSize);
  for (const { id, members } of [...pairs, ...groups]) {
    const conversation = { id, members: members.map((member) => indexOf(member.id)) };
    for (const member of conversation.members) conversationsOf[member]!.push(conversation);
  }
  await createWebhook(urls[0]!, tenant.apiKey, `${receiver.url}/soak`, ['message.created']);
  const urlOf = (user: number) => urls[user % urls.length]!;

  const clientCounters: ClientCounters = {
    connects: 0, resumes: 0, connectFailures: 0, resyncs: 0, serverCloses: {}, messageFrames: 0, duplicates: 0, gapsAfterResume: 0, outOfOrder: 0, foreign: 0,
    typingReceived: 0, errorFrames: 0,
  };
  let load: SoakLoad | null = null;
  const wsUrls = urls.map((url) => `${url.replace(/^http/, 'ws')}/v1/realtime`);
  const clients = tenant.users.map(
    (user, index) =>
      new SoakClient(
        { userId: user.id, token: user.token, wsUrls, firstNode: index % wsUrls.length, conversationIds: conversationsOf[index]!.map(({ id }) => id) },
        clientCounters,
        (client, conversationId, seq) => load?.onMessage(client, conversationId, seq),
      ),
  );
  stoppers.push(() => Promise.all(clients.map((client) => client.close())).then(() => undefined));
  await mapLimit(clients, 20, (client) => client.connect());
  progress(`${clients.length} clients connected; load for ${options.durationMs / 60_000} min at ${options.rate} msgs/s`);

  load = new SoakLoad(tenant.users, conversationsOf, clients, urlOf, {
    rate: options.rate, maxInFlight: options.maxInFlight, resumeEveryMs: options.resumeEveryMs, resumeBatch: options.resumeBatch, awayMs: options.awayMs,
  });
  const samples: Sample[] = [];
  const startedAt = performance.now();
  load.start();
  const running = load;
  const takeSample = async () => {
    const atMs = performance.now() - startedAt;
    const readings = await Promise.all(nodes.map((node) => readNode(node.url, node.pid)));
    const sample: Sample = {
      atMs,
      nodes: Object.fromEntries(NODE_NAMES.map((name, index) => [name, readings[index]!])),
      redisUsedMemoryBytes: await redisUsedMemory(inspector),
    };
    samples.push(sample);
    const { sent, acknowledged, skippedSends, drops } = running.counters;
    const { messageFrames, duplicates, gapsAfterResume, outOfOrder, resyncs, resumes } = clientCounters;
    result({
      kind: 'sample', atS: atMs / 1000, nodes: sample.nodes, redisUsedMemoryBytes: sample.redisUsedMemoryBytes,
      clientsOpen: clients.filter((client) => client.open).length,
      counters: { sent, acknowledged, skippedSends, messageFrames, duplicates, gapsAfterResume, outOfOrder, resyncs, drops, resumes, webhooksDelivered: receiver.counts().delivered },
    });
  };
  // Samples on a fixed schedule from the load's start; one missed (a node too busy to answer) is reported, not fatal.
  let sampleFailures = 0;
  for (let next = 0; next <= options.durationMs; next += options.sampleEveryMs) {
    const wait = next - (performance.now() - startedAt);
    if (wait > 0) await sleep(wait);
    await takeSample().catch((error: unknown) => {
      sampleFailures += 1;
      progress(`sample failed: ${error instanceof Error ? error.message : String(error)}`);
    });
    if (samples.length % 12 === 0) progress(`${((performance.now() - startedAt) / 60_000).toFixed(1)} min: ${running.counters.acknowledged} messages acknowledged`);
  }
  await load.stop();
  load = null;

  progress('load stopped; waiting for every acknowledged message to reach its members and the webhook');
  // A client whose resume failed gets one more chance: the check is about the server, not the harness's luck.
  await mapLimit(clients.filter((client) => !client.open), 10, (client) => client.connect().catch(() => undefined));
  const correctness = () => check(running, conversationsOf, clients, receiver);
  const drainUntil = performance.now() + options.drainMs;
  let verdict = correctness();
  while (performance.now() < drainUntil && (verdict.missing > 0 || verdict.webhooksMissing > 0)) {
    await sleep(250);
    verdict = correctness();
  }

  const growth = Object.fromEntries(
    NODE_NAMES.map((name) => {
      const series = (pick: (reading: NodeReading) => number) => samples.map((sample) => ({ atMs: sample.atMs, value: pick(sample.nodes[name]!) }));
      const rss = linearGrowth(series((reading) => reading.rssBytes), options.warmupMs);
      const heap = linearGrowth(series((reading) => reading.heapUsedBytes), options.warmupMs);
      const max = (pick: (reading: NodeReading) => number) => Math.max(...samples.map((sample) => pick(sample.nodes[name]!)).filter(Number.isFinite));
      return [name, {
        rssGrowthPctPerHour: rss.pctPerHour, heapGrowthPctPerHour: heap.pctPerHour,
        rssBytesAfterWarmup: rss.fittedStart, rssBytesAtEnd: rss.fittedEnd, heapBytesAfterWarmup: heap.fittedStart, heapBytesAtEnd: heap.fittedEnd,
        maxEventLoopLagP99Ms: max((reading) => reading.eventLoopLagP99Ms), maxOpenFds: max((reading) => reading.openFds),
        maxRealtimeConnections: max((reading) => reading.realtimeConnections),
      }];
    }),
  );
  const redisGrowth = linearGrowth(samples.map((sample) => ({ atMs: sample.atMs, value: sample.redisUsedMemoryBytes })), options.warmupMs);
  const { sent, acknowledged, failedSends, skippedSends, typingSent, readsPosted, readsFailed, readsSkipped, drops, resumeFailures } = running.counters;
  const failed = Object.values(failedSends).reduce((sum, count) => sum + count, 0);
  const webhooks = receiver.counts();
  const ok =
    verdict.missing === 0 && verdict.unacknowledgedReceived === 0 && verdict.webhooksMissing === 0 && failed === 0 && resumeFailures === 0 &&
    clientCounters.duplicates === 0 && clientCounters.gapsAfterResume === 0 && clientCounters.outOfOrder === 0 && clientCounters.foreign === 0 && clientCounters.resyncs === 0;
  const fitted = samples.filter((sample) => sample.atMs >= options.warmupMs).length;
  result({
    kind: 'summary', ok, minutes: options.durationMs / 60_000, warmupMinutes: options.warmupMs / 60_000, users: options.users, rate: options.rate,
    samples: samples.length, samplesFitted: fitted, sampleFailures,
    maxRssGrowthPctPerHour: Math.max(...NODE_NAMES.map((name) => growth[name]!.rssGrowthPctPerHour)),
    maxHeapGrowthPctPerHour: Math.max(...NODE_NAMES.map((name) => growth[name]!.heapGrowthPctPerHour)),
    nodes: growth,
    redis: { usedMemoryGrowthPctPerHour: redisGrowth.pctPerHour, usedMemoryBytesAfterWarmup: redisGrowth.fittedStart, usedMemoryBytesAtEnd: redisGrowth.fittedEnd },
    correctness: {
      sent, acknowledged, failedSends, skippedSends, ...verdict,
      duplicates: clientCounters.duplicates, gapsAfterResume: clientCounters.gapsAfterResume, outOfOrder: clientCounters.outOfOrder, foreign: clientCounters.foreign,
      resyncs: clientCounters.resyncs, drops, resumes: clientCounters.resumes, resumeFailures, connectFailures: clientCounters.connectFailures,
      serverCloses: clientCounters.serverCloses, messageFrames: clientCounters.messageFrames, typingSent, typingReceived: clientCounters.typingReceived,
      errorFrames: clientCounters.errorFrames, readsPosted, readsFailed, readsSkipped, webhooksDelivered: webhooks.delivered, webhookRepeats: webhooks.repeats,
    },
  });
  if (options.chart !== null) {
    const title = `Soak: ${options.users} users, ${options.rate} msgs/s, ${options.durationMs / 60_000} min`;
    writeFileSync(options.chart, soakChart(samples, title, options.warmupMs));
    progress(`chart written to ${options.chart}`);
  }
  if (!ok) progress('a delivery guarantee was broken: see the summary line\'s correctness');
  return ok ? 0 : 2;
}

/** Compares what every member received and what the webhook got with the acknowledged sends. */
function check(load: SoakLoad, conversationsOf: readonly SoakConversation[][], clients: readonly SoakClient[], receiver: SoakWebhookReceiver): Correctness {
  let expectedDeliveries = 0;
  let delivered = 0;
  let unacknowledgedReceived = 0;
  clients.forEach((client, user) => {
    for (const { id } of conversationsOf[user]!) {
      const acknowledged = load.acknowledged.get(id)!;
      const received = client.received(id);
      expectedDeliveries += acknowledged.size;
      for (const seq of received) {
        if (acknowledged.has(seq)) delivered += 1;
        else unacknowledgedReceived += 1;
      }
    }
  });
  let webhooksMissing = 0;
  for (const messages of load.acknowledged.values()) for (const messageId of messages.values()) if (!receiver.has(messageId)) webhooksMissing += 1;
  return { expectedDeliveries, delivered, missing: expectedDeliveries - delivered, unacknowledgedReceived, webhooksMissing };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
