/**
 * The engine contract: one suite that every Engine implementation must pass.
 *
 *   runEngineContract('memory engine', async (options) => {
 *     const engine = createMemoryEngine({ retention: options?.retention });
 *     return { engine, cleanup: () => engine.close() };
 *   });
 *
 * `setup` runs before every test and must return an engine with no data (e.g. a fresh instance,
 * or a unique key prefix per test); `cleanup` runs after it. A test may call `setup` again with
 * options (a small event retention) for a second engine, cleaned up after it the same way; a
 * setup must pass `options.retention` on to its engine, or the retention tests fail.
 * The suite uses only the Engine interface and passes every time as an argument; it never
 * sleeps, except to poll (with a deadline) for deliveries through topics, which are asynchronous.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accountsContract } from './contract/accounts.contract.js';
import { apiKeysContract } from './contract/api-keys.contract.js';
import { connectionStatesContract } from './contract/connection-states.contract.js';
import { conversationsContract } from './contract/conversations.contract.js';
import { eventsContract } from './contract/events.contract.js';
import type { ContractContext, EngineSetupOptions } from './contract/fixtures.contract.js';
import { historyContract } from './contract/history.contract.js';
import { identityContract } from './contract/identity.contract.js';
import { identityProvidersContract } from './contract/identity-providers.contract.js';
import { listForUserContract } from './contract/list-for-user.contract.js';
import { membersContract } from './contract/members.contract.js';
import { membershipsContract } from './contract/memberships.contract.js';
import { messagesContract } from './contract/messages.contract.js';
import { moderationContract } from './contract/moderation.contract.js';
import { mutationsContract } from './contract/mutations.contract.js';
import { ownersContract } from './contract/owners.contract.js';
import { presenceContract } from './contract/presence.contract.js';
import { pubsubContract } from './contract/pubsub.contract.js';
import { rateLimitsContract } from './contract/rate-limits.contract.js';
import { revocationsContract } from './contract/revocations.contract.js';
import { retentionContract } from './contract/retention.contract.js';
import { signingKeysContract } from './contract/signing-keys.contract.js';
import { tenancyContract } from './contract/tenancy.contract.js';
import { usersContract } from './contract/users.contract.js';
import { webhooksContract } from './contract/webhooks.contract.js';
import type { Engine } from './engine.js';

export type { EngineSetupOptions };

/** Makes an empty engine; `options` is absent for the engine every test gets. */
export type EngineSetup = (options?: EngineSetupOptions) => Promise<{ engine: Engine; cleanup: () => Promise<void> }>;

export function runEngineContract(name: string, setup: EngineSetup): void {
  describe(name, () => {
    let current: { engine: Engine; cleanup: () => Promise<void> } | undefined;
    /** Run after each test, last registered first: subscribers, then extra engines, then the engine. */
    let cleanups: (() => Promise<void> | void)[] = [];

    beforeEach(async () => {
      const made = await setup();
      current = made;
      cleanups = [made.cleanup];
    });

    afterEach(async () => {
      const pending = cleanups.reverse();
      current = undefined;
      cleanups = [];
      const failures: unknown[] = [];
      for (const cleanup of pending) {
        try {
          await cleanup();
        } catch (error) {
          failures.push(error);
        }
      }
      if (failures.length > 0) throw failures[0];
    });

    const context: ContractContext = {
      get engine(): Engine {
        if (!current) throw new Error('the engine is only available inside a test');
        return current.engine;
      },
      async createEngine(options: EngineSetupOptions): Promise<Engine> {
        if (!current) throw new Error('engines are only available inside a test');
        const made = await setup(options);
        cleanups.push(made.cleanup);
        return made.engine;
      },
      onCleanup(cleanup: () => Promise<void> | void): void {
        if (!current) throw new Error('cleanups are only registered inside a test');
        cleanups.push(cleanup);
      },
    };

    it('answers ping and names its kind', async () => {
      await expect(context.engine.ping()).resolves.toBeUndefined();
      expect(['memory', 'redis']).toContain(context.engine.kind);
    });

    identityContract(context);
    identityProvidersContract(context);
    signingKeysContract(context);
    apiKeysContract(context);
    usersContract(context);
    accountsContract(context);
    conversationsContract(context);
    membersContract(context);
    listForUserContract(context);
    membershipsContract(context);
    messagesContract(context);
    historyContract(context);
    mutationsContract(context);
    tenancyContract(context);
    eventsContract(context);
    retentionContract(context);
    pubsubContract(context);
    presenceContract(context);
    ownersContract(context);
    moderationContract(context);
    rateLimitsContract(context);
    revocationsContract(context);
    webhooksContract(context);
    connectionStatesContract(context);
  });
}
