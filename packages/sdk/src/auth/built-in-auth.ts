/**
 * Sessions of Parley's built-in provider: register, log in, refresh, log out, change password.
 *
 * Guarantees:
 * - The access token is refreshed before it expires: a call made within the refresh margin of
 *   the expiry (by default one minute, at most half the token's lifetime) refreshes first.
 * - Single flight: however many calls need a refresh at once, one `POST /v1/auth/refresh` is
 *   sent and every caller waits for its result. The server rotates refresh tokens and treats a
 *   spent one presented again as theft (revoking the session), so spending it twice would sign
 *   the user out.
 * - The session is saved to the {@link SessionStorage} after every change, so a reload (with a
 *   persistent storage) keeps the user signed in.
 * - A refresh the server refuses (expired or revoked session) signs out: the session is cleared
 *   and listeners are told. A refresh that fails on the network keeps the session for a later try.
 * - A session of another user is never adopted from a shared storage: finding one at refresh
 *   time signs this client out (listeners are told; the storage keeps the other user's session).
 */
import { CLIENT_ERROR_CODES, ParleyError } from '../errors.js';
import { ANONYMOUS, createTransport, expectData, expectSuccess, type CredentialSource, type FetchLike, type ParleyApi } from '../http.js';
import type { ChangePasswordInput, LoginInput, RegisterInput, TokenPair, User } from '../rest/types.js';
import { callEach } from '../realtime/emitter.js';
import { memorySessionStorage, type SessionStorage, type StoredSession } from './session-storage.js';

export interface BuiltInAuthOptions {
  baseUrl: string;
  fetch?: FetchLike | typeof fetch | undefined;
  /** Where the session is kept; defaults to memory (a reload signs out). */
  storage?: SessionStorage | undefined;
  /** Refresh this long before the access token expires (ms, default 60 000; capped at half its lifetime). */
  refreshMarginMs?: number | undefined;
  /** The clock, in ms since the epoch (tests move it forward). */
  now?: (() => number) | undefined;
}

/** Told the new session after each sign-in, refresh and sign-out (`null`). */
export type SessionListener = (session: StoredSession | null) => void;

const DEFAULT_REFRESH_MARGIN_MS = 60_000;

export class BuiltInAuth implements CredentialSource {
  readonly #public: ParleyApi;
  readonly #authenticated: ParleyApi;
  readonly #storage: SessionStorage;
  readonly #marginMs: number;
  readonly #now: () => number;
  readonly #listeners = new Set<SessionListener>();
  #session: StoredSession | null = null;
  #loading: Promise<void> | null = null;
  #refreshing: Promise<StoredSession> | null = null;
  /** Bumped by every sign-in and sign-out, so a refresh that was in flight does not bring an old session back. */
  #generation = 0;

  constructor(options: BuiltInAuthOptions) {
    this.#public = createTransport({ baseUrl: options.baseUrl, fetch: options.fetch, credential: ANONYMOUS });
    this.#authenticated = createTransport({ baseUrl: options.baseUrl, fetch: options.fetch, credential: this });
    this.#storage = options.storage ?? memorySessionStorage();
    this.#marginMs = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Creates a user with a password (self-registration must be open for the tenant) and signs in. */
  async register(input: RegisterInput): Promise<User> {
    return this.#signIn(await expectData(this.#public.POST('/v1/auth/register', { body: input })));
  }

  /** Signs in with username and password (401 `invalid_credentials` whether or not the user exists). */
  async login(input: LoginInput): Promise<User> {
    return this.#signIn(await expectData(this.#public.POST('/v1/auth/login', { body: input })));
  }

  /**
   * Changes the password. The server signs out every other session of the user; this client
   * continues with the new session it answers.
   */
  async changePassword(input: ChangePasswordInput): Promise<User> {
    return this.#signIn(await expectData(this.#authenticated.POST('/v1/auth/password', { body: input })));
  }

  /**
   * Signs out: revokes the session's refresh tokens on the server and clears the stored session.
   * The local session is cleared even when the server cannot be reached (the error is then thrown).
   */
  async logout(): Promise<void> {
    const session = await this.session();
    if (session === null) return;
    await this.#replace(null);
    try {
      await expectSuccess(this.#public.POST('/v1/auth/logout', { body: { refreshToken: session.refreshToken } }));
    } catch (error) {
      // Already revoked or expired on the server: signed out all the same.
      if (!(error instanceof ParleyError) || error.status !== 401) throw error;
    }
  }

  /** The current session (loaded from the storage on first use), or null when signed out. */
  async session(): Promise<StoredSession | null> {
    this.#loading ??= Promise.resolve(this.#storage.load()).then((stored) => {
      // A sign-in that finished while the storage was loading wins over what was stored.
      if (this.#generation === 0) this.#session = stored;
    });
    await this.#loading;
    return this.#session;
  }

  /** Calls `listener` after every sign-in, refresh and sign-out; returns the function that stops it. */
  onSessionChange(listener: SessionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * A valid access token, refreshed first when it is within the margin of its expiry.
   * Rejects with {@link ParleyError} `not_signed_in` when there is no session.
   */
  async getToken(): Promise<string> {
    const session = await this.session();
    if (session === null) throw notSignedIn();
    if (!this.#isDue(session)) return session.accessToken;
    return (await this.refresh()).accessToken;
  }

  /**
   * Spends the refresh token for a new pair now, whatever the expiry. Concurrent calls share one
   * request. Rejects with the server's error when it refuses (the session is then cleared).
   */
  refresh(): Promise<StoredSession> {
    this.#refreshing ??= this.#refreshOnce().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  /** {@link CredentialSource}: the token for the next user call. */
  token(): Promise<string> {
    return this.getToken();
  }

  /** {@link CredentialSource}: after a 401, refreshes (once for all concurrent callers) unless that already happened. */
  async refused(token: string): Promise<boolean> {
    const session = await this.session();
    if (session === null) return false;
    if (session.accessToken !== token) return true;
    try {
      await this.refresh();
      return true;
    } catch (error) {
      // The server refused the refresh too: surface the original 401; a network failure propagates.
      if (error instanceof ParleyError && !error.isNetworkError) return false;
      throw error;
    }
  }

  async #refreshOnce(): Promise<StoredSession> {
    const current = await this.session();
    if (current === null) throw notSignedIn();
    const generation = this.#generation;
    // Another client sharing the storage (another tab) may have refreshed already: adopt its
    // session rather than spend a refresh token it spent.
    const stored = await this.#storage.load();
    if (stored !== null && stored.user.id !== current.user.id) {
      // Another user signed in on a client sharing the storage (a second account in the same
      // browser profile). This client's views, store and outbox are its own user's: continuing
      // as the other would send its queued messages under the other's name. It is signed out
      // here; the stored session, the other client's, is left alone.
      if (generation === this.#generation) this.#signOutLocally();
      throw notSignedIn();
    }
    if (stored !== null && stored.refreshToken !== current.refreshToken && !this.#isDue(stored)) {
      this.#session = stored;
      this.#notify();
      return stored;
    }
    let pair: TokenPair;
    try {
      pair = await expectData(this.#public.POST('/v1/auth/refresh', { body: { refreshToken: current.refreshToken } }));
    } catch (error) {
      // Refused (expired, revoked, reused): the session is over. The network: keep it for a later try.
      if (error instanceof ParleyError && !error.isNetworkError && error.status < 500 && generation === this.#generation) await this.#replace(null);
      throw error;
    }
    const next = this.#toSession(pair);
    if (generation === this.#generation) {
      this.#session = next;
      await this.#storage.save(next);
      this.#notify();
    }
    return next;
  }

  async #signIn(pair: TokenPair): Promise<User> {
    await this.#replace(this.#toSession(pair));
    return pair.user;
  }

  async #replace(session: StoredSession | null): Promise<void> {
    this.#generation++;
    this.#session = session;
    await this.#storage.save(session);
    this.#notify();
  }

  /** Signed out in this client only: the storage is not written. */
  #signOutLocally(): void {
    this.#generation++;
    this.#session = null;
    this.#notify();
  }

  #toSession(pair: TokenPair): StoredSession {
    const lifetimeMs = pair.expiresIn * 1000;
    return {
      user: pair.user,
      accessToken: pair.accessToken,
      refreshToken: pair.refreshToken,
      accessTokenExpiresAt: this.#now() + lifetimeMs,
      accessTokenLifetimeMs: lifetimeMs,
    };
  }

  #isDue(session: StoredSession): boolean {
    const margin = Math.min(this.#marginMs, session.accessTokenLifetimeMs / 2);
    return this.#now() >= session.accessTokenExpiresAt - margin;
  }

  #notify(): void {
    // A throwing listener must not stop the others, nor fail the sign-in or refresh that notified.
    callEach(this.#listeners, this.#session);
  }
}

function notSignedIn(): ParleyError {
  return new ParleyError({ status: 401, code: CLIENT_ERROR_CODES.notSignedIn, title: 'Not signed in', detail: 'register or log in first' });
}
