/**
 * The embedded engine: all state in this process's memory, nothing to install, lost on exit.
 * It is the single-node default and the reference the Redis engine is tested against (both run
 * engine.contract.ts).
 *
 * Atomicity: JavaScript runs one call at a time, and every store method does its reads and
 * writes synchronously (no await in between), so no call observes another's partial result.
 * Realtime stays inside the process too: topics are an in-process bus (memory-pubsub.ts) and
 * presence has only the nodes that heartbeat to this engine.
 */
import { DEFAULT_EVENT_RETENTION, type Engine, type EventRetention, type StorageConnectionState } from '../engine.js';
import { EngineError } from '../errors.js';
import { ConversationTables } from './conversation-records.js';
import { requireRetention } from './event-log.js';
import { MemoryConversationStore } from './memory-conversations.js';
import { ConversationEvents, MemoryEventStore } from './memory-events.js';
import { MemoryRefreshTokenStore, MemorySigningKeyStore, MemoryTenantStore } from './memory-identity.js';
import { MemoryIdentityProviderStore } from './memory-identity-providers.js';
import { MemoryMessageStore } from './memory-messages.js';
import { MemoryModerationStore } from './memory-moderation.js';
import { MemoryPresenceStore } from './memory-presence.js';
import { MemoryRateLimitStore } from './memory-rate-limits.js';
import { MemoryBus } from './memory-pubsub.js';
import { MemoryRevocationBus } from './memory-revocations.js';
import { MemoryUserStore } from './memory-users.js';
import { MemoryWebhookStore } from './memory-webhooks.js';

export interface MemoryEngineOptions {
  /** Bounds of every conversation log and inbox; DEFAULT_EVENT_RETENTION when absent. */
  retention?: EventRetention;
}

export class MemoryEngine implements Engine {
  readonly kind = 'memory' as const;
  readonly tenants = new MemoryTenantStore();
  readonly users = new MemoryUserStore();
  readonly conversations: MemoryConversationStore;
  readonly messages: MemoryMessageStore;
  readonly moderation: MemoryModerationStore;
  readonly refreshTokens = new MemoryRefreshTokenStore();
  readonly signingKeys = new MemorySigningKeyStore();
  readonly identityProviders = new MemoryIdentityProviderStore();
  readonly events: MemoryEventStore;
  readonly pubsub: MemoryBus;
  readonly presence = new MemoryPresenceStore();
  readonly rateLimits = new MemoryRateLimitStore();
  readonly revocations = new MemoryRevocationBus();
  readonly webhooks = new MemoryWebhookStore();
  private closed = false;

  constructor(options: MemoryEngineOptions = {}) {
    const retention = { ...(options.retention ?? DEFAULT_EVENT_RETENTION) };
    requireRetention(retention);
    // Conversations and messages share one set of records: an append updates the conversation,
    // its messages, the sender's read position and the conversation's event log in one step.
    const tables = new ConversationTables();
    this.pubsub = new MemoryBus();
    const events = new ConversationEvents(retention, this.pubsub, this.webhooks);
    this.conversations = new MemoryConversationStore(tables, events);
    this.messages = new MemoryMessageStore(tables, events, this.users, this.rateLimits);
    this.moderation = new MemoryModerationStore(tables, events);
    this.events = new MemoryEventStore(tables, events, this.pubsub);
  }

  connectionStates(): StorageConnectionState[] {
    return [];
  }

  async ping(): Promise<void> {
    if (this.closed) throw new EngineError('storage_unavailable', 'the memory engine is closed');
  }

  /** Also ends every subscriber's deliveries. */
  async close(): Promise<void> {
    this.closed = true;
    this.pubsub.close();
    this.revocations.close();
    this.webhooks.close();
  }
}

export function createMemoryEngine(options: MemoryEngineOptions = {}): Engine {
  return new MemoryEngine(options);
}
