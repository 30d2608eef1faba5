/**
 * What every Redis store is built from. The stores share one client, one script registry and one
 * key naming; none of them owns the connection (RedisEngine does).
 */
import type { Cluster, Redis, RedisCommander } from 'ioredis';
import type { RedisKeys } from './redis-keys.js';
import type { Scripts } from './scripts.js';

/** A standalone/Sentinel client or a Cluster client: the engine works the same on each. */
export type RedisClient = Redis | Cluster;

export interface RedisContext {
  /** Plain commands, typed once for both client kinds. */
  readonly redis: RedisCommander;
  readonly scripts: Scripts;
  readonly keys: RedisKeys;
}
