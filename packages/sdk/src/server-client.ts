/**
 * Clients for back ends, authenticated by a secret rather than a user session: the tenant's API
 * key (`sk_…`) for a product's back end, and the operator key (`PARLEY_ADMIN_KEY`) for whoever
 * runs the Parley deployment. Keep both secrets on servers: never ship them to a browser.
 */
import { createTransport, staticCredential, type FetchLike } from './http.js';
import { conversationsApi, type ConversationsApi } from './rest/conversations.js';
import { messagesApi, type MessagesApi } from './rest/messages.js';
import { moderationApi, type ModerationApi } from './rest/moderation.js';
import { systemApi, type SystemApi } from './rest/system.js';
import { apiKeysApi, identityProvidersApi, operatorApi, type ApiKeysApi, type IdentityProvidersApi, type OperatorApi } from './rest/tenants.js';
import { tenantUsersApi, type TenantUsersApi } from './rest/users.js';
import { webhooksApi, type WebhooksApi } from './rest/webhooks.js';

export interface ServerClientOptions {
  /** Base URL of the Parley server, e.g. `https://chat.example.com`. */
  baseUrl: string;
  /** The tenant's API key (`sk_…`). */
  apiKey: string;
  /** Defaults to `globalThis.fetch`. */
  fetch?: FetchLike | typeof fetch;
}

/**
 * Everything a tenant's API key may call. It acts on anything of its own tenant and nothing of
 * another: messages it sends are system messages (`senderId: null`, `system: true`); it cannot
 * react, and it has no conversation list of its own.
 */
export interface ServerClient {
  /** Create or update the tenant's users, mint their access tokens, delete them. */
  readonly users: TenantUsersApi;
  /** Any conversation of the tenant (a direct one names both users). */
  readonly conversations: ConversationsApi;
  /** System messages, history, edits and deletion in any conversation of the tenant. */
  readonly messages: Omit<MessagesApi, 'addReaction' | 'removeReaction'>;
  /** Mutes and bans in any conversation of the tenant. */
  readonly moderation: ModerationApi;
  /** The tenant's webhooks. */
  readonly webhooks: WebhooksApi;
  /** The tenant's API keys (rotate: create the new key, deploy it, revoke the old one). */
  readonly apiKeys: ApiKeysApi;
  /** The tenant's OpenID Connect identity providers. */
  readonly identityProviders: IdentityProvidersApi;
  /** Health, info, metrics and published keys. */
  readonly system: SystemApi;
}

export function createServerClient(options: ServerClientOptions): ServerClient {
  const api = createTransport({ baseUrl: options.baseUrl, fetch: options.fetch, credential: staticCredential(options.apiKey) });
  const { addReaction: _addReaction, removeReaction: _removeReaction, ...messages } = messagesApi(api);
  return {
    users: tenantUsersApi(api),
    conversations: conversationsApi(api),
    messages,
    moderation: moderationApi(api),
    webhooks: webhooksApi(api),
    apiKeys: apiKeysApi(api),
    identityProviders: identityProvidersApi(api),
    system: systemApi(api),
  };
}

export interface AdminClientOptions {
  baseUrl: string;
  /** The operator key, `PARLEY_ADMIN_KEY` of the server. */
  adminKey: string;
  fetch?: FetchLike | typeof fetch;
}

/** Everything the operator key may call: tenants, any tenant's keys and identity providers, signing keys. */
export interface AdminClient extends OperatorApi {
  readonly apiKeys: ApiKeysApi;
  readonly identityProviders: IdentityProvidersApi;
  readonly system: SystemApi;
}

export function createAdminClient(options: AdminClientOptions): AdminClient {
  const api = createTransport({ baseUrl: options.baseUrl, fetch: options.fetch, credential: staticCredential(options.adminKey) });
  return { ...operatorApi(api), apiKeys: apiKeysApi(api), identityProviders: identityProvidersApi(api), system: systemApi(api) };
}
