/**
 * Mutes and bans, in the conversation's slot (see redis-keys.ts): a hash of userId → JSON and a
 * zset of the same ids at score 0 that pages them in user id (byte) order. The checks that use
 * them run inside the scripts they guard (message-append, message-edit, reaction-set read the
 * mutes hash; member-add the bans hash), so enforcing them costs no round trip. A ban and the
 * removal it implies are one member-remove run. A role bound (RoleBound) is checked inside
 * member-remove and moderation-set against the members hash, also in the slot. Listing mutes
 * deletes the ended ones the scan meets (moderation-page).
 */
import type { Ban, ConversationId, EpochMs, Mute, Role, TenantId, UserId } from '../../domain/types.js';
import type { ModerationStore, Page, RoleBound } from '../engine.js';
import { removeMemberScript, requireRole } from './redis-conversations.js';
import type { RedisContext } from './redis-context.js';
import { decodeUserIdCursor, encodeUserIdCursor } from './redis-cursors.js';
import { guard, requireCount, requireId, requireLimit, requireTime } from './redis-guard.js';
import { asArray, asInteger, asString, parseBan, parseMute } from './redis-replies.js';
import type { UserConversationIndex } from './redis-user-index.js';

const MAX_PAGE = 1000;

export class RedisModerationStore implements ModerationStore {
  constructor(
    private readonly context: RedisContext,
    private readonly index: UserConversationIndex,
  ) {}

  mute(tenantId: TenantId, id: ConversationId, mute: Mute, { maxRole }: RoleBound = {}): Promise<'ok' | 'not_found' | 'role_changed'> {
    return guard(async () => {
      requireTime(mute.createdAt, 'createdAt');
      // Any RFC 3339 end up to year 9999: beyond requireTime's range, and only compared, never re-encoded, in Lua.
      if (mute.until !== null) requireCount(mute.until, 'until');
      const json = JSON.stringify({ until: mute.until, createdAt: mute.createdAt });
      if (maxRole !== undefined) requireRole(maxRole);
      const result = await this.set(tenantId, id, 'mutes', mute.userId, json, maxRole);
      if (result === 'role_changed') return result;
      return result ? 'ok' : 'not_found';
    });
  }

  unmute(tenantId: TenantId, id: ConversationId, userId: UserId): Promise<boolean> {
    return guard(async () => (await this.set(tenantId, id, 'mutes', userId, '')) === true);
  }

  listMutes(tenantId: TenantId, id: ConversationId, page: { cursor?: string; limit: number }, now: EpochMs): Promise<Page<Mute>> {
    return guard(async () => {
      requireTime(now, 'now');
      return this.page(tenantId, id, 'mutes', page, String(now), parseMute);
    });
  }

  ban(
    tenantId: TenantId,
    id: ConversationId,
    ban: Ban,
    options: RoleBound = {},
  ): Promise<{ status: 'ok'; removedRole: Role | null } | { status: 'not_found' } | { status: 'role_changed' }> {
    return guard(async () => {
      const json = JSON.stringify({ createdAt: ban.createdAt });
      const result = await removeMemberScript(this.context, this.index, tenantId, id, ban.userId, ban.createdAt, json, options);
      if (result.status === 'not_found' || result.status === 'role_changed') return { status: result.status };
      return { status: 'ok', removedRole: result.status === 'removed' ? result.role : null };
    });
  }

  unban(tenantId: TenantId, id: ConversationId, userId: UserId): Promise<boolean> {
    return guard(async () => (await this.set(tenantId, id, 'bans', userId, '')) === true);
  }

  listBans(tenantId: TenantId, id: ConversationId, page: { cursor?: string; limit: number }): Promise<Page<Ban>> {
    return guard(() => this.page(tenantId, id, 'bans', page, '', parseBan));
  }

  /** Runs moderation-set; with `maxRole`, a member above it is refused there (`role_changed`). */
  private async set(
    tenantId: TenantId,
    id: ConversationId,
    kind: 'mutes' | 'bans',
    userId: UserId,
    json: string,
    maxRole?: Role,
  ): Promise<boolean | 'role_changed'> {
    requireId(userId, 'userId');
    const keys = this.context.keys.conversation(tenantId, id);
    const [hash, order] = kind === 'mutes' ? [keys.mutes, keys.muteOrder] : [keys.bans, keys.banOrder];
    const reply =
      maxRole === undefined
        ? await this.context.scripts.run('moderation-set', [keys.meta, hash, order], [userId, json])
        : await this.context.scripts.run('moderation-set', [keys.meta, hash, order, keys.members], [userId, json, maxRole]);
    if (reply === 'role_changed') return reply;
    return asInteger(reply, 'moderation-set') === 1;
  }

  private async page<T extends { userId: UserId }>(
    tenantId: TenantId,
    id: ConversationId,
    kind: 'mutes' | 'bans',
    page: { cursor?: string; limit: number },
    now: string,
    parse: (userId: UserId, json: string) => T,
  ): Promise<Page<T>> {
    requireLimit(page.limit, MAX_PAGE);
    const after = page.cursor === undefined ? '' : decodeUserIdCursor(kind, page.cursor);
    const keys = this.context.keys.conversation(tenantId, id);
    const [hash, order] = kind === 'mutes' ? [keys.mutes, keys.muteOrder] : [keys.bans, keys.banOrder];
    const reply = asArray(await this.context.scripts.run('moderation-page', [hash, order], [after, page.limit + 1, now]), 'moderation-page');
    const entries: T[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const userId = asString(reply[i], 'moderation-page.userId') as UserId;
      entries.push(parse(userId, asString(reply[i + 1], 'moderation-page.entry')));
    }
    const items = entries.slice(0, page.limit);
    const last = items.at(-1);
    return { items, nextCursor: entries.length > page.limit && last ? encodeUserIdCursor(kind, last.userId) : null };
  }
}
