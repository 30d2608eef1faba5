/**
 * The engine contract: one suite that every Engine implementation must pass.
 *
 *   runEngineContract('memory engine', async () => ({ engine: createMemoryEngine(), cleanup: ... }));
 *
 * `setup` runs before every test and must return an engine with no data (e.g. a fresh instance,
 * or a unique key prefix per test); `cleanup` runs after it. The suite uses only the Engine
 * interface, never sleeps, and passes every time as an argument.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { conversationsContract } from './contract/conversations.contract.js';
import type { ContractContext } from './contract/fixtures.contract.js';
import { historyContract } from './contract/history.contract.js';
import { identityContract } from './contract/identity.contract.js';
import { listForUserContract } from './contract/list-for-user.contract.js';
import { membersContract } from './contract/members.contract.js';
import { messagesContract } from './contract/messages.contract.js';
import { mutationsContract } from './contract/mutations.contract.js';
import { tenancyContract } from './contract/tenancy.contract.js';
import { usersContract } from './contract/users.contract.js';
import type { Engine } from './engine.js';

export type EngineSetup = () => Promise<{ engine: Engine; cleanup: () => Promise<void> }>;

export function runEngineContract(name: string, setup: EngineSetup): void {
  describe(name, () => {
    let current: { engine: Engine; cleanup: () => Promise<void> } | undefined;

    beforeEach(async () => {
      current = await setup();
    });

    afterEach(async () => {
      const finished = current;
      current = undefined;
      await finished?.cleanup();
    });

    const context: ContractContext = {
      get engine(): Engine {
        if (!current) throw new Error('the engine is only available inside a test');
        return current.engine;
      },
    };

    it('answers ping and names its kind', async () => {
      await expect(context.engine.ping()).resolves.toBeUndefined();
      expect(['memory', 'redis']).toContain(context.engine.kind);
    });

    identityContract(context);
    usersContract(context);
    conversationsContract(context);
    membersContract(context);
    listForUserContract(context);
    messagesContract(context);
    historyContract(context);
    mutationsContract(context);
    tenancyContract(context);
  });
}
