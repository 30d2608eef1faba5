/**
 * What every Redis store is built from. The stores share one client, one script registry and one
 * key naming; none of them owns the connection (RedisEngine does).
 */
import type { Cluster, Redis, RedisCommander } from 'ioredis';
import type { EventRetention } from '../engine.js';
import type { RedisKeys } from './redis-keys.js';
import type { Scripts } from './scripts.js';

/** A standalone/Sentinel client or a Cluster client: the engine works the same on each. */
export type RedisClient = Redis | Cluster;

export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster;
}

/**
 * How events are logged and published. On Cluster a topic is a sharded channel (SPUBLISH), heard
 * only on the node that owns its slot; elsewhere a plain channel (PUBLISH).
 */
export interface EventLogSettings {
  readonly publish: 'PUBLISH' | 'SPUBLISH';
  readonly retention: EventRetention;
}

export interface RedisContext {
  /** Plain commands, typed once for both client kinds. */
  readonly redis: RedisCommander;
  readonly scripts: Scripts;
  readonly keys: RedisKeys;
  readonly log: EventLogSettings;
}

/** ARGV[1..3] of every script that logs events: publish command, max events, max age (ms). */
export function logArgs(context: RedisContext): [string, number, number] {
  const { publish, retention } = context.log;
  return [publish, retention.maxEvents, retention.maxAgeMs];
}
