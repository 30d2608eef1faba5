/**
 * `createParleyClient`: the REST API of one user, with their authentication. Tokens come either
 * from the built-in provider (`client.auth`: register, login, refresh before expiry, single-flight,
 * a persisted session) or from the application's own `getToken` (an external identity provider,
 * or tokens minted by the application's back end).
 */
import { BuiltInAuth } from './auth/built-in-auth.js';
import type { SessionStorage } from './auth/session-storage.js';
import { tokenProviderCredential, type TokenProvider } from './auth/token-provider.js';
import { createTransport, type FetchLike } from './http.js';
import { conversationsApi, type ConversationsApi } from './rest/conversations.js';
import { messagesApi, type MessagesApi } from './rest/messages.js';
import { moderationApi, type ModerationApi } from './rest/moderation.js';
import { systemApi, type SystemApi } from './rest/system.js';
import { usersApi, type UsersApi } from './rest/users.js';

export interface ParleyClientOptions {
  /** Base URL of the Parley server, e.g. `https://chat.example.com` (no `/v1`). */
  baseUrl: string;
  /**
   * Where tokens come from when not from the built-in provider: called before every request (and
   * once more with `{refused}` after a 401), so it should answer from a cache. With it, `auth` is absent.
   */
  getToken?: TokenProvider;
  /** Built-in provider: where the session is kept between page loads (default: memory). */
  storage?: SessionStorage;
  /** Built-in provider: refresh this long before the access token expires (ms, default 60 000, at most half its lifetime). */
  refreshMarginMs?: number;
  /** Defaults to `globalThis.fetch`. */
  fetch?: FetchLike | typeof fetch;
  /** The clock for token expiry, ms since the epoch (tests move it). */
  now?: () => number;
}

/** One user's view of the API. */
export interface ParleyClient {
  /** Base URL the client calls (for the realtime connection). */
  readonly baseUrl: string;
  /** The built-in provider's session; null when the client was created with `getToken`. */
  readonly auth: BuiltInAuth | null;
  /** A valid access token for the realtime connection: refreshed first when due (single-flight), or from `getToken`. */
  getToken(): Promise<string>;
  readonly users: UsersApi;
  readonly conversations: ConversationsApi;
  readonly messages: MessagesApi;
  /** Mutes and bans (owner or admin of the conversation). */
  readonly moderation: ModerationApi;
  readonly system: SystemApi;
}

export function createParleyClient(options: ParleyClientOptions): ParleyClient {
  const { baseUrl, fetch } = options;
  const auth = options.getToken
    ? null
    : new BuiltInAuth({ baseUrl, fetch, storage: options.storage, refreshMarginMs: options.refreshMarginMs, now: options.now });
  const credential = auth ?? tokenProviderCredential(options.getToken!);
  const api = createTransport({ baseUrl, fetch, credential });
  const users = usersApi(api);
  return {
    baseUrl,
    auth,
    getToken: auth ? () => auth.getToken() : () => options.getToken!(),
    users: {
      ...users,
      // A deleted account's refresh token is dead: drop the session instead of failing on the next call.
      async deleteMe() {
        await users.deleteMe();
        await auth?.logout().catch(() => undefined);
      },
    },
    conversations: conversationsApi(api),
    messages: messagesApi(api),
    moderation: moderationApi(api),
    system: systemApi(api),
  };
}
