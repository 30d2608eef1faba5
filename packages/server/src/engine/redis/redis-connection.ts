/**
 * Opens the ioredis client for a deployment: standalone (redis:// or rediss:// URL), Cluster (a
 * seed node list) or Sentinel (sentinel addresses and the master's name).
 *
 * Failure behaviour, on purpose: while Redis is unreachable the client keeps reconnecting in the
 * background (backoff capped at 2 s), but a queued command fails at the latest when every second
 * failed reconnection attempt flushes the queue (maxRetriesPerRequest 1) or after the command
 * timeout, and a store operation fails after the command timeout in all (redis-guard.ts), so
 * callers (and /health/ready) answer 503 within 3 s instead of hanging. A Redis
 * that accepts connections but stops answering (stalled process, partition without a reset) is
 * caught by two timeouts: every command fails after 3 s without a reply, and a connection that
 * receives nothing for 3 s while commands are pending is dropped and reopened. (The TCP connect
 * to a stalled server succeeds, so reconnection attempts alone would never fail a command.)
 * 3 s is far above any Parley script's running time; a command that times out may still have
 * been applied, as with any timeout. A command in flight when its connection drops is never sent
 * again after the reconnection (autoResendUnfulfilledCommands off): it fails at the command
 * timeout, and may have been applied, so nothing runs twice.
 * Auto-pipelining batches the commands issued in one tick into one round trip (per node).
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisClient } from './redis-context.js';

export interface RedisConnectionConfig {
  /** redis://[user:password@]host:port[/db] or rediss:// for TLS. With Cluster or Sentinel, only its credentials and TLS are used. */
  url?: string;
  /** Cluster seed nodes, `host:port` or `redis[s]://[user:password@]host:port`. */
  clusterNodes?: string[];
  sentinels?: { host: string; port: number }[];
  /** The master name the sentinels watch (default `mymaster`). */
  sentinelName?: string;
  /**
   * Connection errors (the client reconnects by itself). Without a listener ioredis prints each
   * one to the console; pass the logger's.
   */
  onError?: (error: Error) => void;
}

/** Exponential backoff from 50 ms, capped at 2 s: quick to recover, gentle on a struggling server. */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 10), 2000);
}

/**
 * How long a command may go without a reply, and (redis-guard.ts) how long a store operation may
 * take in all, before it fails with storage_unavailable.
 */
export const COMMAND_TIMEOUT_MS = 3000;

const COMMON_OPTIONS = {
  enableAutoPipelining: true,
  // At most once: a command whose connection was lost before its reply may have run; ioredis's
  // default sends it again after reconnecting, so a script that ran would run twice (a send
  // without clientMessageId stored, then refused as a taken id; a tenant created, then reported
  // as existing). Without the resend it fails after the command timeout instead, like any
  // timeout: storage_unavailable, the caller retries with its idempotency key. Subscriber
  // connections turn the resend back on (SUBSCRIBE is idempotent).
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 5000,
  socketTimeout: COMMAND_TIMEOUT_MS,
  commandTimeout: COMMAND_TIMEOUT_MS,
  connectionName: 'parley',
} satisfies RedisOptions;

interface Credentials {
  username?: string;
  password?: string;
  tls?: Record<string, never>;
}

function credentialsFrom(url: string | undefined): Credentials {
  if (!url) return {};
  const parsed = new URL(url);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

function clusterNode(entry: string): { host: string; port: number; credentials: Credentials } {
  const url = /^rediss?:\/\//.test(entry) ? entry : `redis://${entry}`;
  const parsed = new URL(url);
  const port = Number(parsed.port || '6379');
  if (!parsed.hostname || !Number.isInteger(port)) throw new Error(`not a Redis cluster node address: ${entry}`);
  // URL keeps IPv6 literals bracketed; ioredis wants them bare.
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port, credentials: credentialsFrom(url) };
}

/**
 * Makes quit() also close the failover detector's sentinel subscriptions: in ioredis 6.0.0 only
 * disconnect() does (redis/ioredis#1362), so each Sentinel client closed with quit() would leave
 * one socket per sentinel open. Its duplicates (pub/sub subscribers) get the same treatment.
 */
function releaseSentinelSubscriptionsOnEnd(client: Redis): Redis {
  // 'end': closed for good (retryStrategy never gives up, so only after quit or disconnect).
  client.once('end', () => client.disconnect());
  const duplicate = client.duplicate.bind(client);
  client.duplicate = ((override?: Partial<RedisOptions>) => releaseSentinelSubscriptionsOnEnd(duplicate(override))) as typeof client.duplicate;
  return client;
}

export function createRedisClient(config: RedisConnectionConfig): RedisClient {
  const client = openClient(config);
  if (config.onError) client.on('error', config.onError);
  return client;
}

function openClient(config: RedisConnectionConfig): RedisClient {
  if (config.clusterNodes && config.clusterNodes.length > 0) {
    const nodes = config.clusterNodes.map(clusterNode);
    // Nodes of one cluster share credentials and TLS: whichever entry states them applies to all.
    const credentials: Credentials = Object.assign({}, ...nodes.map((node) => node.credentials), credentialsFrom(config.url));
    const options: ClusterOptions = {
      enableAutoPipelining: true,
      clusterRetryStrategy: reconnectDelay,
      scaleReads: 'master', // read-your-writes: replicas acknowledge asynchronously
      redisOptions: { ...COMMON_OPTIONS, ...credentials },
    };
    return new Cluster(
      nodes.map(({ host, port }) => ({ host, port })),
      options,
    );
  }
  if (config.sentinels && config.sentinels.length > 0) {
    const credentials = credentialsFrom(config.url);
    const client = new Redis({
      ...COMMON_OPTIONS,
      ...credentials,
      sentinels: config.sentinels,
      name: config.sentinelName ?? 'mymaster',
      // Sentinels usually share the data nodes' password and TLS setting.
      ...(credentials.password ? { sentinelPassword: credentials.password } : {}),
      ...(credentials.tls ? { sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
      retryStrategy: reconnectDelay,
      // Reconnect as soon as a sentinel announces +switch-master. Otherwise, on a failover that
      // leaves the old primary running (SENTINEL FAILOVER, a partition that heals), the client
      // stays on it until Sentinel demotes it, ~10 s later, and every write it acknowledged
      // meanwhile is discarded then, its seqs handed out again by the new primary.
      failoverDetector: true,
    });
    return releaseSentinelSubscriptionsOnEnd(client);
  }
  if (config.url) {
    return new Redis(config.url, { ...COMMON_OPTIONS, retryStrategy: reconnectDelay });
  }
  throw new Error('createRedisClient needs a url, clusterNodes or sentinels');
}
