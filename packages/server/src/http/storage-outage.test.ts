/**
 * A Redis failure that reaches the HTTP layer without passing through the store's guard (a raw
 * client call) is answered 503 storage_unavailable with retry-after, never 500. The errors are
 * the ones ioredis raises, produced by a real client where that is cheap.
 */
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { TEST_REDIS_URL, uniqueKeyPrefix } from '../test-support/redis.js';
import { registerProblemHandlers } from './problems.js';

/** The error ioredis's abortIncompletePipelines raises (redis-errors' AbortError: its name is the class name). */
class AbortError extends Error {
  override name = 'AbortError';
}

async function answerFor(error: Error) {
  const app = Fastify({ logger: false });
  registerProblemHandlers(app);
  app.get('/fail', async () => {
    throw error;
  });
  try {
    const response = await app.inject({ method: 'GET', url: '/fail' });
    return { status: response.statusCode, code: (response.json() as { code?: string }).code, retryAfter: response.headers['retry-after'] };
  } finally {
    await app.close();
  }
}

describe('isStorageOutage at the HTTP layer', () => {
  it('answers 503 storage_unavailable with retry-after for the errors of a lost, stalled or closed Redis connection', async () => {
    const client = new Redis(TEST_REDIS_URL, { commandTimeout: 100, lazyConnect: true });
    await client.connect();
    // A command left without a reply: BLPOP waits 1 s, the command timeout is 100 ms.
    const timedOut = await client.blpop(`${uniqueKeyPrefix()}empty`, 1).then(() => new Error('BLPOP answered'), (error: Error) => error);
    client.disconnect();
    // A command on a closed connection.
    const closed = await client.get('k').then(() => new Error('GET answered'), (error: Error) => error);
    expect(timedOut.message).toBe('Command timed out');
    expect(closed.message).toBe('Connection is closed.');
    for (const error of [timedOut, closed, new AbortError('Command aborted due to connection close')]) {
      expect(await answerFor(error), error.message).toEqual({ status: 503, code: 'storage_unavailable', retryAfter: '1' });
    }
  });

  it('still answers 500 internal_error for any other failure', async () => {
    expect(await answerFor(new Error('something else'))).toMatchObject({ status: 500, code: 'internal_error' });
  });
});
