import { createServer } from 'node:net';

/**
 * A loopback port free right now (the system picks it), for a process the test starts with an
 * explicit port. Another process could take it before that process binds it; on a test machine
 * the window is milliseconds.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
