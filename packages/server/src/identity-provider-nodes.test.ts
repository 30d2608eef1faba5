/**
 * External identity providers across `node dist/main.js` processes sharing one Redis: the provider
 * of OIDC_ISSUER / OIDC_AUDIENCE signs the same user in on every node, and deleting it on one node
 * refuses its tokens on the other, cached ones included. Needs the build (`npm test` runs it first).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiClient } from './test-support/api-client.js';
import { startTinyIssuer, type TinyIssuer } from './test-support/openid-provider.js';
import { useNodePair } from './test-support/node-pair.js';
import { ADMIN_KEY } from './test-support/server.js';

const now = () => Math.floor(Date.now() / 1000);

describe('an external identity provider on two node processes', () => {
  let issuer: TinyIssuer | undefined;
  // Started together: both ensure the same provider at once.
  const nodes = useNodePair(async () => {
    issuer = await startTinyIssuer();
    return { PARLEY_ADMIN_KEY: ADMIN_KEY, OUTBOUND_ALLOWED_HOSTS: '127.0.0.1', OIDC_ISSUER: issuer.issuer, OIDC_AUDIENCE: 'b2c-app' };
  });
  afterAll(async () => {
    await issuer?.close();
  });
  const idp = (): TinyIssuer => {
    if (!issuer) throw new Error('the issuer runs only inside the suite');
    return issuer;
  };

  it('signs one subject in as one user on both nodes, even when its first requests race', async () => {
    const subject = `auth0|${randomUUID()}`;
    const tokens = await Promise.all(Array.from({ length: 6 }, () => idp().sign({ aud: 'b2c-app', sub: subject, exp: now() + 300 })));
    const responses = await Promise.all(tokens.map((token, i) => createApiClient((i % 2 === 0 ? nodes.a : nodes.b).url).get('/v1/users/me', token)));
    expect(responses.map((r) => r.status)).toEqual(tokens.map(() => 200));
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(responses[0]!.body.identity).toEqual({ provider: 'oidc', subject });
  });

  it('refuses the tokens of a provider deleted on the other node, also one it had accepted', async () => {
    const token = await idp().sign({ aud: 'b2c-app', sub: 'soon-refused', exp: now() + 300 });
    const b = createApiClient(nodes.b.url);
    expect((await b.get('/v1/users/me', token)).status).toBe(200);
    expect((await createApiClient(nodes.a.url).delete('/v1/tenants/default/identity-providers/oidc', ADMIN_KEY)).status).toBe(204);
    const deadline = Date.now() + 5000;
    let status = 200;
    while (status !== 401 && Date.now() < deadline) {
      status = (await b.get('/v1/users/me', token)).status;
      if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(status).toBe(401);
  });
});
