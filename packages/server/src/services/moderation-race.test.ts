/**
 * A target promoted between the service's role check and the engine's write: an admin's ban,
 * mute or removal of a plain member who meanwhile became an admin (or owner) is refused with 403
 * forbidden and changes nothing, on both engines. The promotion is injected right after the
 * service has read the target's role, which is exactly the window a concurrent PATCH hits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Principal } from '../auth/principal.js';
import type { ConversationId, Role, TenantId, UserId } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import { createTestEngine, ENGINE_KINDS } from '../test-support/engines.js';
import { createConversationsService } from './conversations-service.js';
import { createIdGenerator } from './ids.js';
import { createModerationService } from './moderation-service.js';
import { ServiceError } from './service-error.js';

const tenantId = 'acme' as TenantId;
const [owner, admin, bob] = ['u-owner', 'u-admin', 'u-bob'] as UserId[];
const id = 'g-race' as ConversationId;
const asAdmin: Principal = { kind: 'user', tenantId, userId: admin! };

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
  cleanups = [];
});

/**
 * The engine, except that the first read of `target`'s membership answers as before and then
 * promotes them to `role` (as a concurrent role change landing right after the check would).
 */
function promotingAfterRead(engine: Engine, target: UserId, role: Role): Engine {
  let armed = true;
  const conversations = new Proxy(engine.conversations, {
    get(store, name, receiver) {
      const value = Reflect.get(store, name, receiver);
      if (name !== 'getMembers') return typeof value === 'function' ? value.bind(store) : value;
      return async (...args: Parameters<Engine['conversations']['getMembers']>) => {
        const members = await store.getMembers(...args);
        if (armed && args[2].includes(target)) {
          armed = false;
          await store.setRole(tenantId, id, target, role, Date.now(), { keepOwner: true });
        }
        return members;
      };
    },
  });
  return { ...engine, conversations } as Engine;
}

describe.each(ENGINE_KINDS)('moderation racing a promotion (%s engine)', (kind) => {
  async function setup(role: Role) {
    const { engine, cleanup } = await createTestEngine(kind);
    cleanups.push(cleanup);
    for (const userId of [owner!, admin!, bob!]) await engine.users.upsert(tenantId, { id: userId, displayName: userId, metadata: null }, Date.now());
    await engine.conversations.createGroup(tenantId, {
      id,
      type: 'group',
      title: 'race',
      createdAt: Date.now(),
      members: [
        { userId: owner!, role: 'owner' },
        { userId: admin!, role: 'admin' },
        { userId: bob!, role: 'member' },
      ],
    });
    const racy = promotingAfterRead(engine, bob!, role);
    const deps = { engine: racy, clock: () => Date.now() };
    return {
      engine,
      moderation: createModerationService(deps),
      conversations: createConversationsService({ ...deps, ids: createIdGenerator(), maxGroupMembers: 100, maxConversationsPerUser: 1000 }),
    };
  }

  const refusedForbidden = async (action: Promise<unknown>) => {
    const error = await action.then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).code).toBe('forbidden');
  };

  const roleOf = async (engine: Engine, userId: UserId) => (await engine.conversations.getMembers(tenantId, id, [userId]))[0]?.role ?? null;

  it('refuses an admin’s ban of a member promoted meanwhile: no ban, still a member', async () => {
    const { engine, moderation } = await setup('admin');
    await refusedForbidden(moderation.ban(asAdmin, id, bob!));
    expect(await roleOf(engine, bob!)).toBe('admin');
    expect((await engine.moderation.listBans(tenantId, id, { limit: 10 })).items).toEqual([]);
  });

  it('refuses an admin’s removal of a member made owner meanwhile', async () => {
    const { engine, conversations } = await setup('owner');
    await refusedForbidden(conversations.removeMember(asAdmin, id, bob!));
    expect(await roleOf(engine, bob!)).toBe('owner');
  });

  it('refuses an admin’s mute of a member promoted meanwhile: no mute stored', async () => {
    const { engine, moderation } = await setup('admin');
    await refusedForbidden(moderation.mute(asAdmin, id, bob!, undefined));
    expect((await engine.moderation.listMutes(tenantId, id, { limit: 10 }, Date.now())).items).toEqual([]);
  });
});
