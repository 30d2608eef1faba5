import { createServer } from 'node:net';

/**
 * A port that is free on 127.0.0.1 right now (the kernel picks it). Servers are then started on
 * it explicitly, because Parley at LOG_LEVEL=warn does not print the port it bound.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
