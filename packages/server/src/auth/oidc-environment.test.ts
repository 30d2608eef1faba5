/**
 * OIDC_ISSUER / OIDC_AUDIENCE: the default tenant's provider `oidc`, ensured at start. An issuer
 * that is down at start does not stop Parley; its metadata is fetched when a token arrives.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startTinyIssuer, type TinyIssuer } from '../test-support/openid-provider.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../test-support/server.js';

const now = () => Math.floor(Date.now() / 1000);

describe('the identity provider of the environment', () => {
  const running: { close?: () => Promise<void>; stop?: () => Promise<void> }[] = [];
  afterEach(async () => {
    for (const item of running.splice(0).reverse()) await (item.stop ?? item.close)?.();
  });
  const track = <T extends { close?: () => Promise<void>; stop?: () => Promise<void> }>(item: T): T => {
    running.push(item);
    return item;
  };
  const env = (issuer: TinyIssuer | { issuer: string }) => ({ OUTBOUND_ALLOWED_HOSTS: '127.0.0.1', OIDC_ISSUER: issuer.issuer, OIDC_AUDIENCE: 'b2c-app', OIDC_ALGORITHMS: 'ES256' });

  it("signs the issuer's users into the default tenant as provider `oidc`", async () => {
    const issuer = track(await startTinyIssuer());
    const server: TestServer = track(await startTestServer({ env: env(issuer) }));
    const stored = await server.api.get('/v1/tenants/default/identity-providers/oidc', ADMIN_KEY);
    expect(stored.body).toMatchObject({ issuer: issuer.issuer, audience: 'b2c-app', algorithms: ['ES256'], jwksUri: `${issuer.issuer}/jwks` });
    const subject = `google-oauth2|${randomUUID()}`;
    const token = await issuer.sign({ aud: 'b2c-app', sub: subject, name: '  Dana Example  ', exp: now() + 300 });
    const me = await server.api.get('/v1/users/me', token);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ displayName: 'Dana Example', identity: { provider: 'oidc', subject } });
    expect((await server.api.get(`/v1/users/${me.body.id}`, (await server.api.post('/v1/auth/register', { username: `reg${process.pid}`, password: 'correct horse battery' })).body.accessToken)).status).toBe(200);
  });

  it('starts while the issuer is down, and accepts its tokens once it is up', async () => {
    const probe = await startTinyIssuer();
    const url = new URL(probe.issuer);
    await probe.close();
    const server: TestServer = track(await startTestServer({ env: env(probe) }));
    expect((await server.api.get('/v1/tenants/default/identity-providers/oidc', ADMIN_KEY)).body).toMatchObject({ issuer: probe.issuer, jwksUri: '' });
    const issuer = track(await startTinyIssuer({ port: Number(url.port) }));
    const token = await issuer.sign({ aud: 'b2c-app', sub: 'late-user', exp: now() + 300 });
    const me = await server.api.get('/v1/users/me', token);
    expect(me.status).toBe(200);
    expect(me.body.identity).toEqual({ provider: 'oidc', subject: 'late-user' });
  });
});
