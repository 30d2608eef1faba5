/**
 * ModerationStore in memory. Mutes and bans live on the conversation record, next to the
 * members, so append, edit, react and addMembers check them in their own synchronous section.
 */
import type { Ban, ConversationId, EpochMs, Mute, Role, TenantId, UserId } from '../../domain/types.js';
import type { ModerationStore, Page, RoleBound } from '../engine.js';
import { decodeCursor, encodeCursor, requireLimit } from './arguments.js';
import type { ConversationTables } from './conversation-records.js';
import { requireEventTime } from './event-log.js';
import { removeHandingOver, withinBound } from './memory-conversations.js';
import type { ConversationEvents } from './memory-events.js';
import { isMuted } from '../../domain/moderation.js';

const MAX_PAGE = 1000;

/** The entries after the cursor's user id, in user id order, that `keep` accepts. */
function pageByUserId<T extends { userId: UserId }>(
  kind: string,
  entries: Iterable<T>,
  page: { cursor?: string; limit: number },
  keep: (entry: T) => boolean = () => true,
): Page<T> {
  requireLimit(page.limit, MAX_PAGE);
  const after = page.cursor === undefined ? null : decodeCursor(kind, page.cursor, { userId: 'string' }).userId;
  // Byte order of the UTF-8 ids, as Redis sorts them, so both engines page alike.
  const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const sorted = [...entries]
    .filter((entry) => (after === null || byteOrder(entry.userId, after) > 0) && keep(entry))
    .sort((a, b) => byteOrder(a.userId, b.userId));
  const items = sorted.slice(0, page.limit).map((entry) => ({ ...entry }));
  const last = items.at(-1);
  return { items, nextCursor: sorted.length > page.limit && last ? encodeCursor(kind, { userId: last.userId }) : null };
}

export class MemoryModerationStore implements ModerationStore {
  constructor(
    private readonly tables: ConversationTables,
    private readonly events: ConversationEvents,
  ) {}

  async mute(tenantId: TenantId, id: ConversationId, mute: Mute, options: RoleBound = {}): Promise<'ok' | 'not_found' | 'role_changed'> {
    requireEventTime('createdAt', mute.createdAt);
    if (mute.until !== null) requireEventTime('until', mute.until);
    const record = this.tables.find(tenantId, id);
    if (!record) return 'not_found';
    if (!withinBound(record, mute.userId, options)) return 'role_changed';
    record.mutes.set(mute.userId, { ...mute });
    return 'ok';
  }

  async unmute(tenantId: TenantId, id: ConversationId, userId: UserId): Promise<boolean> {
    const record = this.tables.find(tenantId, id);
    record?.mutes.delete(userId);
    return record !== undefined;
  }

  async listMutes(tenantId: TenantId, id: ConversationId, page: { cursor?: string; limit: number }, now: EpochMs): Promise<Page<Mute>> {
    const record = this.tables.find(tenantId, id);
    if (!record) return pageByUserId('mutes', [], page);
    // Ended mutes are deleted, as the Redis scan deletes those it meets (memory sees them all).
    for (const mute of record.mutes.values()) if (!isMuted(mute, now)) record.mutes.delete(mute.userId);
    return pageByUserId('mutes', record.mutes.values(), page);
  }

  async ban(
    tenantId: TenantId,
    id: ConversationId,
    ban: Ban,
    options: RoleBound = {},
  ): Promise<{ status: 'ok'; removedRole: Role | null } | { status: 'not_found' } | { status: 'role_changed' }> {
    requireEventTime('createdAt', ban.createdAt);
    const tables = this.tables.read(tenantId);
    const record = tables?.byId.get(id);
    if (!tables || !record) return { status: 'not_found' };
    if (!withinBound(record, ban.userId, options)) return { status: 'role_changed' };
    if (!record.bans.has(ban.userId)) record.bans.set(ban.userId, { ...ban });
    const removedRole = removeHandingOver(tables, record, ban.userId, ban.createdAt, this.events);
    return { status: 'ok', removedRole };
  }

  async unban(tenantId: TenantId, id: ConversationId, userId: UserId): Promise<boolean> {
    const record = this.tables.find(tenantId, id);
    record?.bans.delete(userId);
    return record !== undefined;
  }

  async listBans(tenantId: TenantId, id: ConversationId, page: { cursor?: string; limit: number }): Promise<Page<Ban>> {
    return pageByUserId('bans', this.tables.find(tenantId, id)?.bans.values() ?? [], page);
  }
}
