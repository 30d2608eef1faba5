/**
 * Contract of connectionStates (read by metrics: parley_redis_connection_up): with the storage
 * answering, every connection reported is up; a pubsub subscriber is reported as a connection of
 * its own while open (engines with connections) and no longer once closed; the memory engine has
 * none to report.
 */
import { describe, expect, it } from 'vitest';
import type { StorageConnectionState } from '../engine.js';
import { alice, TENANT, type ContractContext } from './fixtures.contract.js';

const subscribers = (states: StorageConnectionState[]) => states.filter((state) => state.role === 'subscriber').length;

export function connectionStatesContract(context: ContractContext): void {
  describe('connection states', () => {
    it('reports each connection up while the storage answers, a subscriber while it is open', async () => {
      const { engine } = context;
      await engine.ping();
      const before = engine.connectionStates();
      for (const state of before) expect(state).toEqual({ role: expect.stringMatching(/^(commands|subscriber)$/), up: true });

      const subscriber = engine.pubsub.createSubscriber(() => undefined);
      context.onCleanup(() => subscriber.close());
      await subscriber.subscribeUsers(TENANT, [alice]);
      const during = engine.connectionStates();
      for (const state of during) expect(state.up).toBe(true);
      if (engine.kind === 'memory') {
        expect(during).toEqual([]);
      } else {
        expect(during.filter((state) => state.role === 'commands')).toEqual([{ role: 'commands', up: true }]);
        expect(subscribers(during)).toBe(subscribers(before) + 1);
      }

      await subscriber.close();
      expect(subscribers(engine.connectionStates())).toBe(subscribers(before));
    });
  });
}
