/**
 * Opens the ioredis client for a deployment: standalone (redis:// or rediss:// URL), Cluster (a
 * seed node list) or Sentinel (sentinel addresses and the master's name).
 *
 * Failure behaviour, on purpose: while Redis is unreachable the client keeps reconnecting in the
 * background (backoff capped at 2 s), but a command waiting in the offline queue (never sent)
 * fails at the latest when every second failed reconnection attempt flushes that queue
 * (maxRetriesPerRequest 1) or after the command timeout, and a store operation fails after the
 * command timeout in all (redis-guard.ts), so callers (and /health/ready) answer 503 within 3 s
 * instead of hanging. A Redis
 * that accepts connections but stops answering (stalled process, partition without a reset) is
 * caught by two timeouts: every command fails after 3 s without a reply, and a connection that
 * receives nothing for 3 s while commands are pending is dropped and reopened. (The TCP connect
 * to a stalled server succeeds, so reconnection attempts alone would never fail a command.)
 * 3 s is far above any Parley script's running time; a command that times out may still have
 * been applied, as with any timeout.
 *
 * At most once: a command in flight when its connection drops is never sent again, on any
 * topology. It fails at once with "Connection is closed." (it may have been applied, as with any
 * timeout), so nothing runs twice:
 * - standalone and Sentinel: autoResendUnfulfilledCommands off, and failLostCommandsOnClose
 *   rejects what was in flight when the connection closes (ioredis 6.0.0 would otherwise leave it
 *   to the command timeout);
 * - Cluster: node connections never reconnect (ioredis closes them and rejects what was in flight
 *   with "Connection is closed."), and retryDelayOnFailover 0 stops the Cluster from sending those
 *   commands again.
 * The command timeout stays the backstop that settles anything else left without a reply: raw
 * client calls outside redis-guard.ts, and quit() on shutdown, rely on it.
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
  // as existing). Without the resend it fails instead (failLostCommandsOnClose), like a
  // timeout: storage_unavailable, the caller retries with its idempotency key. Subscriber
  // connections turn the resend back on (a SUBSCRIBE sent again is harmless).
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

/**
 * A Cluster's default delay before sending again a command whose node connection closed. The
 * commands connection sets 0 (never again: at most once); subscriber connections set this back,
 * since a (S)SUBSCRIBE or (S)UNSUBSCRIBE sent twice is harmless and one failing would leave a
 * subscription wrong until the next reconnection.
 */
export const CLUSTER_RESEND_DELAY_MS = 100;

/** The message ioredis rejects commands with when their connection is closed (isStorageOutage knows it). */
export const CONNECTION_CLOSED_MESSAGE = 'Connection is closed.';

/**
 * Rejects, as soon as a ready connection closes, the commands that were in flight on it (sent,
 * no reply yet), with "Connection is closed.". With autoResendUnfulfilledCommands off, ioredis
 * 6.0.0 keeps them aside and drops them on the next ready without settling them (fixed upstream
 * by redis/ioredis#2194, on the next ready), so each would only fail at the command timeout: every
 * request in flight at a blip would wait 3 s. This reads ioredis's commandQueue, which at 'close'
 * still holds exactly those commands (new ones go to the offline queue until the next connect
 * replaces it); redis-connection.test.ts pins that behaviour. Commands never sent (the offline
 * queue) are left alone: they are sent after the reconnection, once.
 */
export function failLostCommandsOnClose(client: Redis): Redis {
  let ready = false;
  client.on('ready', () => {
    ready = true;
  });
  client.on('close', () => {
    if (!ready) return; // handshake commands of a connection that never became ready: ioredis settles them
    ready = false;
    const lost = client.commandQueue;
    while (lost.length > 0) lost.shift()?.command.reject(new Error(CONNECTION_CLOSED_MESSAGE));
  });
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
      // At most once on Cluster too. A node connection that drops is closed for good and rejects
      // its in-flight commands with "Connection is closed."; by default (100 ms) the Cluster then
      // sends them again, so a script that ran would run twice. With 0 that error fails the
      // command at once (storage_unavailable). Only this error is affected: MOVED, ASK, TRYAGAIN
      // and CLUSTERDOWN are "not executed" replies and are still followed or retried, and after
      // a failover the next command on the slot is redirected (MOVED) to the new master.
      retryDelayOnFailover: 0,
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
    return releaseSentinelSubscriptionsOnEnd(failLostCommandsOnClose(client));
  }
  if (config.url) {
    return failLostCommandsOnClose(new Redis(config.url, { ...COMMON_OPTIONS, retryStrategy: reconnectDelay }));
  }
  throw new Error('createRedisClient needs a url, clusterNodes or sentinels');
}
