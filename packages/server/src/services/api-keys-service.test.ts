import { describe, expect, it } from 'vitest';
import type { TenantId } from '../domain/types.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createApiKeysService } from './api-keys-service.js';

const acme = 'acme' as TenantId;
const operator = { kind: 'operator' } as const;

describe('api keys service', () => {
  it('answers a revocation done even when announcing it fails (nothing caches keys)', async () => {
    const engine = createMemoryEngine();
    await engine.tenants.create({ id: acme, name: 'Acme', createdAt: 0 }, null);
    const announcements: unknown[] = [];
    const service = createApiKeysService({
      engine: {
        tenants: engine.tenants,
        revocations: {
          publish: async (revocation) => {
            announcements.push(revocation);
            throw new Error('storage unavailable');
          },
          listen: (onRevocation, onInterrupted) => engine.revocations.listen(onRevocation, onInterrupted),
        },
      },
      clock: () => 1,
    });
    const { id } = await service.create(operator, acme);
    await expect(service.revoke(operator, acme, id)).resolves.toBeUndefined();
    expect(announcements).toEqual([{ kind: 'api-key', tenantId: acme, keyId: id }]);
    expect(await service.list(operator, acme)).toEqual([]);
  });
});
