import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { findBreakingChanges } from './breaking-changes.js';

const FROZEN_V1 = new URL('../../../../openapi/v1.json', import.meta.url);

describe('the v1 contract', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('is served as OpenAPI 3.1 at /v1/openapi.json', async () => {
    const response = await server.api.get('/v1/openapi.json');
    expect(response.status).toBe(200);
    expect(response.body.openapi).toBe('3.1.0');
    expect(Object.keys(response.body.paths)).toContain('/v1/conversations/{id}/messages');
  });

  it('has a browsable view at /docs', async () => {
    const response = await server.api.get('/docs/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
  });

  it('keeps every path, method, response field and enum value of the committed openapi/v1.json', async () => {
    const frozen = JSON.parse(readFileSync(FROZEN_V1, 'utf8'));
    const served = (await server.api.get('/v1/openapi.json')).body;
    // An empty list is the only passing answer; on failure the list names each break.
    expect(findBreakingChanges(frozen, served)).toEqual([]);
  });
});
