/**
 * The embedded engine: all state in this process's memory, nothing to install, lost on exit.
 * It is the single-node default and the reference the Redis engine is tested against (both run
 * engine.contract.ts).
 *
 * Atomicity: JavaScript runs one call at a time, and every store method does its reads and
 * writes synchronously (no await in between), so no call observes another's partial result.
 */
import type { Engine } from '../engine.js';
import { EngineError } from '../errors.js';
import { ConversationTables } from './conversation-records.js';
import { MemoryConversationStore } from './memory-conversations.js';
import { MemoryRefreshTokenStore, MemorySigningKeyStore, MemoryTenantStore } from './memory-identity.js';
import { MemoryMessageStore } from './memory-messages.js';
import { MemoryUserStore } from './memory-users.js';

export class MemoryEngine implements Engine {
  readonly kind = 'memory' as const;
  readonly tenants = new MemoryTenantStore();
  readonly users = new MemoryUserStore();
  readonly conversations: MemoryConversationStore;
  readonly messages: MemoryMessageStore;
  readonly refreshTokens = new MemoryRefreshTokenStore();
  readonly signingKeys = new MemorySigningKeyStore();
  private closed = false;

  constructor() {
    // Conversations and messages share one set of records: an append updates the conversation,
    // its messages and the sender's read position in one step.
    const tables = new ConversationTables();
    this.conversations = new MemoryConversationStore(tables);
    this.messages = new MemoryMessageStore(tables);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new EngineError('storage_unavailable', 'the memory engine is closed');
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export function createMemoryEngine(): Engine {
  return new MemoryEngine();
}
