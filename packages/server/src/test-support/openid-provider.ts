/**
 * Identity providers for tests, on 127.0.0.1 ephemeral ports (Parley reaches them with
 * OUTBOUND_ALLOWED_HOSTS=127.0.0.1):
 *   - startOpenIdProvider: a real OpenID Provider (the `oidc-provider` package) issuing JWT access
 *     tokens for one resource indicator (the audience), by client credentials and by authorization
 *     code + PKCE driven over HTTP (a custom interaction finishes login and consent at once);
 *   - startTinyIssuer: a discovery document and a JWKS whose keys a test rotates, with tokens the
 *     test signs itself.
 * Both count the JWKS requests they answer, so a test sees what Parley fetched.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';

export const SERVICE_CLIENT = { id: 'reports-service', secret: 'reports-service-secret-0123456789abcdef' };
/** The public client of the authorization code flow; also the `aud` of its ID tokens. */
export const APP_CLIENT = 'chat-web-app';
const APP_REDIRECT = 'https://app.example.com/callback';

export interface OpenIdProvider {
  readonly issuer: string;
  /** RS256 signing key of the provider, for tokens a test forges with the provider's own key. */
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly kid: string;
  /** JWKS requests answered so far. */
  jwksRequests(): number;
  /** An access token by the client credentials grant (its `sub` is the client id). */
  clientCredentialsToken(): Promise<string>;
  /** An authorization code + PKCE login of `subject`: the access token and the ID token. */
  login(subject: string): Promise<{ accessToken: string; idToken: string }>;
  close(): Promise<void>;
}

async function listen(handler: http.RequestListener, port = 0): Promise<{ server: http.Server; origin: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export async function startOpenIdProvider(options: { audience: string }): Promise<OpenIdProvider> {
  const { audience } = options;
  const kid = `op-${randomUUID()}`;
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  let jwksRequests = 0;
  let handle: http.RequestListener = () => undefined;
  const { server, origin } = await listen((req, res) => handle(req, res));

  const provider = new Provider(origin, {
    clients: [
      {
        client_id: SERVICE_CLIENT.id,
        client_secret: SERVICE_CLIENT.secret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
      {
        client_id: APP_CLIENT,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [APP_REDIRECT],
      },
    ],
    jwks: { keys: [privateJwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub, name: `Name of ${sub}`, preferred_username: sub }) }),
    // What Parley maps to a display name and username travels in the access token too.
    extraTokenClaims: (_ctx, token) =>
      'accountId' in token && typeof token.accountId === 'string' ? { name: `Name of ${token.accountId}`, preferred_username: token.accountId } : undefined,
    ttl: { AccessToken: 300, ClientCredentials: 300, IdToken: 300, Interaction: 300, Grant: 300, Session: 300, AuthorizationCode: 60 },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'api', audience, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      },
    },
  });
  const callback = provider.callback();

  handle = (req, res) => {
    if (req.url?.startsWith('/jwks')) jwksRequests += 1;
    if (!req.url?.startsWith('/interaction/')) {
      // Koa's handler answers errors itself; its promise only tells when it is done.
      Promise.resolve(callback(req, res)).catch(() => res.destroy());
      return;
    }
    // The "login page": signs in the login_hint and grants the resource's scope, no browser needed.
    (async () => {
      const details = await provider.interactionDetails(req, res);
      const accountId = String(details.params.login_hint);
      const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
      grant.addOIDCScope('openid profile');
      grant.addResourceScope(audience, 'api');
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
    })().catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  };

  async function tokenRequest(form: Record<string, string>, authorization?: string): Promise<Record<string, string>> {
    const response = await fetch(`${origin}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
      body: new URLSearchParams(form),
    });
    const body = (await response.json()) as Record<string, string>;
    if (response.status !== 200) throw new Error(`token endpoint: ${response.status} ${JSON.stringify(body)}`);
    return body;
  }

  return {
    issuer: origin,
    privateKey,
    publicJwk,
    kid,
    jwksRequests: () => jwksRequests,

    async clientCredentialsToken() {
      const basic = `Basic ${Buffer.from(`${SERVICE_CLIENT.id}:${SERVICE_CLIENT.secret}`).toString('base64')}`;
      const body = await tokenRequest({ grant_type: 'client_credentials', resource: audience, scope: 'api' }, basic);
      return body.access_token!;
    },

    async login(subject) {
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const cookies = new Map<string, string>();
      const go = async (url: string): Promise<string> => {
        const response = await fetch(url, {
          redirect: 'manual',
          headers: { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') },
        });
        for (const line of response.headers.getSetCookie()) {
          const [pair = ''] = line.split(';');
          const at = pair.indexOf('=');
          cookies.set(pair.slice(0, at), pair.slice(at + 1));
        }
        const location = response.headers.get('location');
        if (location === null) throw new Error(`authorization flow stopped at ${url}: ${response.status} ${await response.text()}`);
        return new URL(location, url).href;
      };
      const authorize = new URL(`${origin}/auth`);
      for (const [name, value] of Object.entries({
        client_id: APP_CLIENT,
        response_type: 'code',
        redirect_uri: APP_REDIRECT,
        scope: 'openid profile api',
        resource: audience,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: randomUUID(),
        nonce: randomUUID(),
        login_hint: subject,
      })) {
        authorize.searchParams.set(name, value);
      }
      let url = authorize.href;
      // /auth → /interaction/<uid> → /auth/<uid> (resume) → the redirect URI with the code.
      for (let hops = 0; !url.startsWith(APP_REDIRECT); hops++) {
        if (hops > 5) throw new Error('authorization flow did not reach the redirect URI');
        url = await go(url);
      }
      const code = new URL(url).searchParams.get('code');
      if (code === null) throw new Error(`no code in ${url}`);
      const body = await tokenRequest({
        grant_type: 'authorization_code',
        code,
        redirect_uri: APP_REDIRECT,
        code_verifier: verifier,
        client_id: APP_CLIENT,
        resource: audience,
      });
      return { accessToken: body.access_token!, idToken: body.id_token! };
    },

    close: () => close(server),
  };
}

export interface TinyIssuer {
  readonly issuer: string;
  readonly kid: string;
  /** Signs `claims` (iss defaults to the issuer) with the current key, or another one. */
  sign(claims: JWTPayload, options?: { kid?: string; key?: CryptoKey }): Promise<string>;
  /** Replaces the published key by a new one (new kid); tokens are signed with it from now on. */
  rotate(): Promise<void>;
  jwksRequests(): number;
  close(): Promise<void>;
}

/** `port`: listen there (a test restarts an issuer at the URL Parley knows); default any free port. */
export async function startTinyIssuer(options: { port?: number } = {}): Promise<TinyIssuer> {
  let current = await newKey();
  let jwksRequests = 0;
  const { server, origin } = await listen((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') {
      res.end(JSON.stringify({ issuer: origin, jwks_uri: `${origin}/jwks` }));
    } else if (req.url === '/jwks') {
      jwksRequests += 1;
      res.end(JSON.stringify({ keys: [current.publicJwk] }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  }, options.port);
  return {
    issuer: origin,
    get kid() {
      return current.kid;
    },
    async sign(claims, options = {}) {
      return new SignJWT({ iss: origin, ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? current.kid, typ: 'at+jwt' })
        .sign(options.key ?? current.privateKey);
    },
    async rotate() {
      current = await newKey();
    },
    jwksRequests: () => jwksRequests,
    close: () => close(server),
  };
}

async function newKey(): Promise<{ kid: string; privateKey: CryptoKey; publicJwk: JWK }> {
  const kid = `tiny-${randomUUID()}`;
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}
