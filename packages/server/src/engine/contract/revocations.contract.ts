/**
 * Contract of the revocation bus: a listener hears every revocation published after `listen`
 * resolved, once and intact (in no promised order), its own node's included; a closed listener hears nothing more; an
 * engine of another deployment (another storage or key prefix) hears nothing. Deliveries are
 * asynchronous, so absence is proven with a marker published later that a live listener hears.
 */
import { describe, expect, it } from 'vitest';
import type { UserId } from '../../domain/types.js';
import type { Revocation } from '../engine.js';
import { OTHER_TENANT, TENANT, waitFor, type ContractContext } from './fixtures.contract.js';

const EVERY_KIND: Revocation[] = [
  { kind: 'user', tenantId: TENANT, userId: 'u-1' as UserId },
  { kind: 'api-key', tenantId: TENANT, keyId: 'k-1' },
  { kind: 'identity-provider', tenantId: OTHER_TENANT, providerId: 'corp-sso' },
  { kind: 'signing-keys' },
];

export function revocationsContract(context: ContractContext): void {
  describe('revocations', () => {
    async function listening(engine = context.engine) {
      const heard: Revocation[] = [];
      const listener = await engine.revocations.listen(
        (revocation) => heard.push(revocation),
        () => undefined,
      );
      context.onCleanup(() => listener.close());
      return { heard, listener };
    }

    it('delivers every kind of revocation, intact and once, to every listener', async () => {
      const first = await listening();
      const second = await listening();
      for (const revocation of EVERY_KIND) await context.engine.revocations.publish(revocation);
      await waitFor('all four at both listeners', () => (first.heard.length >= 4 && second.heard.length >= 4 ? true : undefined));
      // Order across revocations is not promised (on Cluster each may be published through another node).
      const sorted = (list: Revocation[]) => list.map((r) => JSON.stringify(r)).sort();
      expect(sorted(first.heard)).toEqual(sorted(EVERY_KIND));
      expect(sorted(second.heard)).toEqual(sorted(EVERY_KIND));
    });

    it('a closed listener hears nothing more', async () => {
      const closed = await listening();
      const open = await listening();
      await closed.listener.close();
      await closed.listener.close(); // idempotent
      await context.engine.revocations.publish({ kind: 'signing-keys' });
      await waitFor('the marker at the open listener', () => (open.heard.length > 0 ? true : undefined));
      expect(closed.heard).toEqual([]);
    });

    it('a deployment on other storage hears nothing of this one', async () => {
      const other = await context.createEngine({});
      const elsewhere = await listening(other);
      const here = await listening();
      await context.engine.revocations.publish({ kind: 'user', tenantId: TENANT, userId: 'u-2' as UserId });
      await waitFor('the revocation here', () => (here.heard.length > 0 ? true : undefined));
      await other.revocations.publish({ kind: 'signing-keys' });
      await waitFor('the marker elsewhere', () => (elsewhere.heard.length > 0 ? true : undefined));
      expect(elsewhere.heard).toEqual([{ kind: 'signing-keys' }]);
      expect(here.heard).toEqual([{ kind: 'user', tenantId: TENANT, userId: 'u-2' }]);
    });
  });
}
