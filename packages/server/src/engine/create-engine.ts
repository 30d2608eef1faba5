/**
 * Chooses the engine from configuration: the embedded memory engine when no Redis is configured
 * (single node, data lost on restart: main.ts says so loudly), the Redis engine otherwise.
 * Cluster wins over Sentinel, Sentinel over a plain URL (whose credentials they then reuse).
 */
import type { Engine, EventRetention } from './engine.js';
import { createMemoryEngine } from './memory/memory-engine.js';
import { createRedisClient } from './redis/redis-connection.js';
import { createRedisEngine } from './redis/redis-engine.js';

export interface CreateEngineOptions {
  redisUrl?: string;
  redisClusterNodes?: string[];
  redisSentinels?: { host: string; port: number }[];
  redisSentinelName?: string;
  /** Prefix of every Redis key (ignored by the memory engine). */
  keyPrefix: string;
  /** Retention of event logs and inboxes, for either engine (default DEFAULT_EVENT_RETENTION). */
  retention?: EventRetention;
  /** Redis connection errors, e.g. to log them (the client reconnects by itself). */
  onRedisError?: (error: Error) => void;
}

export function createEngine(options: CreateEngineOptions): Engine {
  const hasCluster = (options.redisClusterNodes?.length ?? 0) > 0;
  const hasSentinels = (options.redisSentinels?.length ?? 0) > 0;
  if (!options.redisUrl && !hasCluster && !hasSentinels) return createMemoryEngine(options.retention ? { retention: options.retention } : {});
  const redis = createRedisClient({
    ...(options.redisUrl ? { url: options.redisUrl } : {}),
    ...(hasCluster ? { clusterNodes: options.redisClusterNodes } : {}),
    ...(hasSentinels ? { sentinels: options.redisSentinels, sentinelName: options.redisSentinelName } : {}),
    ...(options.onRedisError ? { onError: options.onRedisError } : {}),
  });
  return createRedisEngine({
    redis,
    keyPrefix: options.keyPrefix,
    ...(options.retention ? { retention: options.retention } : {}),
    // Background work retries by itself; its failures are reported like connection errors.
    ...(options.onRedisError ? { onBackgroundError: (error) => options.onRedisError?.(error instanceof Error ? error : new Error(String(error))) } : {}),
  });
}
