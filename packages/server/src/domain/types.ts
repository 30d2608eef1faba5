/**
 * Parley's vocabulary as plain data. No I/O here: these types are what the engine stores and
 * what services reason about. The wire representation lives in @parley/protocol.
 */

import { IDENTITY_PROVIDER_ALGORITHMS } from '@parley/protocol';
import type { EventId } from './events.js';

declare const brand: unique symbol;
/** A string that the type system keeps apart from other strings of the same shape. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type TenantId = Brand<string, 'TenantId'>;
export type UserId = Brand<string, 'UserId'>;
export type ConversationId = Brand<string, 'ConversationId'>;
export type MessageId = Brand<string, 'MessageId'>;

/** Milliseconds since the Unix epoch. Every time in the engine is one of these, passed in by the caller. */
export type EpochMs = number;

export interface Tenant {
  id: TenantId;
  name: string;
  createdAt: EpochMs;
}

export interface User {
  tenantId: TenantId;
  id: UserId;
  /** Set for users of the built-in provider; null for users upserted by a tenant back end. */
  username: string | null;
  displayName: string;
  metadata: Record<string, unknown> | null;
  createdAt: EpochMs;
  updatedAt: EpochMs;
  /** Set for users created on first sight of an external provider's token: who they are there. */
  identity?: ExternalIdentity;
}

/** A user of an external identity provider: the tenant's provider id and the token's `sub`. */
export interface ExternalIdentity {
  provider: string;
  /**
   * The provider's issuer when the user was first seen. Part of the user's key with provider and
   * subject, so a provider id pointed at another issuer later (replaced, or deleted and created
   * again) never maps that issuer's subjects onto the earlier issuer's users. Not shown to clients.
   */
  issuer: string;
  subject: string;
}

/** JWS algorithms an external provider may sign access tokens with (asymmetric only). */
export const EXTERNAL_TOKEN_ALGORITHMS = IDENTITY_PROVIDER_ALGORITHMS;
export type ExternalTokenAlgorithm = (typeof EXTERNAL_TOKEN_ALGORITHMS)[number];

/**
 * A tenant's trust in an external OpenID Connect provider: its access tokens for `audience`
 * authenticate users of the tenant. (issuer, audience) is unique across the deployment, so a
 * token belongs to at most one tenant.
 */
export interface IdentityProvider {
  tenantId: TenantId;
  /** 1..64 of [a-z0-9_-], unique within the tenant. */
  id: string;
  issuer: string;
  audience: string;
  algorithms: ExternalTokenAlgorithm[];
  /** Which claims name the user: displayName (tried before `name`, `preferred_username`) and username. */
  claims: { displayName?: string; username?: string };
  /** From the issuer's discovery document when the provider was stored. */
  jwksUri: string;
  createdAt: EpochMs;
  updatedAt: EpochMs;
}

export type ConversationType = 'direct' | 'group';
export type Role = 'owner' | 'admin' | 'member';
export const ROLES: readonly Role[] = ['owner', 'admin', 'member'];

export interface Conversation {
  tenantId: TenantId;
  id: ConversationId;
  type: ConversationType;
  /** Null for direct conversations. */
  title: string | null;
  createdAt: EpochMs;
  /** Seq of the newest message; 0 when there is none. */
  lastSeq: number;
  /** Time of the newest message, or of creation when there is none. */
  lastActivityAt: EpochMs;
  memberCount: number;
}

/**
 * A user's mute in one conversation: until `until` (null: until lifted) their sends, edits and
 * reactions there are refused. Kept apart from membership, so it outlives leaving and re-joining.
 */
export interface Mute {
  userId: UserId;
  until: EpochMs | null;
  createdAt: EpochMs;
}

/** A user's ban from one conversation: removed if a member, and not added again until lifted. */
export interface Ban {
  userId: UserId;
  createdAt: EpochMs;
}

export interface Member {
  userId: UserId;
  role: Role;
  /** Highest seq the member has read; never moves backwards; at most the conversation's lastSeq. */
  lastReadSeq: number;
  joinedAt: EpochMs;
  /**
   * Id, in the conversation's event log, of the event that made this user a member
   * (conversation.created or member.added): realtime delivery to the member starts after it.
   */
  joinedEventId: EventId;
}

/** Reaction totals of one message: emoji → how many users reacted with it. */
export type ReactionCounts = Record<string, number>;

export interface Message {
  id: MessageId;
  conversationId: ConversationId;
  seq: number;
  /** Null for messages posted by a tenant server key (moderation/system messages). */
  senderId: UserId | null;
  system: boolean;
  /** Null once deleted. */
  text: string | null;
  createdAt: EpochMs;
  editedAt: EpochMs | null;
  deletedAt: EpochMs | null;
  replyTo: MessageId | null;
  reactions: ReactionCounts;
  /** The emoji the viewing user reacted with (the engine fills it for the viewer it is given). */
  myReactions: string[];
}
