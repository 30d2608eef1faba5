import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectRealtime } from '../test-support/realtime-client.js';
import { registerUser, startTestServer, type TestServer } from '../test-support/server.js';
import { openDirect, sendMessage } from '../test-support/conversations.js';
let server: TestServer;
beforeAll(async () => { server = await startTestServer({ kind: 'memory' }); });
afterAll(() => server?.stop());
it('smoke', async () => {
  const [a, b] = await Promise.all([registerUser(server.api), registerUser(server.api)]);
  const d = await openDirect(server.api, a.token, b.id);
  const ca = await connectRealtime(server.url, { token: a.token });
  const cb = await connectRealtime(server.url, { token: b.token });
  await ca.waitFor((f) => f.type === 'ready'); await cb.waitFor((f) => f.type === 'ready');
  await sendMessage(server.api, a.token, d.id, 'hi');
  const f = await cb.waitFor((f) => f.type === 'message.created');
  console.log(JSON.stringify(f), JSON.stringify(ca.frames), JSON.stringify(cb.frames));
  expect(f.message.text).toBe('hi');
});
