import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('defaults to the embedded engine on 127.0.0.1:8080', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, host: '127.0.0.1', redis: null, keyPrefix: 'parley:', maxGroupMembers: 10_000 });
    expect(config.publicUrl).toBe('http://127.0.0.1:8080');
    expect(config.selfRegistrationTenants).toEqual(['default']);
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

  it('keeps the headers timeout within the request timeout', () => {
    expect(loadConfig({}).http).toEqual({ requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 72_000, maxConnections: 10_000 });
    expect(loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '5000', HTTP_HEADERS_TIMEOUT_MS: '20000' }).http).toMatchObject({
      requestTimeoutMs: 5000,
      headersTimeoutMs: 5000,
    });
    expect(() => loadConfig({ HTTP_MAX_CONNECTIONS: '0' })).toThrow(/HTTP_MAX_CONNECTIONS/);
  });
});
