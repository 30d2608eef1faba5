/**
 * Where a built-in session is kept between page loads: in memory by default (gone on reload),
 * in `localStorage`/`sessionStorage` with {@link webSessionStorage}, or anywhere an application
 * implements {@link SessionStorage} (IndexedDB, a mobile keychain, a file in a CLI).
 */
import type { User } from '../rest/types.js';

/** A signed-in session of the built-in provider, as persisted. */
export interface StoredSession {
  /** The signed-in user, as the last sign-in or refresh returned it. */
  user: User;
  accessToken: string;
  /** Spent by the next refresh: the server rotates it, and presenting a spent one again revokes the session. */
  refreshToken: string;
  /** When the access token expires, in ms since the epoch by this client's clock (time received + `expiresIn`), so server clock skew does not matter. */
  accessTokenExpiresAt: number;
  /** The access token's lifetime in ms, so the refresh margin can be capped to a fraction of it. */
  accessTokenLifetimeMs: number;
}

/**
 * Persists the session. The SDK calls `load` once, before the first call that needs it, and
 * `save` after every sign-in, refresh and sign-out (`null`), in that order, never concurrently
 * for one client. Several clients (browser tabs) may share one storage: before spending its
 * refresh token, a client reloads the storage and adopts a session another client refreshed
 * for the same user (a session of another user signs that client out instead).
 */
export interface SessionStorage {
  load(): Promise<StoredSession | null> | StoredSession | null;
  save(session: StoredSession | null): Promise<void> | void;
}

/** Keeps the session in memory only: the default (a reload signs out). */
export function memorySessionStorage(): SessionStorage {
  let stored: StoredSession | null = null;
  return {
    load: () => stored,
    save: (session) => {
      stored = session;
    },
  };
}

/** The part of the Web Storage API that {@link webSessionStorage} uses (so a test or a polyfill can provide it). */
export type WebStorageLike = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/**
 * Keeps the session in Web Storage under `key`: `localStorage` keeps it across reloads and shares
 * it between tabs, `sessionStorage` keeps it per tab. A value that does not parse is ignored (signed out).
 */
export function webSessionStorage(storage: WebStorageLike, key = 'parley.session'): SessionStorage {
  return {
    load() {
      const raw = storage.getItem(key);
      if (raw === null) return null;
      try {
        const parsed = JSON.parse(raw) as Partial<StoredSession> | null;
        return isStoredSession(parsed) ? parsed : null;
      } catch {
        return null;
      }
    },
    save(session) {
      if (session === null) storage.removeItem(key);
      else storage.setItem(key, JSON.stringify(session));
    },
  };
}

function isStoredSession(value: Partial<StoredSession> | null): value is StoredSession {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof value.accessToken === 'string' &&
    typeof value.refreshToken === 'string' &&
    typeof value.accessTokenExpiresAt === 'number' &&
    typeof value.accessTokenLifetimeMs === 'number' &&
    typeof value.user === 'object' &&
    value.user !== null
  );
}
