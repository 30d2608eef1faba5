import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { PatchMeBody, Presence, User, UserIdParam, UserList, UserLookupQuery } from '@parley/protocol';
import type { UserId } from '../../domain/types.js';
import type { AccountsService } from '../../services/accounts-service.js';
import type { UsersService } from '../../services/users-service.js';
import { principalOf } from '../authentication.js';
import { quotasOf } from '../rate-limit-headers.js';
import { AUTHENTICATED, problems } from '../route-schemas.js';
import { presentDeletedUser, presentUser } from './present.js';

const tags = ['Users'];
const UserParams = Type.Object({ userId: UserIdParam });

export const usersRoutes =
  (users: UsersService, accounts: AccountsService): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/users/me',
      { schema: { tags, ...AUTHENTICATED, summary: 'The caller', response: { 200: User, ...problems(401, 403) } } },
      async (request) => presentUser(await users.me(principalOf(request))),
    );

    app.get(
      '/users',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Find a user of the same tenant by exact username: {items: [user]}, or {items: []} when nobody holds it',
          querystring: UserLookupQuery,
          response: { 200: UserList, ...problems(400, 401, 429) },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const found = await users.findByUsername(principal, request.query.username, quotasOf(request));
        return { items: found.map((user) => presentUser(user, principal.kind === 'tenant' || principal.userId === user.id)) };
      },
    );

    app.patch(
      '/users/me',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: "Change the caller's profile",
          body: PatchMeBody,
          response: { 200: User, ...problems(400, 401, 403, 413, 415) },
        },
      },
      async (request) => presentUser(await users.updateMe(principalOf(request), request.body)),
    );

    app.get(
      '/users/:userId',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'A user of the same tenant (a deleted one as {id, displayName: "Deleted user", createdAt, deleted: true})',
          params: UserParams,
          response: { 200: User, ...problems(400, 401, 404) },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const user = await users.get(principal, request.params.userId as UserId);
        if ('deletedAt' in user) return presentDeletedUser(user);
        return presentUser(user, principal.kind === 'tenant' || principal.userId === user.id);
      },
    );

    app.delete(
      '/users/me',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: "Delete the caller's account: profile and credentials erased, every token refused, conversations left; messages kept",
          response: { 204: Type.Null(), ...problems(401, 403) },
        },
      },
      async (request, reply) => {
        await accounts.deleteMe(principalOf(request));
        return reply.code(204).send(null);
      },
    );

    app.delete(
      '/users/:userId',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Delete a user of the calling tenant (tenant API key), as DELETE /v1/users/me does; again is 204',
          params: UserParams,
          response: { 204: Type.Null(), ...problems(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        await accounts.deleteUser(principalOf(request), request.params.userId as UserId);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/users/:userId/presence',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Whether a user of the same tenant is online, or when they were last seen',
          params: UserParams,
          response: { 200: Presence, ...problems(400, 401, 404) },
        },
      },
      async (request) => {
        const presence = await users.presence(principalOf(request), request.params.userId as UserId);
        return { status: presence.status, lastSeenAt: presence.lastSeenAt === null ? null : new Date(presence.lastSeenAt).toISOString() };
      },
    );

    app.put(
      '/users/me/blocks/:userId',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Block a user: they can no longer open a direct conversation with you or message you in one',
          params: UserParams,
          response: { 204: Type.Null(), ...problems(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        await users.block(principalOf(request), request.params.userId as UserId);
        return reply.code(204).send(null);
      },
    );

    app.delete(
      '/users/me/blocks/:userId',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Unblock a user',
          params: UserParams,
          response: { 204: Type.Null(), ...problems(400, 401, 403) },
        },
      },
      async (request, reply) => {
        await users.unblock(principalOf(request), request.params.userId as UserId);
        return reply.code(204).send(null);
      },
    );
  };
