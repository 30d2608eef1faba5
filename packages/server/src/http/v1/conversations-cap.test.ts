/**
 * MAX_CONVERSATIONS_PER_USER over HTTP, on both engines: creating a group or a direct
 * conversation, or adding a member, that would put a user above the limit answers 409
 * too_many_conversations and changes nothing; leaving makes room again.
 */
import { describe, expect, it } from 'vitest';
import { allMembers, conversationList, createGroup, expectProblem, openDirect, setRole } from '../../test-support/conversations.js';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { registerUser, useTestServer } from '../../test-support/server.js';

const LIMIT = 3;

describe.each(ENGINE_KINDS)('conversations per user over HTTP (%s engine)', (kind) => {
  const ctx = useTestServer({ kind, env: { MAX_CONVERSATIONS_PER_USER: String(LIMIT) } });

  it('refuses a group, a direct conversation or an addition beyond the limit, storing nothing', async () => {
    const [full, other, third] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const groups = [];
    for (let i = 0; i < LIMIT; i++) groups.push(await createGroup(ctx.api, full.token, [], `mine ${i}`));

    const group = await ctx.api.post('/v1/conversations', { type: 'group', title: 'one too many', members: [other.id] }, full.token);
    expectProblem(group, 409, 'too_many_conversations');
    expect(group.body.detail).toContain(full.id);
    expectProblem(await ctx.api.post('/v1/conversations', { type: 'direct', members: [full.id] }, other.token), 409, 'too_many_conversations');
    const othersGroup = await createGroup(ctx.api, other.token, [third.id], 'theirs');
    expectProblem(await ctx.api.post(`/v1/conversations/${othersGroup.id}/members`, { userIds: [full.id] }, other.token), 409, 'too_many_conversations');

    expect(await conversationList(ctx.api, full.token)).toHaveLength(LIMIT);
    expect((await conversationList(ctx.api, other.token)).map((c) => c.id)).toEqual([othersGroup.id]);
    expect((await allMembers(ctx.api, other.token, othersGroup.id)).map((m) => m.userId).sort()).toEqual([other.id, third.id].sort());

    // Re-adding someone who is already a member is no new conversation for them.
    const readd = await ctx.api.post(`/v1/conversations/${groups[0].id}/members`, { userIds: [full.id, other.id] }, full.token);
    expect(readd.status).toBe(200);
    // Leaving makes room.
    await setRole(ctx.api, full.token, groups[0].id, other.id, 'owner');
    expect((await ctx.api.delete(`/v1/conversations/${groups[0].id}/members/${full.id}`, full.token)).status).toBe(204);
    const direct = await openDirect(ctx.api, other.token, full.id);
    expect(direct.type).toBe('direct');
    expect(await conversationList(ctx.api, full.token)).toHaveLength(LIMIT);
    // At the limit again, re-opening the pair's existing conversation joins nothing: 200, same id.
    const again = await ctx.api.post('/v1/conversations', { type: 'direct', members: [other.id] }, full.token);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(direct.id);
  });
});
