import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { BanList, ConversationIdParams, ListQuery, MemberParams, MuteBody, MuteList } from '@parley/protocol';
import type { ConversationId, UserId } from '../../domain/types.js';
import type { ModerationService } from '../../services/moderation-service.js';
import { principalOf } from '../authentication.js';
import { AUTHENTICATED, problems } from '../route-schemas.js';
import { presentBan, presentMute } from './present.js';

const tags = ['Moderation'];
const DEFAULT_PAGE = 50;

/** Mutes and bans of group conversations (owners, admins, or the tenant key). */
export const moderationRoutes =
  (moderation: ModerationService): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.put(
      '/conversations/:id/mutes/:userId',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: "Mute a user: their sends, edits and reactions here are refused until `until` (or until lifted)",
          params: MemberParams,
          body: MuteBody,
          response: { 204: Type.Null(), ...problems(400, 401, 403, 404, 413, 415) },
        },
        // The body is optional (no body: muted until lifted); validation then sees an empty object.
        preValidation: async (request) => {
          request.body ??= {};
        },
      },
      async (request, reply) => {
        const { id, userId } = request.params;
        await moderation.mute(principalOf(request), id as ConversationId, userId as UserId, request.body.until);
        return reply.code(204).send(null);
      },
    );

    app.delete(
      '/conversations/:id/mutes/:userId',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: "Lift a user's mute",
          params: MemberParams,
          response: { 204: Type.Null(), ...problems(401, 403, 404) },
        },
      },
      async (request, reply) => {
        await moderation.unmute(principalOf(request), request.params.id as ConversationId, request.params.userId as UserId);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/conversations/:id/mutes',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'The mutes in force, by user id',
          params: ConversationIdParams,
          querystring: ListQuery,
          response: { 200: MuteList, ...problems(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const { cursor, limit = DEFAULT_PAGE } = request.query;
        const page = await moderation.listMutes(principalOf(request), request.params.id as ConversationId, { limit, ...(cursor ? { cursor } : {}) });
        return { items: page.items.map(presentMute), nextCursor: page.nextCursor };
      },
    );

    app.put(
      '/conversations/:id/bans/:userId',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Ban a user: removed if a member, and refused when added again until lifted',
          params: MemberParams,
          response: { 204: Type.Null(), ...problems(401, 403, 404) },
        },
      },
      async (request, reply) => {
        await moderation.ban(principalOf(request), request.params.id as ConversationId, request.params.userId as UserId);
        return reply.code(204).send(null);
      },
    );

    app.delete(
      '/conversations/:id/bans/:userId',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: "Lift a user's ban (they are not added back)",
          params: MemberParams,
          response: { 204: Type.Null(), ...problems(401, 403, 404) },
        },
      },
      async (request, reply) => {
        await moderation.unban(principalOf(request), request.params.id as ConversationId, request.params.userId as UserId);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/conversations/:id/bans',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'The bans, by user id',
          params: ConversationIdParams,
          querystring: ListQuery,
          response: { 200: BanList, ...problems(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const { cursor, limit = DEFAULT_PAGE } = request.query;
        const page = await moderation.listBans(principalOf(request), request.params.id as ConversationId, { limit, ...(cursor ? { cursor } : {}) });
        return { items: page.items.map(presentBan), nextCursor: page.nextCursor };
      },
    );
  };
