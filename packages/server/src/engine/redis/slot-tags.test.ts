import { describe, expect, it } from 'vitest';
import { CLUSTER_SLOTS, keySlot, slotTag } from './slot-tags.js';

describe('Cluster slots', () => {
  it('computes the slot Redis computes, hash tags included', () => {
    // Answers of CLUSTER KEYSLOT on redis-server 7 (cluster-enabled). '{}{x}' hashes whole (the
    // first braces are empty), where the npm package cluster-key-slot answers 11068.
    const redis: Record<string, number> = { '123456789': 12739, '{}{x}': 3257, 'a{}b': 13694, 'x{': 3596, 'ünïcödé{tag}': 8338, '{a}{b}': 15495 };
    for (const [key, slot] of Object.entries(redis)) expect(keySlot(key), key).toBe(slot);
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('parley:{c:acme:01J}:events')).toBe(keySlot('c:acme:01J'));
  });

  it('has, for every slot, a tag whose keys land in it', () => {
    for (let slot = 0; slot < CLUSTER_SLOTS; slot++) expect(keySlot(`p:{${slotTag(slot)}}:webhook-outbox`)).toBe(slot);
    expect(() => slotTag(CLUSTER_SLOTS)).toThrow(RangeError);
  });
});
