import type { Principal } from '../auth/principal.js';
import type { Engine } from '../engine/engine.js';
import { canSee, type Standing } from '../domain/permissions.js';
import type { Conversation, ConversationId } from '../domain/types.js';
import { ServiceError } from './service-error.js';

export type Access = Standing & { conversation: Conversation };

/**
 * Loads a conversation as the caller sees it, in one engine round trip. A conversation that does
 * not exist and one the caller may not see give the same 404, so ids reveal nothing.
 */
export async function loadAccess(engine: Engine, principal: Principal, id: ConversationId): Promise<Access> {
  if (principal.kind === 'tenant') {
    const conversation = await engine.conversations.get(principal.tenantId, id);
    if (conversation) return { principal, member: null, conversation };
  } else {
    const found = await engine.conversations.getWithMember(principal.tenantId, id, principal.userId);
    if (found && canSee({ principal, member: found.member })) return { principal, ...found };
  }
  throw new ServiceError('conversation_not_found');
}

/** The user behind a principal, or 403 for a tenant key where only a user makes sense. */
export function requireUser(principal: Principal, action: string): Extract<Principal, { kind: 'user' }> {
  if (principal.kind !== 'user') throw new ServiceError('forbidden', `${action} needs a user token, not a tenant key`);
  return principal;
}
