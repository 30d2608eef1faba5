/**
 * MAX_CONVERSATIONS_PER_USER over HTTP, on both engines: creating a group or a direct
 * conversation, or adding a member, that would put a user above the limit answers 409
 * too_many_conversations and changes nothing; leaving makes room again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../test-support/api-client.js';
import { allMembers, conversationList, createGroup, expectProblem, openDirect, setRole } from '../../test-support/conversations.js';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { registerUser, startTestServer, type TestServer } from '../../test-support/server.js';

const LIMIT = 3;

describe.each(ENGINE_KINDS)('conversations per user over HTTP (%s engine)', (kind) => {
  let server: TestServer;
  let api: ApiClient;

  beforeAll(async () => {
    server = await startTestServer({ kind, env: { MAX_CONVERSATIONS_PER_USER: String(LIMIT) } });
    api = server.api;
  });
  afterAll(() => server?.stop());

  it('refuses a group, a direct conversation or an addition beyond the limit, storing nothing', async () => {
    const [full, other, third] = await Promise.all([registerUser(api), registerUser(api), registerUser(api)]);
    const groups = [];
    for (let i = 0; i < LIMIT; i++) groups.push(await createGroup(api, full.token, [], `mine ${i}`));

    const group = await api.post('/v1/conversations', { type: 'group', title: 'one too many', members: [other.id] }, full.token);
    expectProblem(group, 409, 'too_many_conversations');
    expect(group.body.detail).toContain(full.id);
    expectProblem(await api.post('/v1/conversations', { type: 'direct', members: [full.id] }, other.token), 409, 'too_many_conversations');
    const othersGroup = await createGroup(api, other.token, [third.id], 'theirs');
    expectProblem(await api.post(`/v1/conversations/${othersGroup.id}/members`, { userIds: [full.id] }, other.token), 409, 'too_many_conversations');

    expect(await conversationList(api, full.token)).toHaveLength(LIMIT);
    expect((await conversationList(api, other.token)).map((c) => c.id)).toEqual([othersGroup.id]);
    expect((await allMembers(api, other.token, othersGroup.id)).map((m) => m.userId).sort()).toEqual([other.id, third.id].sort());

    // Re-adding someone who is already a member is no new conversation for them.
    const readd = await api.post(`/v1/conversations/${groups[0].id}/members`, { userIds: [full.id, other.id] }, full.token);
    expect(readd.status).toBe(200);
    // Leaving makes room.
    await setRole(api, full.token, groups[0].id, other.id, 'owner');
    expect((await api.delete(`/v1/conversations/${groups[0].id}/members/${full.id}`, full.token)).status).toBe(204);
    const direct = await openDirect(api, other.token, full.id);
    expect(direct.type).toBe('direct');
    expect(await conversationList(api, full.token)).toHaveLength(LIMIT);
    // At the limit again, re-opening the pair's existing conversation joins nothing: 200, same id.
    const again = await api.post('/v1/conversations', { type: 'direct', members: [other.id] }, full.token);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(direct.id);
  });
});
