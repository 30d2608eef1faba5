import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('defaults to the embedded engine on 127.0.0.1:8080', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, host: '127.0.0.1', redis: null, keyPrefix: 'parley:', maxGroupMembers: 10_000 });
    expect(config.publicUrl).toBe('http://127.0.0.1:8080');
    expect(config.selfRegistrationTenants).toEqual(['default']);
  });

  it('reads SELF_REGISTRATION_TENANTS as a list, and off as none', () => {
    expect(loadConfig({ SELF_REGISTRATION_TENANTS: 'default, acme' }).selfRegistrationTenants).toEqual(['default', 'acme']);
    expect(loadConfig({ SELF_REGISTRATION_TENANTS: 'off' }).selfRegistrationTenants).toEqual([]);
    expect(loadConfig({ SELF_REGISTRATION_TENANTS: '' }).selfRegistrationTenants).toEqual(['default']);
  });

  it('converts numbers and booleans and chooses Redis when REDIS_URL is set', () => {
    const config = loadConfig({ PORT: '9000', REDIS_URL: 'redis://localhost:6380', TRUST_PROXY: 'true' });
    expect(config.port).toBe(9000);
    expect(config.trustProxy).toBe(true);
    expect(config.redis).toEqual({ url: 'redis://localhost:6380', sentinelName: 'mymaster' });
  });

  it('parses cluster and sentinel node lists', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000,b:7001' }).redis?.clusterNodes).toEqual(['a:7000', 'b:7001']);
    expect(loadConfig({ REDIS_SENTINELS: 'h1:26379,h2:26380', REDIS_SENTINEL_NAME: 'main' }).redis).toMatchObject({
      sentinels: [{ host: 'h1', port: 26379 }, { host: 'h2', port: 26380 }],
      sentinelName: 'main',
    });
  });

  it('reads OUTBOUND_ALLOWED_HOSTS as host names and IPs, and refuses anything else', () => {
    expect(loadConfig({}).outbound.allowedHosts).toEqual([]);
    expect(loadConfig({ OUTBOUND_ALLOWED_HOSTS: '127.0.0.1,idp.internal,[::1],fd00::5' }).outbound.allowedHosts).toEqual([
      '127.0.0.1',
      'idp.internal',
      '[::1]',
      'fd00::5',
    ]);
    for (const bad of ['https://idp.internal', 'idp.internal:8443', 'a,,b', 'a b', '*.example.com', 'idp/x']) {
      expect(() => loadConfig({ OUTBOUND_ALLOWED_HOSTS: bad }), bad).toThrow(/OUTBOUND_ALLOWED_HOSTS/);
    }
  });

  it('reads OIDC_ISSUER, OIDC_AUDIENCE and OIDC_ALGORITHMS together, and refuses one without the other', () => {
    expect(loadConfig({}).oidc).toBeNull();
    expect(loadConfig({ OIDC_ISSUER: 'https://idp.example.com/', OIDC_AUDIENCE: 'https://chat.example.com' }).oidc).toEqual({
      issuer: 'https://idp.example.com/',
      audience: 'https://chat.example.com',
    });
    expect(loadConfig({ OIDC_ISSUER: 'https://idp.example.com', OIDC_AUDIENCE: 'chat', OIDC_ALGORITHMS: 'ES256,RS256' }).oidc?.algorithms).toEqual(['ES256', 'RS256']);
    expect(() => loadConfig({ OIDC_ISSUER: 'https://idp.example.com' })).toThrow(/OIDC_ISSUER and OIDC_AUDIENCE/);
    expect(() => loadConfig({ OIDC_AUDIENCE: 'chat' })).toThrow(/OIDC_ISSUER and OIDC_AUDIENCE/);
    expect(() => loadConfig({ OIDC_ALGORITHMS: 'RS256' })).toThrow(/OIDC_ALGORITHMS/);
    for (const bad of ['none', 'HS256', 'RS256,', 'RS256,HS512', 'rs256']) {
      expect(() => loadConfig({ OIDC_ISSUER: 'https://idp.example.com', OIDC_AUDIENCE: 'chat', OIDC_ALGORITHMS: bad }), bad).toThrow(/OIDC_ALGORITHMS/);
    }
    for (const bad of ['idp.example.com', 'ftp://idp.example.com', 'https://idp.example.com/?x=1']) {
      expect(() => loadConfig({ OIDC_ISSUER: bad, OIDC_AUDIENCE: 'chat' }), bad).toThrow(/OIDC_ISSUER/);
    }
  });

  it('names every bad variable and never echoes a secret', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'abc', LOG_LEVEL: 'loud', PARLEY_ADMIN_KEY: 'short-secret' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('PORT');
    expect(message).toContain('LOG_LEVEL');
    expect(message).toContain('PARLEY_ADMIN_KEY');
    expect(message).not.toContain('short-secret');
  });

  it('reads CORS origins as exact origins and refuses paths, wildcards and blanks', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: 'https://app.example.com,http://localhost:3000' }).corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:3000',
    ]);
    for (const bad of ['*', 'https://app.example.com/', 'app.example.com', 'https://a.com,,https://b.com', 'https://a.com, https://b.com']) {
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrow(/CORS_ORIGINS/);
    }
  });

  it('reads TRUST_PROXY as false, true or a list of proxy addresses and ranges', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8,fd00::/8,loopback' }).trustProxy).toEqual(['10.0.0.0/8', 'fd00::/8', 'loopback']);
    for (const bad of ['yes', '1', '10.0.0.0/8,', 'proxy.example.com']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY/);
    }
  });

  it('writes allow-listed origins the way browsers send them', () => {
    const config = loadConfig({ CORS_ORIGINS: 'https://App.Example.com:443', REALTIME_ORIGINS: 'https://App.Example.com/,http://LOCALHOST:3000' });
    expect(config.corsOrigins).toEqual(['https://app.example.com']);
    expect(config.realtime.origins).toEqual(['https://app.example.com', 'http://localhost:3000']);
  });

  it('keeps the headers timeout within the request timeout', () => {
    expect(loadConfig({}).http).toEqual({ requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 72_000, maxConnections: 50_000, listenBacklog: 4096 });
    expect(loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '5000', HTTP_HEADERS_TIMEOUT_MS: '20000' }).http).toMatchObject({
      requestTimeoutMs: 5000,
      headersTimeoutMs: 5000,
    });
    expect(() => loadConfig({ HTTP_MAX_CONNECTIONS: '0' })).toThrow(/HTTP_MAX_CONNECTIONS/);
  });

  it('reads each rate limit as <count>/<window> or off, with the documented defaults', () => {
    expect(loadConfig({}).rateLimits).toEqual({
      SEND: { count: 100, windowMs: 10_000 },
      LOGIN_FAILURES_ACCOUNT: { count: 20, windowMs: 900_000 },
      LOGIN_FAILURES_IP: { count: 100, windowMs: 900_000 },
      REGISTER_IP: { count: 100, windowMs: 3_600_000 },
      SERVER_KEY: { count: 2000, windowMs: 10_000 },
      REALTIME_CONNECT: { count: 60, windowMs: 60_000 },
      USER_LOOKUP: { count: 60, windowMs: 60_000 },
    });
    const config = loadConfig({ RATE_LIMIT_SEND: 'off', RATE_LIMIT_REGISTER_IP: '3/2s', RATE_LIMIT_SERVER_KEY: '5000/1d' });
    expect(config.rateLimits).toMatchObject({ SEND: null, REGISTER_IP: { count: 3, windowMs: 2000 }, SERVER_KEY: { count: 5000, windowMs: 86_400_000 } });
  });

  it('refuses a malformed rate limit at start, naming the variable', () => {
    for (const [value, reason] of [
      ['100', '<count>/<window>'],
      ['100/10', '<count>/<window>'],
      ['0/10s', '<count>/<window>'],
      ['ten/1m', '<count>/<window>'],
      ['100/10w', '<count>/<window>'],
      ['5000/1s', 'more than one per millisecond'],
    ] as const) {
      expect(() => loadConfig({ RATE_LIMIT_LOGIN_FAILURES_IP: value })).toThrow(
        new RegExp(`RATE_LIMIT_LOGIN_FAILURES_IP=${JSON.stringify(value).replaceAll('/', '\\/')}: .*${reason}`),
      );
    }
  });
});
