/**
 * A subscription to one plain channel (SUBSCRIBE, which Cluster broadcasts over its bus) on a
 * connection of its own: a connection in subscribe mode can do nothing else. Shared by the
 * deployment-wide buses (revocations, webhook wake-ups).
 */
import { CLUSTER_RESEND_DELAY_MS } from './redis-connection.js';
import { isCluster, type RedisClient } from './redis-context.js';

export interface ChannelSubscription {
  /** The subscriber connection, for callers that watch its state (see redis-revocations.ts). */
  readonly connection: RedisClient;
  /** True once close() was called. */
  readonly closed: boolean;
  /** Unsubscribes and quits the connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Duplicates `client` (same servers and options, without auto-pipelining, which must not batch
 * SUBSCRIBE like a data command; with resending on: a SUBSCRIBE lost with its connection is sent
 * again, which is harmless; named `connectionName` so CLIENT LIST shows what it is for; with
 * the client's error listeners), calls `onMessage` with each message of `channel` until closed,
 * lets `prepare` attach more handlers before subscribing, and resolves once subscribed. A failed
 * SUBSCRIBE closes the connection and rejects.
 */
export async function subscribeChannel(
  client: RedisClient,
  channel: string,
  connectionName: string,
  onMessage: (text: string) => void,
  prepare: (subscription: ChannelSubscription) => void = () => undefined,
): Promise<ChannelSubscription> {
  const connection: RedisClient = isCluster(client)
    ? client.duplicate([], {
        enableAutoPipelining: false,
        retryDelayOnFailover: CLUSTER_RESEND_DELAY_MS,
        redisOptions: { ...client.options.redisOptions, connectionName, autoResendUnfulfilledCommands: true },
      })
    : client.duplicate({ enableAutoPipelining: false, connectionName, autoResendUnfulfilledCommands: true });
  for (const listener of client.listeners('error')) connection.on('error', listener as (error: Error) => void);
  let closed = false;
  const subscription: ChannelSubscription = {
    connection,
    get closed() {
      return closed;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await connection.quit();
      } catch {
        connection.disconnect();
      }
    },
  };
  connection.on('message', (from: string, text: string) => {
    if (!closed && from === channel) onMessage(text);
  });
  prepare(subscription);
  try {
    await connection.subscribe(channel);
  } catch (error) {
    await subscription.close();
    throw error;
  }
  return subscription;
}
