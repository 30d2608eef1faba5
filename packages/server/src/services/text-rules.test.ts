/**
 * The text rules applied by the services themselves, for callers other than HTTP (whose
 * preValidation hook refuses lone surrogates before any service runs): each refusal is
 * validation_failed naming the field, and nothing is stored.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../auth/principal.js';
import type { ConversationId, TenantId, UserId } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createTestRateLimiter } from '../test-support/rate-limits.js';
import { createConversationsService, type ConversationsService } from './conversations-service.js';
import { createIdGenerator } from './ids.js';
import { createMessagesService, type MessagesService } from './messages-service.js';
import { ServiceError } from './service-error.js';
import { createUsersService, type UsersService } from './users-service.js';

const TENANT = 'default' as TenantId;
const T0 = Date.UTC(2030, 0, 1);
const alice: Principal = { kind: 'user', tenantId: TENANT, userId: 'alice' as UserId };

async function refusal(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ServiceError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('text rules in the services', () => {
  let engine: Engine;
  let users: UsersService;
  let conversations: ConversationsService;
  let messages: MessagesService;
  let group: ConversationId;

  beforeEach(async () => {
    engine = createMemoryEngine();
    const clock = () => T0;
    const ids = createIdGenerator();
    const rateLimiter = createTestRateLimiter({ store: engine.rateLimits, clock });
    users = createUsersService({ engine, clock, rateLimiter });
    conversations = createConversationsService({ engine, clock, ids, maxGroupMembers: 100, maxConversationsPerUser: 10_000 });
    messages = createMessagesService({ engine, clock, rateLimiter, ids, idempotencyTtlMs: 60_000 });
    for (const id of ['alice', 'bob']) await engine.users.upsert(TENANT, { id: id as UserId, displayName: id, metadata: null }, T0);
    group = (await conversations.create(alice, { type: 'group', title: 'Team', members: ['bob'] })).conversation.id;
  });

  it.each([
    ['a lone surrogate', 'hi \uD800', 'text must be well-formed Unicode (no lone surrogates)'],
    ['NUL', 'hi\u0000', 'text must not contain control characters other than newline and tab'],
    ['an RLO override', 'hi\u202E', 'text must not contain bidirectional embeddings or overrides (U+202A..U+202E)'],
  ])('refuses message text with %s, in sends and edits', async (_name, text, detail) => {
    expect(await refusal(messages.send(alice, group, { text }))).toMatchObject({ code: 'validation_failed', detail });
    const sent = await messages.send(alice, group, { text: 'fine\n\tline \u2067שלום\u2069' });
    expect(await refusal(messages.edit(alice, group, sent.message.id, text))).toMatchObject({ code: 'validation_failed', detail });
    const history = await messages.history(alice, group, { limit: 10 });
    expect(history.items.map((message) => message.text)).toEqual(['fine\n\tline \u2067שלום\u2069']);
  });

  it.each([
    ['a lone surrogate', 'Team \uDFFF', 'title must be well-formed Unicode (no lone surrogates)'],
    ['an isolate', 'Team \u2066x\u2069', 'title must not contain bidirectional control characters'],
    ['a tab', 'Team\tA', 'title must not contain control characters'],
  ])('refuses a title with %s', async (_name, title, detail) => {
    expect(await refusal(conversations.create(alice, { type: 'group', title, members: ['bob'] }))).toMatchObject({ detail });
    expect(await refusal(conversations.update(alice, group, { title }))).toMatchObject({ code: 'validation_failed', detail });
    expect((await conversations.get(alice, group)).conversation.title).toBe('Team');
  });

  it('refuses a display name with a bidi control or a lone surrogate', async () => {
    for (const [displayName, detail] of [
      ['A\u202Ece', 'displayName must not contain bidirectional control characters'],
      ['A\uD83D', 'displayName must be well-formed Unicode (no lone surrogates)'],
    ] as const) {
      expect(await refusal(users.updateMe(alice, { displayName }))).toMatchObject({ code: 'validation_failed', detail });
    }
    expect((await users.me(alice)).displayName).toBe('alice');
  });

  it('refuses a reaction that is not one emoji', async () => {
    const sent = await messages.send(alice, group, { text: 'react' });
    for (const emoji of ['toString', 'x', '\u202E', '👍👍']) {
      expect(await refusal(messages.react(alice, group, sent.message.id, emoji, true))).toMatchObject({
        code: 'validation_failed',
        detail: 'emoji must be a single emoji',
      });
    }
    await messages.react(alice, group, sent.message.id, '👍🏽', true);
    const [stored] = (await messages.history(alice, group, { limit: 1 })).items;
    expect(Object.keys(stored?.reactions ?? {})).toEqual(['👍🏽']);
  });
});
