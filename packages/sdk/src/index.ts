/**
 * @packageDocumentation
 * Parley's TypeScript SDK: a typed REST client for every v1 operation, authentication for the
 * built-in provider, external providers and server keys, a realtime connection that resumes
 * without gaps or duplicates, an offline send queue and a local store. Runs in Node 20+ and in
 * browsers (no Node-only APIs).
 */
// --- core ---
export { createParleyClient, type ParleyClient, type ParleyClientOptions } from './client.js';
export {
  createAdminClient,
  createServerClient,
  type AdminClient,
  type AdminClientOptions,
  type ServerClient,
  type ServerClientOptions,
} from './server-client.js';
export { BuiltInAuth, type BuiltInAuthOptions, type SessionListener } from './auth/built-in-auth.js';
export {
  memorySessionStorage,
  webSessionStorage,
  type SessionStorage,
  type StoredSession,
  type WebStorageLike,
} from './auth/session-storage.js';
export type { TokenProvider, TokenRequest } from './auth/token-provider.js';
export { CLIENT_ERROR_CODES, ParleyError, ParleyNetworkError, type Problem } from './errors.js';
export type { CredentialSource, FetchLike } from './http.js';
export { verifyWebhook, WEBHOOK_TOLERANCE_SECONDS, type VerifyWebhookInput } from './webhooks.js';
export type { ConversationsApi } from './rest/conversations.js';
export type { MessagesApi } from './rest/messages.js';
export type { ModerationApi } from './rest/moderation.js';
export type { SystemApi } from './rest/system.js';
export type { ApiKeysApi, IdentityProvidersApi, OperatorApi } from './rest/tenants.js';
export type { TenantUsersApi, UsersApi } from './rest/users.js';
export type { WebhooksApi } from './rest/webhooks.js';
export type * from './rest/types.js';
export type { paths as V1Paths } from './generated/v1.js';
// --- end core ---
// --- realtime ---
// The realtime layer declares the message, conversation and member shapes its frames carry; at the
// package root those names are the REST types above (the same wire objects), so only the
// frame-specific types are exported from here.
export {
  CloseCodes,
  conversationIdOf,
  isDurableEvent,
  parseServerFrame,
  type ClientFrame,
  type ConversationListItem,
  type DurableEvent,
  type DurableEventType,
  type PresenceEvent,
  type ServerControlFrame,
  type ServerFrame,
  type TypingEvent,
} from './realtime/wire.js';
export {
  defaultScheduler,
  type CatchUpRest,
  type RealtimeDeps,
  type Scheduler,
  type SendMessageRest,
  type WebSocketConstructor,
  type WebSocketLike,
} from './realtime/deps.js';
export { createBackoff, type Backoff, type BackoffOptions } from './realtime/backoff.js';
export { createSseParser, type SseEvent, type SseParser } from './realtime/sse-parser.js';
export type { TransportKind } from './realtime/transports.js';
export { restOperationsOf, type RestClientLike } from './realtime/rest-binding.js';
export type { Listener } from './realtime/emitter.js';
export {
  createRealtimeConnection,
  RealtimeConnection,
  type CaughtUpMessage,
  type ConnectionState,
  type RealtimeConnectionOptions,
  type RealtimeError,
  type RealtimeErrorKind,
  type RealtimeEvent,
  type RealtimeEvents,
} from './realtime/connection.js';
export * from './offline-queue/index.js';
export * from './store/index.js';
// --- end realtime ---
