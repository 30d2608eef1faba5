import { beforeAll, describe, expect, it } from 'vitest';
import { registerUser, useTestServer, type TestServerHandle, type TestUser } from '../test-support/server.js';

const ALLOWED = 'https://app.example.com';
const OTHER = 'https://evil.example.net';

const corsHeaders = (headers: Headers) => [...headers.keys()].filter((name) => name.startsWith('access-control-'));

const preflight = (server: TestServerHandle, origin: string, method = 'POST') =>
  server.api.request('OPTIONS', '/v1/conversations', {
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' },
  });

describe('CORS with CORS_ORIGINS set', () => {
  const ctx = useTestServer({ env: { CORS_ORIGINS: `${ALLOWED},http://localhost:3000` } });
  let alice: TestUser;

  beforeAll(async () => {
    alice = await registerUser(ctx.api, 'alice');
  });

  it('answers an allowed origin’s preflight with the methods and headers the API uses', async () => {
    const response = await preflight(ctx, ALLOWED);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, PATCH, DELETE');
    expect(response.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type, X-Request-Id, Last-Event-ID');
    expect(response.headers.get('access-control-max-age')).toBe('600');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('vary')).toContain('Origin');
  });

  it('lets an allowed origin read responses and the headers clients need', async () => {
    const response = await ctx.api.request('GET', '/v1/users/me', { token: alice.token, headers: { origin: 'http://localhost:3000' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect(response.headers.get('access-control-expose-headers')).toBe(
      'X-Request-Id, Retry-After, RateLimit, RateLimit-Policy, Location, Deprecation, Sunset',
    );
    // Problems too, so browser code can read the error.
    const problem = await ctx.api.request('GET', '/v1/users/me', { headers: { origin: ALLOWED } });
    expect(problem.status).toBe(401);
    expect(problem.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  it('lets an allowed origin read the SSE stream (EventSource), with the security headers', async () => {
    const response = await fetch(new URL('/v1/events', ctx.url), {
      headers: { origin: ALLOWED, accept: 'text/event-stream', authorization: `Bearer ${alice.token}` },
    });
    try {
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('x-request-id')).toBeTruthy();
    } finally {
      await response.body?.cancel();
    }
  });

  it('gives a disallowed origin no CORS headers at all, on preflights and requests', async () => {
    const refused = await preflight(ctx, OTHER);
    expect(refused.status).toBe(404);
    expect(corsHeaders(refused.headers)).toEqual([]);
    const request = await ctx.api.request('GET', '/v1/users/me', { token: alice.token, headers: { origin: OTHER } });
    expect(request.status).toBe(200);
    expect(corsHeaders(request.headers)).toEqual([]);
    // An origin differing only by scheme or port is another origin.
    for (const near of ['http://app.example.com', 'https://app.example.com:8443', 'null']) {
      expect(corsHeaders((await preflight(ctx, near)).headers), near).toEqual([]);
    }
  });
});

describe('CORS by default (CORS_ORIGINS unset)', () => {
  const ctx = useTestServer();

  it('sends no CORS headers to anyone', async () => {
    const refused = await preflight(ctx, ALLOWED);
    expect(refused.status).toBe(404);
    expect(corsHeaders(refused.headers)).toEqual([]);
    const response = await ctx.api.request('GET', '/health/live', { headers: { origin: ALLOWED } });
    expect(corsHeaders(response.headers)).toEqual([]);
  });
});
