/**
 * OWASP API Security Top 10 (2023) — API5:2023 Broken Function Level Authorization, on both
 * engines, generated from the served document: each operation's summary names who may call it —
 * "(owner or admin)", "(owner)", "(operator key)", "(operator key or the tenant's key)", "(tenant API
 * key)" — and every operation that names one is called by someone it does not name: a plain member
 * (and an admin, where only an owner may) on the group, a user or another credential on operator,
 * tenant administration and tenant-key operations.
 * Each is refused (403 for a known caller without the role, 401/403 for the wrong kind of
 * credential) and nothing changes. Mutes and bans (the moderation slice) are listed in
 * docs/security.md once merged; their summaries are covered by the same rule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setRole } from '../test-support/conversations.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import { exampleOf, fillPath, type Operation } from '../test-support/openapi-operations.js';
import { ADMIN_KEY, createSecurityWorld, pathValues, type SecurityWorld } from '../test-support/security-world.js';

/** Who an operation's summary says may call it, from its parenthesised note. */
function requiredRole(operation: Operation, summary: string): 'owner' | 'owner or admin' | 'operator' | 'tenant administrator' | 'tenant key' | null {
  const note = /\(([^)]*)\)/.exec(summary)?.[1] ?? '';
  if (/operator key or the tenant's key/.test(note)) return 'tenant administrator';
  if (/operator key/.test(note)) return 'operator';
  if (/tenant (API )?key/.test(note) && !/owner|admin/.test(note)) return 'tenant key';
  if (/\badmin\b/.test(note) && operation.path.startsWith('/v1/conversations/{id}')) return 'owner or admin';
  if (/\bowner\b/.test(note) && operation.path.startsWith('/v1/conversations/{id}')) return 'owner';
  return null;
}

describe.each(ENGINE_KINDS)('API5:2023 Broken Function Level Authorization (%s engine)', (kind) => {
  let world: SecurityWorld;
  let restricted: { operation: Operation; role: NonNullable<ReturnType<typeof requiredRole>> }[];
  let carolToken: string;

  beforeAll(async () => {
    world = await createSecurityWorld(kind);
    const { document } = world;
    const summaries = new Map<string, string>();
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries<any>(item)) summaries.set(`${method.toUpperCase()} ${path}`, String(operation?.summary ?? ''));
    }
    restricted = world.operations.flatMap((operation) => {
      const role = requiredRole(operation, summaries.get(operation.label) ?? '');
      return role ? [{ operation, role }] : [];
    });
    // carol becomes an admin of the group: allowed "owner or admin" operations, not "owner" ones.
    const carol = await world.victimTenant.users(['carol']);
    carolToken = carol[0]!.token;
    await setRole(world.api, world.alice.token, world.group.id, 'carol', 'admin');
  });
  afterAll(() => world?.stop());

  it('finds the restricted operations in the served document', () => {
    const labels = restricted.map(({ operation, role }) => `${operation.label} (${role})`);
    expect(labels).toEqual(
      expect.arrayContaining([
        'POST /v1/tenants (operator)',
        'POST /v1/tenants/{tenantId}/api-keys (tenant administrator)',
        'GET /v1/tenants/{tenantId}/api-keys (tenant administrator)',
        'DELETE /v1/tenants/{tenantId}/api-keys/{id} (tenant administrator)',
        'PUT /v1/tenants/{tenantId}/identity-providers/{providerId} (tenant administrator)',
        'GET /v1/tenants/{tenantId}/identity-providers/{providerId} (tenant administrator)',
        'DELETE /v1/tenants/{tenantId}/identity-providers/{providerId} (tenant administrator)',
        'GET /v1/tenants/{tenantId}/identity-providers (tenant administrator)',
        'POST /v1/admin/signing-keys/rotate (operator)',
        'PUT /v1/users/{userId} (tenant key)',
        'POST /v1/users/{userId}/tokens (tenant key)',
        'PATCH /v1/conversations/{id} (owner or admin)',
        'POST /v1/conversations/{id}/members (owner or admin)',
        'PATCH /v1/conversations/{id}/members/{userId} (owner)',
      ]),
    );
  });

  it('refuses a plain member (and an admin where only an owner may) on every owner/admin operation, and nothing changes', async () => {
    const before = await world.snapshot();
    let tested = 0;
    for (const { operation, role } of restricted.filter((entry) => entry.role === 'owner' || entry.role === 'owner or admin')) {
      const { real } = await pathValues(world, operation, world.group);
      // Act on the owner and on the owner's message: nothing a plain member may touch.
      const path = fillPath(operation, { ...real, ...(real.userId !== undefined ? { userId: world.alice.id } : {}) });
      const body = operation.bodySchema ? exampleOf(operation.bodySchema, (name) => (name === 'userIds' ? [world.mallory.id] : name === 'role' ? 'member' : undefined)) : undefined;
      const callers = role === 'owner' ? [world.bob.token, carolToken] : [world.bob.token];
      for (const token of callers) {
        const response = await world.api.request(operation.method, path, { token, ...(body !== undefined ? { json: body } : {}) });
        const where = `${operation.label} by ${token === carolToken ? 'an admin' : 'a member'}: ${response.text}`;
        // 403 with a problem code: `forbidden`, or a more precise one a rule may add (only an owner touches an owner).
        expect(response.status, where).toBe(403);
        expect(response.headers.get('content-type'), where).toContain('application/problem+json');
        expect(typeof response.body?.code, where).toBe('string');
        tested++;
      }
    }
    expect(tested).toBeGreaterThanOrEqual(5);
    expect(await world.snapshot()).toEqual(before);
  });

  it('refuses users on operator and tenant-key operations, and a tenant key on operator ones', async () => {
    let tested = 0;
    for (const { operation, role } of restricted.filter((entry) => ['operator', 'tenant administrator', 'tenant key'].includes(entry.role))) {
      const { real } = await pathValues(world, operation, world.group);
      const path = fillPath(operation, real);
      const body = operation.bodySchema ? exampleOf(operation.bodySchema) : undefined;
      const wrongCredentials = role === 'operator' ? [world.alice.token, world.victimTenant.key] : [world.alice.token];
      for (const token of wrongCredentials) {
        const response = await world.api.request(operation.method, path, { token, ...(body !== undefined ? { json: body } : {}) });
        expect([401, 403], `${operation.label} with the wrong credential: ${response.status} ${response.text}`).toContain(response.status);
        expect(response.headers.get('content-type')).toContain('application/problem+json');
        tested++;
      }
    }
    expect(tested).toBeGreaterThanOrEqual(4);
  });

  it('creates no tenant and mints no token for a refused caller', async () => {
    const id = `t-refused-${kind}`;
    expect((await world.api.post('/v1/tenants', { id, name: 'Refused' }, world.alice.token)).status).toBe(401);
    expect((await world.api.post('/v1/tenants', { id, name: 'Refused' }, world.victimTenant.key)).status).toBe(401);
    expect((await world.api.post('/v1/tenants', { id, name: 'Accepted' }, ADMIN_KEY)).status).toBe(201);
    const minted = await world.api.post(`/v1/users/${world.bob.id}/tokens`, {}, world.alice.token);
    expect(minted.status).toBe(403);
    expect(minted.body.accessToken).toBeUndefined();
  });

  it("lets a member change only their own message and reaction, not the owner's (sender-only operations)", async () => {
    const { group } = world;
    const message = `/v1/conversations/${group.id}/messages/${group.messageId}`;
    const before = await world.snapshot(group);
    const edit = await world.api.patch(message, { text: 'edited by bob' }, world.bob.token);
    expect({ status: edit.status, code: edit.body?.code }).toEqual({ status: 403, code: 'forbidden' });
    // bob's 👍 is on alice's message: alice removing "her" 👍 must leave bob's in place.
    expect((await world.api.delete(`${message}/reactions/${encodeURIComponent(group.emoji)}`, world.alice.token)).status).toBe(204);
    expect(await world.snapshot(group)).toEqual(before);
  });

  it("refuses a tenant key on operations that act as a user (the caller's own profile, blocks)", async () => {
    for (const [method, path] of [['GET', '/v1/users/me'], ['PATCH', '/v1/users/me'], ['PUT', `/v1/users/me/blocks/${world.bob.id}`]] as const) {
      const response = await world.api.request(method, path, { token: world.victimTenant.key, ...(method === 'PATCH' ? { json: { displayName: 'Key' } } : {}) });
      expect({ status: response.status, code: response.body?.code }, `${method} ${path}`).toEqual({ status: 403, code: 'forbidden' });
    }
  });
});
