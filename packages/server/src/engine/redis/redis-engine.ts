/**
 * The production engine: Redis standalone, Sentinel or Cluster, with every multi-key atomic step
 * a Lua script (lua/) on one Cluster slot. Key names: redis-keys.ts. Scripts: scripts.ts.
 *
 * Ownership: createRedisEngine takes the client it is given; close() quits it. Callers that need
 * Redis for something else (pub/sub, health) open their own client.
 *
 * Durability is Redis's: a call resolves after Redis applied it in memory. For no loss of
 * acknowledged writes run Redis with AOF `appendfsync always`; `everysec` may lose about the last
 * second on a Redis crash; replicas add failover but acknowledge asynchronously.
 */
import type { Engine } from '../engine.js';
import { guard } from './redis-guard.js';
import type { RedisClient, RedisContext } from './redis-context.js';
import { RedisConversationStore } from './redis-conversations.js';
import { RedisKeys } from './redis-keys.js';
import { RedisMessageStore } from './redis-messages.js';
import { RedisRefreshTokenStore } from './redis-refresh-tokens.js';
import { RedisSigningKeyStore } from './redis-signing-keys.js';
import { RedisTenantStore } from './redis-tenants.js';
import { UserConversationIndex } from './redis-user-index.js';
import { RedisUserStore } from './redis-users.js';
import { Scripts } from './scripts.js';

export interface RedisEngineOptions {
  /** The engine takes ownership: close() quits it. */
  redis: RedisClient;
  /** Prepended to every key; default `parley:`. Lets several deployments (or tests) share a Redis. */
  keyPrefix?: string;
}

export class RedisEngine implements Engine {
  readonly kind = 'redis' as const;
  readonly keys: RedisKeys;
  readonly tenants: RedisTenantStore;
  readonly users: RedisUserStore;
  readonly conversations: RedisConversationStore;
  readonly messages: RedisMessageStore;
  readonly refreshTokens: RedisRefreshTokenStore;
  readonly signingKeys: RedisSigningKeyStore;
  private readonly client: RedisClient;

  constructor(options: RedisEngineOptions) {
    this.client = options.redis;
    this.keys = new RedisKeys(options.keyPrefix ?? 'parley:');
    const context: RedisContext = {
      // Redis and Cluster share every plain command; one type serves both.
      redis: options.redis,
      scripts: new Scripts(options.redis),
      keys: this.keys,
    };
    const index = new UserConversationIndex(context);
    this.tenants = new RedisTenantStore(context);
    this.users = new RedisUserStore(context);
    this.conversations = new RedisConversationStore(context, index);
    this.messages = new RedisMessageStore(context, index);
    this.refreshTokens = new RedisRefreshTokenStore(context);
    this.signingKeys = new RedisSigningKeyStore(context);
  }

  ping(): Promise<void> {
    return guard(async () => {
      await this.client.ping();
    });
  }

  async close(): Promise<void> {
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
