/**
 * Tokens from the application instead of the built-in provider: an external OpenID Connect
 * provider's access token (Auth0, Keycloak, Okta…), or a token the application's back end minted
 * with its tenant key and hands to its front end.
 */
import type { CredentialSource } from '../http.js';

/** Why the SDK asks for a token. */
export interface TokenRequest {
  /**
   * Set when the server refused this token (401): return a fresh one (e.g. bypass a token cache),
   * or the same one to give up (the call then fails with that 401).
   */
  refused?: string;
}

/**
 * Returns a currently valid access token. Called before every request and realtime connection,
 * so it should answer from a cache and renew the token itself ahead of its expiry.
 */
export type TokenProvider = (request?: TokenRequest) => Promise<string>;

/** A credential source asking `getToken` for each request, and once more after a 401. */
export function tokenProviderCredential(getToken: TokenProvider): CredentialSource {
  return {
    token: () => getToken(),
    async refused(token) {
      return (await getToken({ refused: token })) !== token;
    },
  };
}
