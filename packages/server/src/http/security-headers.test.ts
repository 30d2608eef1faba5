import { beforeAll, describe, expect, it } from 'vitest';
import { attemptRefusedUpgrade } from '../test-support/realtime-fixtures.js';
import { registerUser, useTestServer, type TestUser } from '../test-support/server.js';

/** What a browser (or a proxy cache) sees on every kind of response. */
describe('security headers', () => {
  const ctx = useTestServer();
  let alice: TestUser;

  beforeAll(async () => {
    alice = await registerUser(ctx.api, 'alice');
  });

  const expectApiHeaders = (headers: Headers, label: string) => {
    expect(headers.get('x-content-type-options'), label).toBe('nosniff');
    expect(headers.get('cache-control'), label).toBe('no-store');
    expect(headers.get('content-security-policy'), label).toBe("default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'");
    expect(headers.get('x-frame-options'), label).toBe('DENY');
    expect(headers.get('referrer-policy'), label).toBe('no-referrer');
    // Served over plain http: HSTS would be meaningless (browsers ignore it there).
    expect(headers.get('strict-transport-security'), label).toBeNull();
  };

  it('puts them on successes, problems, 404s and the public endpoints alike', async () => {
    const answers = {
      me: await ctx.api.get('/v1/users/me', alice.token),
      login: await ctx.api.post('/v1/auth/login', { username: 'alice', password: 'correct horse battery' }),
      unauthorized: await ctx.api.get('/v1/users/me'),
      validation: await ctx.api.post('/v1/conversations', { type: 'nonsense' }, alice.token),
      notFound: await ctx.api.get('/no/such/route'),
      badUrl: await ctx.api.get('/v1/users/%E0%A4%A', alice.token),
      health: await ctx.api.get('/health/live'),
      openapi: await ctx.api.get('/v1/openapi.json'),
    };
    expect(answers.me.status).toBe(200);
    expect(answers.login.status).toBe(200);
    expect(answers.unauthorized.status).toBe(401);
    expect(answers.validation.status).toBe(400);
    expect(answers.notFound.status).toBe(404);
    for (const [label, answer] of Object.entries(answers)) {
      if (label === 'badUrl') {
        // Written before any hook: the baseline only.
        expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
        expect(answer.headers.get('cache-control')).toBe('no-store');
      } else {
        expectApiHeaders(answer.headers, label);
      }
    }
  });

  it('refuses a WebSocket upgrade with nosniff and no-store too', async () => {
    const refused = await attemptRefusedUpgrade(ctx.url);
    expect(refused.status).toBe(401);
    expect(refused.headers['x-content-type-options']).toBe('nosniff');
    expect(refused.headers['cache-control']).toBe('no-store');
  });

  it('lets Swagger UI at /docs render: the page and its assets answer, under a CSP that allows them', async () => {
    const page = await ctx.api.get('/docs/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self'/);
    expect(csp).toMatch(/style-src 'self'/);
    // Plain-http deployments (the default) must still load the assets.
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const assets = [...page.text.matchAll(/(?:src|href)="\.\/(static\/[^"]+)"/g)].map((match) => match[1]);
    expect(assets).toEqual(expect.arrayContaining(['static/swagger-ui-bundle.js', 'static/swagger-initializer.js', 'static/swagger-ui.css']));
    for (const asset of assets) {
      const response = await ctx.api.get(`/docs/${asset}`);
      expect(response.status, asset).toBe(200);
    }
    const initializer = await ctx.api.get('/docs/static/swagger-initializer.js');
    expect(initializer.headers.get('content-type')).toContain('javascript');
    expect((await ctx.api.get('/docs/json')).status).toBe(200);
  });
});

describe('security headers behind https', () => {
  const ctx = useTestServer({ env: { PUBLIC_URL: 'https://chat.example.com' } });

  it('sends Strict-Transport-Security when the public URL is https', async () => {
    const response = await ctx.api.get('/health/live');
    expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000');
  });
});
