/**
 * The Redis revocation bus between nodes: two engines on one Redis and one key prefix are two
 * nodes of one deployment. Beyond the contract: each hears the other's revocations, malformed
 * channel messages are dropped, and a listener whose connection was killed is told it may have
 * missed something, then hears again.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { TenantId, UserId } from '../../domain/types.js';
import { createTestRedis, TEST_REDIS_URL, uniqueKeyPrefix } from '../../test-support/redis.js';
import { waitFor } from '../contract/fixtures.contract.js';
import type { Engine, Revocation } from '../engine.js';
import { createRedisEngine } from './redis-engine.js';
import { RedisKeys } from './redis-keys.js';
import { listenerConnectionName, parseRevocation } from './redis-revocations.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function node(keyPrefix: string): Engine {
  const engine = createRedisEngine({ redis: new Redis(TEST_REDIS_URL), keyPrefix });
  cleanups.push(() => engine.close());
  return engine;
}

async function listen(engine: Engine) {
  const heard: Revocation[] = [];
  let interruptions = 0;
  const listener = await engine.revocations.listen(
    (revocation) => heard.push(revocation),
    () => (interruptions += 1),
  );
  cleanups.push(() => listener.close());
  return { heard, interruptions: () => interruptions };
}

const revokedUser: Revocation = { kind: 'user', tenantId: 'acme' as TenantId, userId: 'u-1' as UserId };

describe('revocations between nodes on one Redis', () => {
  it('each node hears what the other published', async () => {
    const prefix = uniqueKeyPrefix();
    const [a, b] = [node(prefix), node(prefix)];
    const [atA, atB] = [await listen(a), await listen(b)];
    await a.revocations.publish(revokedUser);
    await b.revocations.publish({ kind: 'signing-keys' });
    await waitFor('both at both', () => (atA.heard.length === 2 && atB.heard.length === 2 ? true : undefined));
    expect(atB.heard).toEqual([revokedUser, { kind: 'signing-keys' }]);
    expect(atA.heard).toEqual(atB.heard);
  });

  it('drops malformed messages on the channel', async () => {
    const prefix = uniqueKeyPrefix();
    const engine = node(prefix);
    const at = await listen(engine);
    const raw = createTestRedis();
    cleanups.push(async () => void (await raw.quit()));
    const channel = new RedisKeys(prefix).revocationsTopic();
    for (const text of ['not json', '{"kind":"user","tenantId":"acme"}', '{"kind":"unknown"}', '[]', '{"kind":"api-key","tenantId":"","keyId":"k"}']) {
      await raw.publish(channel, text);
    }
    await engine.revocations.publish({ kind: 'signing-keys' });
    await waitFor('the marker', () => (at.heard.length > 0 ? true : undefined));
    expect(at.heard).toEqual([{ kind: 'signing-keys' }]);
  });

  it('reports an interruption when its connection drops, then hears again', async () => {
    const prefix = uniqueKeyPrefix();
    const engine = node(prefix);
    const at = await listen(engine);
    const raw = createTestRedis();
    cleanups.push(async () => void (await raw.quit()));
    // Kill this listener's connection only (other test files share the Redis); ioredis reconnects it.
    const name = listenerConnectionName(new RedisKeys(prefix));
    const clients = (await raw.call('CLIENT', 'LIST')) as string;
    const ids = clients.split('\n').filter((line) => line.includes(` name=${name} `)).map((line) => /\bid=(\d+)/.exec(line)?.[1]);
    expect(ids).toHaveLength(1);
    await raw.call('CLIENT', 'KILL', 'ID', ids[0]!);
    // Told once when the connection dropped, and again once the subscription is back in place.
    await waitFor('the interruption and the resubscription', () => (at.interruptions() >= 2 ? true : undefined));
    expect(at.interruptions()).toBe(2);
    // Once told the subscription is back, the very next revocation is heard.
    await engine.revocations.publish(revokedUser);
    await waitFor('the revocation after resubscribing', () => (at.heard.length > 0 ? true : undefined));
    expect(at.heard[0]).toEqual(revokedUser);
  });
});

describe('parseRevocation', () => {
  it('accepts each kind with its fields and nothing else', () => {
    expect(parseRevocation('{"kind":"identity-provider","tenantId":"acme","providerId":"sso"}')).toEqual({
      kind: 'identity-provider',
      tenantId: 'acme',
      providerId: 'sso',
    });
    expect(parseRevocation('{"kind":"identity-provider","tenantId":"acme"}')).toBeNull();
    expect(parseRevocation('{"kind":"api-key","tenantId":"acme","keyId":7}')).toBeNull();
    expect(parseRevocation('null')).toBeNull();
  });
});
