/**
 * The Lua scripts: they recover from an empty script cache, and each one keeps the house rules
 * (a header stating KEYS, ARGV and the return; no clock, no key scans).
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationId, MessageId, TenantId, UserId } from '../../domain/types.js';
import { createRedisTestEngine, createTestRedis } from '../../test-support/redis.js';
import { loadScriptSources, SCRIPT_NAMES } from './scripts.js';

const tenant = 't1' as TenantId;
const alice = 'alice' as UserId;

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
  cleanups = [];
});

describe('redis engine scripts', () => {
  it('keep working after SCRIPT FLUSH (EVALSHA falls back to EVAL)', async () => {
    const { engine, cleanup } = await createRedisTestEngine();
    cleanups.push(cleanup);
    const id = 'c1' as ConversationId;
    await engine.conversations.createGroup(tenant, { id, type: 'group', title: 't', createdAt: 1, members: [{ userId: alice, role: 'owner' }] });
    const send = (n: number) =>
      engine.messages.append(tenant, id, { id: `m${n}` as MessageId, senderId: alice, system: false, text: `m${n}`, replyTo: null, createdAt: n, clientMessageId: null }, 1000);
    await send(1);
    const sha = createHash('sha1').update(loadScriptSources().get('message-append') ?? '').digest('hex');
    const admin = createTestRedis();
    try {
      expect(await admin.script('EXISTS', sha)).toEqual([1]);
      // (Not asserting the cache is empty now: parallel tests on this Redis may reload it at once.)
      await admin.script('FLUSH');
      // Several at once: each one's NOSCRIPT must be retried on the same pipelined connection.
      const results = await Promise.all([send(2), send(3), send(4)]);
      expect(results.map((result) => result.status)).toEqual(['created', 'created', 'created']);
      expect(await admin.script('EXISTS', sha)).toEqual([1]);
    } finally {
      await admin.quit();
    }
    const history = await engine.messages.history(tenant, id, { limit: 10 }, alice);
    expect(history.items.map((message) => message.seq)).toEqual([1, 2, 3, 4]);
  });

  const directory = fileURLToPath(new URL('./lua/', import.meta.url));

  it('are exactly the files of lua/', () => {
    const files = readdirSync(directory).filter((file) => file.endsWith('.lua')).map((file) => file.slice(0, -'.lua'.length));
    expect(files.sort()).toEqual([...SCRIPT_NAMES].sort());
  });

  it.each(SCRIPT_NAMES)('%s opens with its contract and reads no clock', (name) => {
    const source = loadScriptSources().get(name) ?? '';
    expect(source.startsWith(`--[[\n${name}: `)).toBe(true);
    const header = source.slice(0, source.indexOf(']]'));
    expect(header).toMatch(/Returns/);
    for (const used of new Set(source.match(/(KEYS|ARGV)\[\d+\]/g) ?? [])) {
      const documented = header.includes(used) || (used.startsWith('KEYS') && header.includes('KEYS[2..')) || (used.startsWith('ARGV') && /ARGV\[\d+\.\.\]/.test(header));
      expect(documented, `${name} uses ${used} without documenting it`).toBe(true);
    }
    // Time arrives as an argument; nothing scans the keyspace.
    expect(source).not.toMatch(/'TIME'|'KEYS'|'SCAN'|'RANDOMKEY'/i);
  });
});
