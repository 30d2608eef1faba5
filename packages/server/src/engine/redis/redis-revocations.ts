/**
 * Revocations over Redis pub/sub: one deployment-wide channel (`<prefix>{revocations}:topic`).
 *
 * Plain PUBLISH/SUBSCRIBE, also on Cluster: there a PUBLISH reaches the subscribers of every node
 * over the cluster bus, which is what a deployment-wide message needs. Revocations are rare (an
 * account deleted, a key revoked), so broadcasting them costs nothing worth sharding.
 *
 * Each listener holds one duplicated connection in subscribe mode. Messages are JSON revocations;
 * anything malformed is dropped.
 */
import type { TenantId, UserId } from '../../domain/types.js';
import type { Revocation, RevocationBus, RevocationListener } from '../engine.js';
import { subscribeChannel } from './redis-channel.js';
import type { RedisClient } from './redis-context.js';
import { guard } from './redis-guard.js';
import type { RedisKeys } from './redis-keys.js';

/** How long ioredis takes, at most, to move a Cluster subscription to another node. */
const CLUSTER_RESUBSCRIBE_MS = 1000;

export class RedisRevocationBus implements RevocationBus {
  private readonly listeners = new Set<RevocationListener>();

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  publish(revocation: Revocation): Promise<void> {
    return guard(async () => {
      await this.client.publish(this.keys.revocationsTopic(), JSON.stringify(revocation));
    });
  }

  listen(onRevocation: (revocation: Revocation) => void, onInterrupted: () => void): Promise<RevocationListener> {
    return guard(async () => {
      const onMessage = (text: string) => {
        const revocation = parseRevocation(text);
        if (revocation) onRevocation(revocation);
      };
      const subscription = await subscribeChannel(this.client, this.keys.revocationsTopic(), listenerConnectionName(this.keys), onMessage, (subscription) => {
        // What was published while the connection was down is gone: say so twice. At once, so
        // caches stop serving what may be revoked; and again once the subscription is back
        // (ioredis resubscribes when the connection is ready again, and Redis answers a
        // connection's commands in order, so a PING answered after that SUBSCRIBE proves it is in
        // place), because whatever was cached between the two may have been verified against a
        // revocation that was missed. On Cluster, ioredis moves a subscription whose node failed
        // to another node without a close or a new 'ready'; the removal of a node is the signal
        // there, given at once and again a second later, by when the subscription has moved.
        const { connection } = subscription;
        const closed = () => subscription.closed;
        let lost = false;
        const interrupted = () => {
          if (closed()) return;
          lost = true;
          onInterrupted();
        };
        connection.on('close', interrupted);
        connection.on('-node', () => {
          interrupted();
          setTimeout(() => {
            if (!closed()) onInterrupted();
          }, CLUSTER_RESUBSCRIBE_MS).unref();
        });
        connection.on('ready', () => {
          if (!lost || closed()) return;
          lost = false;
          connection.ping().then(
            () => {
              if (!closed()) onInterrupted();
            },
            () => {
              lost = true; // the connection dropped again: its next 'ready' tries again
            },
          );
        });
      });
      const listener: RevocationListener = {
        close: async () => {
          this.listeners.delete(listener);
          await subscription.close();
        },
      };
      this.listeners.add(listener);
      return listener;
    });
  }

  /** Closes every listener still open (the engine is closing). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.listeners].map((listener) => listener.close()));
  }
}

/** The CLIENT SETNAME of a listener's connection: the deployment's prefix, without spaces. */
export function listenerConnectionName(keys: RedisKeys): string {
  return `${keys.prefix}revocations`.replace(/\s/g, '_');
}

/** A revocation from its JSON text, checked field by field; null for anything else. */
export function parseRevocation(text: string): Revocation | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const fields = value as Record<string, unknown>;
  const nonEmpty = (name: string): string | null => {
    const field = fields[name];
    return typeof field === 'string' && field !== '' ? field : null;
  };
  const tenantId = nonEmpty('tenantId') as TenantId | null;
  switch (fields.kind) {
    case 'signing-keys':
      return { kind: 'signing-keys' };
    case 'user': {
      const userId = nonEmpty('userId') as UserId | null;
      return tenantId && userId ? { kind: 'user', tenantId, userId } : null;
    }
    case 'api-key': {
      const keyId = nonEmpty('keyId');
      return tenantId && keyId ? { kind: 'api-key', tenantId, keyId } : null;
    }
    case 'identity-provider': {
      const providerId = nonEmpty('providerId');
      return tenantId && providerId ? { kind: 'identity-provider', tenantId, providerId } : null;
    }
    default:
      return null;
  }
}
