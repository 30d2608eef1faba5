/**
 * Names for the request and response shapes of the v1 API, all derived from the generated
 * `paths` (src/generated/v1.ts), so they follow openapi/v1.json when `npm run sdk:types` runs and
 * are never written twice.
 */
import type { paths } from '../generated/v1.js';

/** The HTTP methods of the v1 operations. */
export type HttpMethod = 'get' | 'put' | 'post' | 'patch' | 'delete';
/** The generated description of one operation. */
export type OperationOf<P extends keyof paths, M extends HttpMethod> = NonNullable<paths[P][M]>;

/** The JSON body of the `status` answer of an operation. */
export type ResponseBody<P extends keyof paths, M extends HttpMethod, Status extends number = 200> =
  OperationOf<P, M> extends { responses: { [S in Status]: { content: { 'application/json': infer Body } } } } ? Body : never;

/** The JSON request body of an operation. */
export type RequestBody<P extends keyof paths, M extends HttpMethod> =
  OperationOf<P, M> extends { requestBody?: { content: { 'application/json': infer Body } } } ? Body : never;

/** The query parameters of an operation. */
export type QueryParameters<P extends keyof paths, M extends HttpMethod> =
  OperationOf<P, M> extends { parameters: { query?: infer Query } } ? NonNullable<Query> : never;

/** A user as the API shows it (`GET /v1/users/{userId}`). */
export type User = ResponseBody<'/v1/users/{userId}', 'get'>;
/** The caller (`GET /v1/users/me`). */
export type Me = ResponseBody<'/v1/users/me', 'get'>;
/** Whether a user is online, or when last seen. */
export type Presence = ResponseBody<'/v1/users/{userId}/presence', 'get'>;
/** The answer of register, login, refresh and password change: the user and a new token pair. */
export type TokenPair = ResponseBody<'/v1/auth/login', 'post'>;
export type RegisterInput = RequestBody<'/v1/auth/register', 'post'>;
export type LoginInput = RequestBody<'/v1/auth/login', 'post'>;
export type ChangePasswordInput = RequestBody<'/v1/auth/password', 'post'>;
export type UpdateMeInput = RequestBody<'/v1/users/me', 'patch'>;

/** A conversation with its first members (`POST`/`GET /v1/conversations/{id}`). */
export type Conversation = ResponseBody<'/v1/conversations/{id}', 'get'>;
export type CreateConversationInput = RequestBody<'/v1/conversations', 'post'>;
export type UpdateConversationInput = RequestBody<'/v1/conversations/{id}', 'patch'>;
/** A page of the caller's conversations, most recent activity first, with unread counts. */
export type ConversationPage = ResponseBody<'/v1/conversations', 'get'>;
/** One item of {@link ConversationPage}: a conversation with `lastMessage` and `unreadCount`. */
export type ConversationSummary = ConversationPage['items'][number];
export type PageQuery = QueryParameters<'/v1/conversations', 'get'>;
/** A page of members, in the order they joined. */
export type MemberPage = ResponseBody<'/v1/conversations/{id}/members', 'get'>;
export type Member = MemberPage['items'][number];
export type Role = RequestBody<'/v1/conversations/{id}/members/{userId}', 'patch'>['role'];

/** A message (`POST`/`PATCH .../messages`). */
export type Message = ResponseBody<'/v1/conversations/{id}/messages/{messageId}', 'patch'>;
export type SendMessageInput = RequestBody<'/v1/conversations/{id}/messages', 'post'>;
/** `{before}`, `{after}` (catch-up) or neither (the latest), with `limit`. */
export type HistoryQuery = QueryParameters<'/v1/conversations/{id}/messages', 'get'>;
/** A page of history in ascending seq, with `hasMore` in the direction read. */
export type MessagePage = ResponseBody<'/v1/conversations/{id}/messages', 'get'>;

export type MuteInput = RequestBody<'/v1/conversations/{id}/mutes/{userId}', 'put'>;
export type MuteList = ResponseBody<'/v1/conversations/{id}/mutes', 'get'>;
export type BanList = ResponseBody<'/v1/conversations/{id}/bans', 'get'>;

export type UpsertUserInput = RequestBody<'/v1/users/{userId}', 'put'>;
export type MintTokenInput = RequestBody<'/v1/users/{userId}/tokens', 'post'>;
/** A token minted by a tenant back end for one of its users. */
export type MintedToken = ResponseBody<'/v1/users/{userId}/tokens', 'post', 201>;

export type CreateWebhookInput = RequestBody<'/v1/webhooks', 'post'>;
/** A new webhook, with its signing `secret` (shown only in this answer). */
export type CreatedWebhook = ResponseBody<'/v1/webhooks', 'post', 201>;
export type Webhook = ResponseBody<'/v1/webhooks/{id}', 'get'>;
export type WebhookList = ResponseBody<'/v1/webhooks', 'get'>;
export type UpdateWebhookInput = RequestBody<'/v1/webhooks/{id}', 'patch'>;
export type RotatedWebhookSecret = ResponseBody<'/v1/webhooks/{id}/secret', 'post', 201>;
export type WebhookDeliveryList = ResponseBody<'/v1/webhooks/{id}/deliveries', 'get'>;
export type WebhookPing = ResponseBody<'/v1/webhooks/{id}/ping', 'post', 202>;

export type CreateTenantInput = RequestBody<'/v1/tenants', 'post'>;
/** A new tenant with its first API key (shown only in this answer). */
export type CreatedTenant = ResponseBody<'/v1/tenants', 'post', 201>;
export type CreatedApiKey = ResponseBody<'/v1/tenants/{tenantId}/api-keys', 'post', 201>;
export type ApiKeyList = ResponseBody<'/v1/tenants/{tenantId}/api-keys', 'get'>;
export type IdentityProviderInput = RequestBody<'/v1/tenants/{tenantId}/identity-providers/{providerId}', 'put'>;
export type IdentityProvider = ResponseBody<'/v1/tenants/{tenantId}/identity-providers/{providerId}', 'get'>;
export type IdentityProviderList = ResponseBody<'/v1/tenants/{tenantId}/identity-providers', 'get'>;
export type RotatedSigningKey = ResponseBody<'/v1/admin/signing-keys/rotate', 'post', 201>;

export type Health = ResponseBody<'/health/live', 'get'>;
export type ServerInfo = ResponseBody<'/info', 'get'>;
/** The readiness probe's answer; `ready` is false when the server answered 503 (storage unreachable). */
export type Readiness = Health & { ready: boolean };
// The two documents below have no schema in openapi/v1.json (they follow RFC 7517 and OpenID
// Connect Discovery), so their shapes are declared here, loosely.
/** The public keys that sign built-in access tokens (RFC 7517). */
export interface Jwks {
  keys: (Record<string, unknown> & { kid?: string; kty: string; alg?: string })[];
}
/** Issuer metadata of the built-in provider (OpenID Connect Discovery). */
export interface OpenIdConfiguration {
  issuer: string;
  jwks_uri: string;
  [field: string]: unknown;
}
