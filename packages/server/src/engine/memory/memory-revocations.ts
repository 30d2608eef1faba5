/**
 * Revocations in memory: the embedded engine is one process, so "every node" is this one. Keeps
 * the Redis engine's promises: delivery is asynchronous (never inside `publish`), each listener
 * hears every revocation published after `listen` resolved, and each delivery is a copy.
 */
import type { Revocation, RevocationBus, RevocationListener } from '../engine.js';

export class MemoryRevocationBus implements RevocationBus {
  private readonly listeners = new Set<(revocation: Revocation) => void>();
  private closed = false;

  async publish(revocation: Revocation): Promise<void> {
    if (this.closed) return;
    for (const listener of this.listeners) {
      const copy = structuredClone(revocation);
      setImmediate(() => listener(copy));
    }
  }

  async listen(onRevocation: (revocation: Revocation) => void): Promise<RevocationListener> {
    let open = true;
    const listener = (revocation: Revocation) => {
      if (open && !this.closed) onRevocation(revocation);
    };
    this.listeners.add(listener);
    return {
      close: async () => {
        open = false;
        this.listeners.delete(listener);
      },
    };
  }

  /** Ends every delivery (the engine is closing). */
  close(): void {
    this.closed = true;
    this.listeners.clear();
  }
}
