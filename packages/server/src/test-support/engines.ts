import type { Engine } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createRedisTestEngine } from './redis.js';

export type EngineKind = 'memory' | 'redis';
export const ENGINE_KINDS: readonly EngineKind[] = ['memory', 'redis'];

/** A fresh, empty engine of the kind: a new memory engine, or the test Redis under a unique prefix. */
export async function createTestEngine(kind: EngineKind): Promise<{ engine: Engine; cleanup: () => Promise<void> }> {
  if (kind === 'redis') return createRedisTestEngine();
  const engine = createMemoryEngine();
  return { engine, cleanup: () => engine.close() };
}
