/**
 * The production engine: Redis standalone, Sentinel or Cluster, with every multi-key atomic step
 * a Lua script (lua/) on one Cluster slot. Key names: redis-keys.ts. Scripts: scripts.ts.
 *
 * Ownership: createRedisEngine takes the client it is given; close() quits it, and the
 * connections of the subscribers it made (pubsub.createSubscriber duplicates the client).
 *
 * Needs Redis 7.0 or later: event logs use XADD with `<ms>-*` ids and XSETID MAXDELETEDID, and
 * topics on Cluster use sharded pub/sub (SPUBLISH, SSUBSCRIBE).
 *
 * Durability is Redis's: a call resolves after Redis applied it in memory. For no loss of
 * acknowledged writes run Redis with AOF `appendfsync always`; `everysec` may lose about the last
 * second on a Redis crash; replicas add failover but acknowledge asynchronously.
 */
import { DEFAULT_EVENT_RETENTION, type Engine, type EventRetention, type StorageConnectionState } from '../engine.js';
import { guard, invalid } from './redis-guard.js';
import type { RedisClient, RedisContext } from './redis-context.js';
import { RedisConversationStore } from './redis-conversations.js';
import { RedisEventStore } from './redis-events.js';
import { RedisIdentityProviderStore } from './redis-identity-providers.js';
import { RedisKeys } from './redis-keys.js';
import { RedisMessageStore } from './redis-messages.js';
import { RedisModerationStore } from './redis-moderation.js';
import { RedisPresenceStore } from './redis-presence.js';
import { RedisPubSub } from './redis-pubsub.js';
import { RedisRevocationBus } from './redis-revocations.js';
import { RedisRateLimitStore } from './redis-rate-limits.js';
import { RedisRefreshTokenStore } from './redis-refresh-tokens.js';
import { RedisSigningKeyStore } from './redis-signing-keys.js';
import { RedisTenantStore } from './redis-tenants.js';
import { UserConversationIndex } from './redis-user-index.js';
import { RedisUserStore } from './redis-users.js';
import { RedisWebhookStore } from './redis-webhooks.js';
import { Scripts } from './scripts.js';

export interface RedisEngineOptions {
  /** The engine takes ownership: close() quits it. */
  redis: RedisClient;
  /** Prepended to every key; default `parley:`. Lets several deployments (or tests) share a Redis. */
  keyPrefix?: string;
  /** Retention of event logs and inboxes; default DEFAULT_EVENT_RETENTION. */
  retention?: EventRetention;
}

function checkRetention(retention: EventRetention): EventRetention {
  if (!Number.isSafeInteger(retention.maxEvents) || retention.maxEvents < 1) throw invalid('retention.maxEvents must be an integer >= 1');
  if (!Number.isSafeInteger(retention.maxAgeMs) || retention.maxAgeMs < 0) throw invalid('retention.maxAgeMs must be an integer >= 0');
  return { maxEvents: retention.maxEvents, maxAgeMs: retention.maxAgeMs };
}

export class RedisEngine implements Engine {
  readonly kind = 'redis' as const;
  readonly keys: RedisKeys;
  readonly tenants: RedisTenantStore;
  readonly users: RedisUserStore;
  readonly conversations: RedisConversationStore;
  readonly messages: RedisMessageStore;
  readonly moderation: RedisModerationStore;
  readonly refreshTokens: RedisRefreshTokenStore;
  readonly signingKeys: RedisSigningKeyStore;
  readonly identityProviders: RedisIdentityProviderStore;
  readonly events: RedisEventStore;
  readonly pubsub: RedisPubSub;
  readonly presence: RedisPresenceStore;
  readonly rateLimits: RedisRateLimitStore;
  readonly revocations: RedisRevocationBus;
  readonly webhooks: RedisWebhookStore;
  private readonly client: RedisClient;

  constructor(options: RedisEngineOptions) {
    this.client = options.redis;
    this.keys = new RedisKeys(options.keyPrefix ?? 'parley:');
    const context: RedisContext = {
      // Redis and Cluster share every plain command; one type serves both.
      redis: options.redis,
      scripts: new Scripts(options.redis),
      keys: this.keys,
      log: {
        // Sharded pub/sub on Cluster: a topic lives on the node of its slot (see redis-pubsub.ts).
        publish: options.redis.isCluster ? 'SPUBLISH' : 'PUBLISH',
        retention: checkRetention(options.retention ?? DEFAULT_EVENT_RETENTION),
        // A conversation's script cannot reach the tenant's webhook slot on Cluster (see redis-webhooks.ts).
        queueWebhooks: !options.redis.isCluster,
      },
    };
    const index = new UserConversationIndex(context);
    this.tenants = new RedisTenantStore(context);
    this.users = new RedisUserStore(context);
    this.conversations = new RedisConversationStore(context, index);
    this.rateLimits = new RedisRateLimitStore(context);
    this.messages = new RedisMessageStore(context, index, this.rateLimits, options.redis.isCluster);
    this.moderation = new RedisModerationStore(context, index);
    this.refreshTokens = new RedisRefreshTokenStore(context);
    this.signingKeys = new RedisSigningKeyStore(context);
    this.identityProviders = new RedisIdentityProviderStore(context);
    this.events = new RedisEventStore(context);
    this.pubsub = new RedisPubSub(options.redis, this.keys);
    this.presence = new RedisPresenceStore(context);
    this.revocations = new RedisRevocationBus(options.redis, this.keys);
    this.webhooks = new RedisWebhookStore(context, options.redis);
  }

  connectionStates(): StorageConnectionState[] {
    return [{ role: 'commands', up: this.client.status === 'ready' }, ...this.pubsub.connectionStates()];
  }

  ping(): Promise<void> {
    return guard(async () => {
      await this.client.ping();
    });
  }

  /** Closes the subscribers made by this engine too: each holds a connection of its own. */
  async close(): Promise<void> {
    await Promise.all([this.pubsub.closeAll(), this.revocations.closeAll(), this.webhooks.closeAll()]);
    if (this.client.status === 'end') return;
    try {
      await this.client.quit();
    } catch {
      // Already closing or never connected: the point was to let go of the connection.
      this.client.disconnect();
    }
  }
}

export function createRedisEngine(options: RedisEngineOptions): Engine {
  return new RedisEngine(options);
}
