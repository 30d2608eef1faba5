/**
 * Contract of presence: connection counts per user and node, online while a live node holds a
 * connection, heartbeats that expire, sweeps that report each user who went offline once.
 *
 * Heartbeats are far in the future of the wall clock (T0 + hours) so an engine that also lets its
 * storage expire node keys at those instants keeps them for the whole test; "later" instants are
 * passed as `now`. No test depends on the exact instant of expiry (expiresAt itself).
 */
import { describe, expect, it } from 'vitest';
import type { EpochMs, TenantId, UserId } from '../../domain/types.js';
import { alice, bob, carol, HOUR, OTHER_TENANT, T0, TENANT, type ContractContext } from './fixtures.contract.js';

const N1 = 'node-1';
const N2 = 'node-2';

type WentOffline = { tenantId: TenantId; userId: UserId; lastSeenAt: EpochMs };

function sorted(entries: readonly WentOffline[]): WentOffline[] {
  return [...entries].sort((a, b) => `${a.tenantId}/${a.userId}`.localeCompare(`${b.tenantId}/${b.userId}`));
}

export function presenceContract(context: ContractContext): void {
  describe('presence', () => {
    it('is online from the first connection to the last, then offline since the last left', async () => {
      const { presence } = context.engine;
      await presence.heartbeat(N1, T0 + HOUR);
      expect(await presence.get(TENANT, [alice], T0)).toEqual([{ status: 'offline', lastSeenAt: null }]);
      expect(await presence.connect(TENANT, alice, N1, T0 + 1)).toEqual({ cameOnline: true, connections: 1 });
      expect(await presence.connect(TENANT, alice, N1, T0 + 2)).toEqual({ cameOnline: false, connections: 2 });
      expect(await presence.get(TENANT, [alice], T0 + 2)).toEqual([{ status: 'online', lastSeenAt: null }]);
      expect(await presence.disconnect(TENANT, alice, N1, T0 + 3)).toEqual({ wentOffline: false });
      expect(await presence.get(TENANT, [alice], T0 + 3)).toEqual([{ status: 'online', lastSeenAt: null }]);
      expect(await presence.disconnect(TENANT, alice, N1, T0 + 4)).toEqual({ wentOffline: true });
      expect(await presence.get(TENANT, [alice], T0 + 5)).toEqual([{ status: 'offline', lastSeenAt: T0 + 4 }]);
      expect(await presence.connect(TENANT, alice, N1, T0 + 6)).toEqual({ cameOnline: true, connections: 1 });
      expect(await presence.get(TENANT, [alice], T0 + 6)).toEqual([{ status: 'online', lastSeenAt: null }]);
    });

    it('keeps a user online while any node holds a connection', async () => {
      const { presence } = context.engine;
      await presence.heartbeat(N1, T0 + HOUR);
      await presence.heartbeat(N2, T0 + HOUR);
      expect(await presence.connect(TENANT, alice, N1, T0 + 1)).toEqual({ cameOnline: true, connections: 1 });
      expect(await presence.connect(TENANT, alice, N2, T0 + 2)).toEqual({ cameOnline: false, connections: 2 });
      expect(await presence.disconnect(TENANT, alice, N1, T0 + 3)).toEqual({ wentOffline: false });
      expect(await presence.get(TENANT, [alice], T0 + 3)).toEqual([{ status: 'online', lastSeenAt: null }]);
      expect(await presence.disconnect(TENANT, alice, N2, T0 + 4)).toEqual({ wentOffline: true });
      expect(await presence.get(TENANT, [alice], T0 + 4)).toEqual([{ status: 'offline', lastSeenAt: T0 + 4 }]);
    });

    it('comes online exactly once from concurrent first connections, and goes offline once', async () => {
      const { presence } = context.engine;
      await presence.heartbeat(N1, T0 + HOUR);
      await presence.heartbeat(N2, T0 + HOUR);
      const connected = await Promise.all(
        Array.from({ length: 10 }, (_, i) => presence.connect(TENANT, alice, i % 2 === 0 ? N1 : N2, T0 + 1)),
      );
      expect(connected.filter((result) => result.cameOnline)).toHaveLength(1);
      // Each call counts every connection made before it: 1..10, whatever the nodes.
      expect(connected.map((result) => result.connections).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      const disconnected = await Promise.all(
        Array.from({ length: 10 }, (_, i) => presence.disconnect(TENANT, alice, i % 2 === 0 ? N1 : N2, T0 + 2)),
      );
      expect(disconnected.filter((result) => result.wentOffline)).toHaveLength(1);
      expect(await presence.get(TENANT, [alice], T0 + 3)).toEqual([{ status: 'offline', lastSeenAt: T0 + 2 }]);
    });

    it('answers for many users in the order asked, and keeps tenants apart', async () => {
      const { presence } = context.engine;
      await presence.heartbeat(N1, T0 + HOUR);
      await presence.connect(TENANT, alice, N1, T0 + 1);
      await presence.connect(TENANT, bob, N1, T0 + 1);
      await presence.disconnect(TENANT, bob, N1, T0 + 2);
      expect(await presence.get(TENANT, [carol, alice, bob], T0 + 3)).toEqual([
        { status: 'offline', lastSeenAt: null },
        { status: 'online', lastSeenAt: null },
        { status: 'offline', lastSeenAt: T0 + 2 },
      ]);
      expect(await presence.get(TENANT, [], T0 + 3)).toEqual([]);
      expect(await presence.get(OTHER_TENANT, [alice, bob], T0 + 3)).toEqual([
        { status: 'offline', lastSeenAt: null },
        { status: 'offline', lastSeenAt: null },
      ]);
      expect(await presence.connect(OTHER_TENANT, alice, N1, T0 + 4)).toEqual({ cameOnline: true, connections: 1 });
      expect(await presence.disconnect(OTHER_TENANT, alice, N1, T0 + 5)).toEqual({ wentOffline: true });
      expect(await presence.get(TENANT, [alice], T0 + 6)).toEqual([{ status: 'online', lastSeenAt: null }]);
    });

    it('counts a node whose heartbeat expired as gone; concurrent sweeps report each of its users once', async () => {
      const { presence } = context.engine;
      await presence.heartbeat(N1, T0 + HOUR);
      await presence.heartbeat(N2, T0 + 2 * HOUR);
      await presence.connect(TENANT, alice, N1, T0 + 1);
      await presence.connect(TENANT, alice, N1, T0 + 1);
      await presence.connect(TENANT, bob, N1, T0 + 1);
      await presence.connect(TENANT, bob, N2, T0 + 1);
      await presence.connect(OTHER_TENANT, alice, N1, T0 + 1);
      await presence.connect(TENANT, carol, N2, T0 + 1);

      // Before N1 expires: nobody is swept.
      expect(await presence.sweepDeadNodes(T0 + HOUR - 1)).toEqual([]);
      expect(await presence.get(TENANT, [alice], T0 + HOUR - 1)).toEqual([{ status: 'online', lastSeenAt: null }]);

      const later = T0 + HOUR + 1;
      // Offline at once, before any sweep (lastSeenAt is only settled by the sweep).
      const beforeSweep = await presence.get(TENANT, [alice, bob, carol], later);
      expect(beforeSweep.map((entry) => entry.status)).toEqual(['offline', 'online', 'online']);
      const sweeps = await Promise.all(Array.from({ length: 8 }, () => presence.sweepDeadNodes(later)));
      expect(sorted(sweeps.flat())).toEqual(
        sorted([
          { tenantId: TENANT, userId: alice, lastSeenAt: later },
          { tenantId: OTHER_TENANT, userId: alice, lastSeenAt: later },
        ]),
      );
      expect(await presence.sweepDeadNodes(later + 1)).toEqual([]);
      expect(await presence.get(TENANT, [alice, bob, carol], later + 1)).toEqual([
        { status: 'offline', lastSeenAt: later },
        { status: 'online', lastSeenAt: null },
        { status: 'online', lastSeenAt: null },
      ]);

      // The node comes back (a restart): its old connections are gone for good.
      await presence.heartbeat(N1, T0 + 3 * HOUR);
      expect(await presence.get(TENANT, [alice], later + 2)).toEqual([{ status: 'offline', lastSeenAt: later }]);
      expect(await presence.connect(TENANT, alice, N1, later + 3)).toMatchObject({ cameOnline: true });

      // N2 expires too: bob and carol go, alice stays (on the restarted N1).
      const evenLater = T0 + 2 * HOUR + 1;
      expect(sorted(await presence.sweepDeadNodes(evenLater))).toEqual(
        sorted([
          { tenantId: TENANT, userId: bob, lastSeenAt: evenLater },
          { tenantId: TENANT, userId: carol, lastSeenAt: evenLater },
        ]),
      );
      expect(await presence.get(TENANT, [alice, bob], evenLater)).toEqual([
        { status: 'online', lastSeenAt: null },
        { status: 'offline', lastSeenAt: evenLater },
      ]);
    });

    it('removes a node that shuts down, reporting the users who went offline with it, once', async () => {
      const { presence } = context.engine;
      await presence.heartbeat(N1, T0 + HOUR);
      await presence.heartbeat(N2, T0 + 2 * HOUR);
      await presence.connect(TENANT, alice, N1, T0 + 1);
      await presence.connect(TENANT, alice, N1, T0 + 1);
      await presence.connect(TENANT, bob, N1, T0 + 1);
      await presence.connect(TENANT, bob, N2, T0 + 1);
      expect(await presence.removeNode(N1, T0 + 5)).toEqual([{ tenantId: TENANT, userId: alice, lastSeenAt: T0 + 5 }]);
      expect(await presence.get(TENANT, [alice, bob], T0 + 6)).toEqual([
        { status: 'offline', lastSeenAt: T0 + 5 },
        { status: 'online', lastSeenAt: null },
      ]);
      expect(await presence.removeNode(N1, T0 + 7)).toEqual([]);
      // A removed node is not swept again; the one left expires in its turn.
      const later = T0 + 2 * HOUR + 1;
      expect(await presence.sweepDeadNodes(later)).toEqual([{ tenantId: TENANT, userId: bob, lastSeenAt: later }]);
    });
  });
}
