import type { Page } from '../engine/engine.js';
import { EngineError } from '../engine/errors.js';
import { ServiceError } from './service-error.js';

/** Reads a page, turning a cursor the engine refused into 400 invalid_cursor. */
export async function pageOf<T>(read: () => Promise<Page<T>>): Promise<Page<T>> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof EngineError && error.code === 'invalid_cursor') throw new ServiceError('invalid_cursor');
    throw error;
  }
}
