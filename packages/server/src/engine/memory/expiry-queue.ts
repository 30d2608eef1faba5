import type { EpochMs } from '../../domain/types.js';

/**
 * A min-heap of (key, expiresAt): the memory engine's stand-in for Redis key expiry. Entries are
 * never updated in place; a key that gets a new expiry is pushed again, and whoever pops an entry
 * checks whether it is still the key's current one. Expiry follows the times callers pass in,
 * never a clock.
 */
export class ExpiryQueue<K> {
  private readonly heap: { key: K; expiresAt: EpochMs }[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(key: K, expiresAt: EpochMs): void {
    this.heap.push({ key, expiresAt });
    this.siftUp(this.heap.length - 1);
  }

  /** Removes and returns every entry with expiresAt <= now, soonest first. */
  popExpired(now: EpochMs): { key: K; expiresAt: EpochMs }[] {
    const expired: { key: K; expiresAt: EpochMs }[] = [];
    while (this.heap.length > 0 && (this.heap[0]?.expiresAt ?? Infinity) <= now) {
      const top = this.heap[0];
      const last = this.heap.pop();
      if (!top || !last) break;
      if (this.heap.length > 0) {
        this.heap[0] = last;
        this.siftDown(0);
      }
      expired.push(top);
    }
    return expired;
  }

  private siftUp(index: number): void {
    let child = index;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (this.expiresAt(parent) <= this.expiresAt(child)) return;
      this.swap(parent, child);
      child = parent;
    }
  }

  private siftDown(index: number): void {
    let parent = index;
    for (;;) {
      const left = parent * 2 + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < this.heap.length && this.expiresAt(left) < this.expiresAt(smallest)) smallest = left;
      if (right < this.heap.length && this.expiresAt(right) < this.expiresAt(smallest)) smallest = right;
      if (smallest === parent) return;
      this.swap(parent, smallest);
      parent = smallest;
    }
  }

  private expiresAt(index: number): EpochMs {
    return this.heap[index]?.expiresAt ?? Infinity;
  }

  private swap(a: number, b: number): void {
    const first = this.heap[a];
    const second = this.heap[b];
    if (!first || !second) return;
    this.heap[a] = second;
    this.heap[b] = first;
  }
}
