/** Contract of tenant isolation: the same ids in two tenants never meet. */
import { describe, expect, it } from 'vitest';
import type { ConversationId } from '../../domain/types.js';
import {
  alice,
  bob,
  createGroup,
  DEFAULT_TTL_MS,
  HOUR,
  newMessage,
  OTHER_TENANT,
  send,
  T0,
  TENANT,
  type ContractContext,
} from './fixtures.contract.js';

export function tenancyContract(context: ContractContext): void {
  describe('tenant isolation', () => {
    it('keeps users, usernames, credentials and blocks per tenant', async () => {
      const { users } = context.engine;
      const newAlice = { id: alice, username: 'alice', displayName: 'Alice', passwordHash: 'pw-acme', createdAt: T0 };
      expect((await users.register(TENANT, newAlice)).status).toBe('created');
      expect(await users.get(OTHER_TENANT, alice)).toBeNull();
      expect(await users.findCredentials(OTHER_TENANT, 'alice')).toBeNull();
      expect(await users.getMany(OTHER_TENANT, [alice])).toEqual([null]);
      expect(await users.update(OTHER_TENANT, alice, { displayName: 'Hijacked' }, T0)).toBeNull();
      const other = await users.register(OTHER_TENANT, { ...newAlice, displayName: 'Other Alice', passwordHash: 'pw-globex' });
      expect(other).toMatchObject({ status: 'created', user: { tenantId: OTHER_TENANT } });
      expect(await users.findCredentials(TENANT, 'alice')).toMatchObject({
        user: { tenantId: TENANT, displayName: 'Alice' },
        passwordHash: 'pw-acme',
      });
      expect((await users.upsert(OTHER_TENANT, { id: bob, displayName: 'Bob', metadata: null }, T0))?.created).toBe(true);
      expect(await users.get(TENANT, bob)).toBeNull();
      await users.block(TENANT, alice, bob);
      expect(await users.isBlocked(OTHER_TENANT, alice, bob)).toBe(false);
    });

    it('keeps conversations, members, messages and read positions per tenant', async () => {
      const { conversations, messages } = context.engine;
      const id = await createGroup(context.engine, 'shared-id', [alice, bob]);
      const ours = await send(context.engine, id, alice, { text: 'acme only' });
      expect(await conversations.get(OTHER_TENANT, id)).toBeNull();
      expect(await conversations.getWithMember(OTHER_TENANT, id, alice)).toBeNull();
      expect(await conversations.listForUser(OTHER_TENANT, alice, { limit: 10 })).toEqual({ items: [], nextCursor: null });
      expect(await messages.append(OTHER_TENANT, id, newMessage(alice), DEFAULT_TTL_MS)).toEqual({
        status: 'conversation_not_found',
      });
      expect(await messages.get(OTHER_TENANT, id, ours.id, null)).toBeNull();
      expect(await messages.delete(OTHER_TENANT, id, ours.id, T0)).toBeNull();

      await createGroup(context.engine, 'shared-id', [alice], { tenantId: OTHER_TENANT, title: 'globex' });
      const theirs = await send(context.engine, id, alice, { tenantId: OTHER_TENANT, text: 'globex only' });
      expect(theirs.seq).toBe(1);
      expect(await conversations.markRead(OTHER_TENANT, id, bob, 1, T0)).toBeNull();
      const [ourHistory, theirHistory] = await Promise.all([
        messages.history(TENANT, id, { limit: 10 }, null),
        messages.history(OTHER_TENANT, id, { limit: 10 }, null),
      ]);
      expect(ourHistory.items.map((message) => message.text)).toEqual(['acme only']);
      expect(theirHistory.items.map((message) => message.text)).toEqual(['globex only']);
      expect(await conversations.get(TENANT, id)).toMatchObject({ title: 'group shared-id', memberCount: 2 });
      expect(await conversations.get(OTHER_TENANT, id)).toMatchObject({ title: 'globex', memberCount: 1 });
    });

    it('creates one direct conversation per pair in each tenant', async () => {
      const { conversations } = context.engine;
      const input = (id: string) => ({
        id: id as ConversationId,
        type: 'direct' as const,
        title: null,
        createdAt: T0,
        members: [
          { userId: alice, role: 'member' as const },
          { userId: bob, role: 'member' as const },
        ],
      });
      const ours = await conversations.getOrCreateDirect(TENANT, input('d-acme'));
      const theirs = await conversations.getOrCreateDirect(OTHER_TENANT, input('d-globex'));
      expect([ours.created, theirs.created]).toEqual([true, true]);
      expect([ours.conversation.id, theirs.conversation.id]).toEqual(['d-acme', 'd-globex']);
    });

    it('keeps refresh families per tenant', async () => {
      const { refreshTokens } = context.engine;
      const family = { familyId: 'fam', userId: alice, generation: 0, secretHash: 'h0', expiresAt: T0 + HOUR };
      await refreshTokens.create({ ...family, tenantId: TENANT }, T0);
      await refreshTokens.create({ ...family, tenantId: OTHER_TENANT, secretHash: 'other-h0' }, T0);
      const next = { secretHash: 'h1', expiresAt: T0 + 2 * HOUR };
      expect(await refreshTokens.rotate(OTHER_TENANT, 'fam', 0, 'h0', next, T0)).toEqual({ status: 'invalid' });
      await refreshTokens.revoke(OTHER_TENANT, 'fam');
      expect(await refreshTokens.rotate(TENANT, 'fam', 0, 'h0', next, T0)).toMatchObject({
        status: 'rotated',
        family: { tenantId: TENANT, generation: 1 },
      });
    });
  });
}
