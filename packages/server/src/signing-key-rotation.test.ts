/**
 * Signing-key rotation as operators run it: two `node dist/main.js` processes on one real Redis.
 * A rotation on one node reaches the other without a restart: its next token carries the new kid,
 * and tokens signed before the rotation keep working on both. These tests need the build.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createApiClient } from './test-support/api-client.js';
import { useNodePair } from './test-support/node-pair.js';
import { TEST_REDIS_URL } from './test-support/redis.js';
import { ADMIN_KEY } from './test-support/server.js';

const PASSWORD = 'correct horse battery';
const ROTATE_SCRIPT = fileURLToPath(new URL('../dist/scripts/rotate-signing-keys.js', import.meta.url));
const ROTATE = '/v1/admin/signing-keys/rotate';

const kidOf = (token: string): string =>
  (JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { kid: string }).kid;

describe('signing-key rotation across two nodes on one Redis', () => {
  // As the README starts nodes (no PUBLIC_URL), with the operator key set.
  const nodes = useNodePair({ PARLEY_ADMIN_KEY: ADMIN_KEY });
  // The command runs with a node's environment.
  const nodeEnvironment = () => ({ REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: nodes.keyPrefix, PARLEY_ADMIN_KEY: ADMIN_KEY });

  const jwksKids = async (url: string): Promise<string[]> =>
    ((await createApiClient(url).get('/.well-known/jwks.json')).body.keys as { kid: string }[]).map((key) => key.kid);

  it('refuses a rotation without the operator key (401) on either node, and nothing changes', async () => {
    const before = await jwksKids(nodes.a.url);
    const registered = await createApiClient(nodes.a.url).post('/v1/auth/register', { username: 'mallory', password: PASSWORD });
    for (const node of [nodes.a, nodes.b]) {
      for (const token of [undefined, registered.body.accessToken as string, 'wrong-operator-key']) {
        const response = await createApiClient(node.url).request('POST', ROTATE, token ? { token } : {});
        expect(response.status).toBe(401);
        expect(response.body.code).toBe('unauthorized');
      }
    }
    expect(await jwksKids(nodes.a.url)).toEqual(before);
    expect(await jwksKids(nodes.b.url)).toEqual(before);
  });

  it('rotates on A: B signs with the new key at once, and tokens of the old key work on both nodes', async () => {
    const a = createApiClient(nodes.a.url);
    const b = createApiClient(nodes.b.url);
    const registered = await a.post('/v1/auth/register', { username: 'alice', password: PASSWORD });
    expect(registered.status).toBe(201);
    const t1 = registered.body.accessToken as string;
    const oldKid = kidOf(t1);

    const rotated = await a.request('POST', ROTATE, { token: ADMIN_KEY });
    expect(rotated.status).toBe(201);
    const newKid = rotated.body.kid as string;
    expect(newKid).not.toBe(oldKid);
    expect(rotated.body.previous).toEqual([{ kid: oldKid, retiresAt: expect.any(String) }]);

    // B hears the rotation on the revocation bus (its periodic recheck is a minute away): its next
    // token carries the new kid. The message is asynchronous, so allow it a moment to arrive.
    const loginOnB = async () => {
      const login = await b.post('/v1/auth/login', { username: 'alice', password: PASSWORD });
      expect(login.status).toBe(200);
      return login.body.accessToken as string;
    };
    const deadline = Date.now() + 3000;
    let t2 = await loginOnB();
    while (kidOf(t2) !== newKid && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      t2 = await loginOnB();
    }
    expect(kidOf(t2)).toBe(newKid);
    // A signs with it too, from the response on.
    const t3 = (await a.post('/v1/auth/login', { username: 'alice', password: PASSWORD })).body.accessToken as string;
    expect(kidOf(t3)).toBe(newKid);

    for (const client of [a, b]) {
      for (const token of [t1, t2, t3]) {
        const me = await client.get('/v1/users/me', token);
        expect(me.status).toBe(200);
        expect(me.body.id).toBe(registered.body.user.id);
      }
    }
    expect(await jwksKids(nodes.a.url)).toEqual([newKid, oldKid]);
    expect(await jwksKids(nodes.b.url)).toEqual([newKid, oldKid]);
  });

  it('rotates from the command line (npm run signing-keys:rotate) with a node\'s environment, and both nodes follow', async () => {
    const before = await jwksKids(nodes.a.url);
    const { stdout } = await promisify(execFile)(process.execPath, [ROTATE_SCRIPT], { env: { PATH: process.env.PATH ?? '', ...nodeEnvironment() } });
    const rotated = JSON.parse(stdout) as { kid: string; previous: { kid: string }[] };
    expect(rotated.previous.map((key) => key.kid)).toEqual(before);
    for (const node of [nodes.a, nodes.b]) {
      const deadline = Date.now() + 3000;
      let kids = await jwksKids(node.url);
      while (kids[0] !== rotated.kid && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        kids = await jwksKids(node.url);
      }
      expect(kids).toEqual([rotated.kid, ...before]);
      const login = await createApiClient(node.url).post('/v1/auth/login', { username: 'alice', password: PASSWORD });
      expect(kidOf(login.body.accessToken as string)).toBe(rotated.kid);
    }
  });

  it('the command refuses to run without the operator key, changing nothing', async () => {
    const before = await jwksKids(nodes.a.url);
    const { PARLEY_ADMIN_KEY: _omitted, ...withoutKey } = nodeEnvironment();
    const run = promisify(execFile)(process.execPath, [ROTATE_SCRIPT], { env: { PATH: process.env.PATH ?? '', ...withoutKey } });
    await expect(run).rejects.toMatchObject({ code: 78, stderr: expect.stringContaining('PARLEY_ADMIN_KEY') });
    expect(await jwksKids(nodes.a.url)).toEqual(before);
  });
});
