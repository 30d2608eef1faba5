/**
 * Domain objects → v1 wire objects. The only place that knows the v1 representation: times as
 * RFC 3339 strings, reactions as {count, me}. A v2 gets its own presenters over the same services.
 */
import type { Static } from 'typebox';
import type * as wire from '@parley/protocol';
import type { ConversationView, DeletedUser } from '../../engine/engine.js';
import type { ApiKeySummary } from '../../services/api-keys-service.js';
import type { Ban, Conversation, EpochMs, IdentityProvider, Member, Message, Mute, Tenant, User } from '../../domain/types.js';
import type { Webhook, WebhookDelivery } from '../../domain/webhooks.js';
import type { SigningKeyRotationResult } from '../../services/signing-keys-service.js';

const time = (ms: EpochMs): string => new Date(ms).toISOString();
const maybeTime = (ms: EpochMs | null): string | null => (ms === null ? null : time(ms));

/**
 * `metadata` is the tenant back end's data about its user: shown to that user and to the tenant,
 * never to other users (pass `withMetadata: false` when someone else asks).
 */
export function presentUser(user: User, withMetadata = true): Static<typeof wire.User> {
  return {
    id: user.id,
    ...(user.username !== null ? { username: user.username } : {}),
    displayName: user.displayName,
    ...(withMetadata && user.metadata !== null ? { metadata: user.metadata } : {}),
    createdAt: time(user.createdAt),
    ...(user.identity ? { identity: { provider: user.identity.provider, subject: user.identity.subject } } : {}),
  };
}

export function presentIdentityProvider(provider: IdentityProvider): Static<typeof wire.IdentityProvider> {
  return {
    id: provider.id,
    issuer: provider.issuer,
    audience: provider.audience,
    algorithms: [...provider.algorithms],
    claims: { ...provider.claims },
    jwksUri: provider.jwksUri,
    createdAt: time(provider.createdAt),
    updatedAt: time(provider.updatedAt),
  };
}

/** What is left of a deleted account: the id (messages still name it) and a fixed name. */
export const DELETED_USER_DISPLAY_NAME = 'Deleted user';

export function presentDeletedUser(user: DeletedUser): Static<typeof wire.User> {
  return { id: user.id, displayName: DELETED_USER_DISPLAY_NAME, createdAt: time(user.createdAt), deleted: true };
}

export function presentTenant(tenant: Tenant): Static<typeof wire.Tenant> {
  return { id: tenant.id, name: tenant.name, createdAt: time(tenant.createdAt) };
}

export function presentApiKey(key: ApiKeySummary): Static<typeof wire.ApiKeySummary> {
  return { id: key.id, createdAt: time(key.createdAt), lastUsedAt: maybeTime(key.lastUsedAt) };
}

export function presentCreatedApiKey(key: { id: string; apiKey: string; createdAt: EpochMs }): Static<typeof wire.CreatedApiKey> {
  return { id: key.id, apiKey: key.apiKey, createdAt: time(key.createdAt) };
}

export function presentMember(member: Member): Static<typeof wire.Member> {
  return { userId: member.userId, role: member.role, lastReadSeq: member.lastReadSeq, joinedAt: time(member.joinedAt) };
}

export function presentMute(mute: Mute): Static<typeof wire.Mute> {
  return { userId: mute.userId, until: maybeTime(mute.until), createdAt: time(mute.createdAt) };
}

export function presentBan(ban: Ban): Static<typeof wire.Ban> {
  return { userId: ban.userId, createdAt: time(ban.createdAt) };
}

export function presentMessage(message: Message): Static<typeof wire.Message> {
  const mine = new Set(message.myReactions);
  const reactions: Record<string, { count: number; me: boolean }> = {};
  for (const [emoji, count] of Object.entries(message.reactions)) {
    if (count > 0) reactions[emoji] = { count, me: mine.has(emoji) };
  }
  return {
    id: message.id,
    conversationId: message.conversationId,
    seq: message.seq,
    senderId: message.senderId,
    system: message.system,
    text: message.text,
    createdAt: time(message.createdAt),
    editedAt: maybeTime(message.editedAt),
    deletedAt: maybeTime(message.deletedAt),
    replyTo: message.replyTo,
    reactions,
  };
}

export function presentConversation(conversation: Conversation, members: Member[]): Static<typeof wire.Conversation> {
  return {
    id: conversation.id,
    type: conversation.type,
    title: conversation.title,
    members: members.map(presentMember),
    memberCount: conversation.memberCount,
    createdAt: time(conversation.createdAt),
    lastSeq: conversation.lastSeq,
    lastActivityAt: time(conversation.lastActivityAt),
  };
}

export function presentConversationView(
  view: ConversationView & { members: Member[] },
): Static<typeof wire.ConversationListItem> {
  return {
    ...presentConversation(view.conversation, view.members),
    lastMessage: view.lastMessage ? presentMessage(view.lastMessage) : null,
    unreadCount: view.unreadCount,
  };
}

export function presentSigningKeyRotation(rotation: SigningKeyRotationResult): Static<typeof wire.SigningKeyRotationResult> {
  return {
    kid: rotation.kid,
    createdAt: time(rotation.createdAt),
    previous: rotation.previous.map((key) => ({ kid: key.kid, retiresAt: time(key.retiresAt) })),
  };
}

/** A webhook without its secrets (they are shown once, by the call that makes them). */
export function presentWebhook(webhook: Webhook): Static<typeof wire.Webhook> {
  return {
    id: webhook.id,
    url: webhook.url,
    events: [...webhook.events],
    description: webhook.description,
    enabled: webhook.enabled,
    createdAt: time(webhook.createdAt),
    failingSince: maybeTime(webhook.failingSince),
    disabledAt: maybeTime(webhook.disabledAt),
  };
}

export function presentWebhookDelivery(delivery: WebhookDelivery): Static<typeof wire.WebhookDelivery> {
  return {
    id: delivery.id,
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    status: delivery.status,
    attempts: delivery.attempts,
    lastStatusCode: delivery.lastStatusCode,
    lastError: delivery.lastError,
    lastAttemptAt: maybeTime(delivery.lastAttemptAt),
    nextAttemptAt: maybeTime(delivery.nextAttemptAt),
  };
}
