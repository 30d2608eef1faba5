/**
 * Tenant API key rotation across two `node dist/main.js` processes on one Redis (these tests need
 * the build): a key created on one node works on the other, and once revoked on one node the other
 * refuses it with the very next request, while the tenant's other key keeps working.
 */
import { describe, expect, it } from 'vitest';
import { createApiClient } from './test-support/api-client.js';
import { useNodePair } from './test-support/node-pair.js';

const ADMIN_KEY = 'process-admin-key-0123456789abcdef0123456789';

describe('tenant API keys on two nodes', () => {
  const nodes = useNodePair({ PARLEY_ADMIN_KEY: ADMIN_KEY });

  it('refuses a key on node B right after node A revoked it; the other key keeps working on both', async () => {
    const a = createApiClient(nodes.a.url);
    const b = createApiClient(nodes.b.url);
    const tenant = await a.post('/v1/tenants', { id: 'acme', name: 'Acme' }, ADMIN_KEY);
    expect(tenant.status).toBe(201);
    const firstKey: string = tenant.body.apiKey;

    const second = await a.post('/v1/tenants/acme/api-keys', {}, firstKey);
    expect(second.status).toBe(201);
    const secondKey: string = second.body.apiKey;

    // Used on B, again and again: whatever B keeps must not outlive the revocation.
    for (let i = 0; i < 5; i++) {
      const upserted = await b.put(`/v1/users/u${i}`, { displayName: `User ${i}` }, secondKey);
      expect(upserted.status).toBe(201);
    }
    expect((await b.get('/v1/tenants/acme/api-keys', secondKey)).body.items).toHaveLength(2);

    expect((await a.delete(`/v1/tenants/acme/api-keys/${second.body.id}`, firstKey)).status).toBe(204);
    const refused = await b.get('/v1/users/u0', secondKey);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('invalid_token');
    expect((await a.get('/v1/users/u0', secondKey)).status).toBe(401);

    for (const node of [a, b]) {
      const read = await node.get('/v1/users/u0', firstKey);
      expect(read.status).toBe(200);
      expect(read.body.displayName).toBe('User 0');
    }
    const listed = await b.get('/v1/tenants/acme/api-keys', firstKey);
    expect(listed.body.items.map((item: { id: string }) => item.id)).not.toContain(second.body.id);
    expect(listed.body.items).toHaveLength(1);
  });
});
