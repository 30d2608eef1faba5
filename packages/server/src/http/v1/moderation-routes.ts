import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import { BanList, ConversationIdParams, ListQuery, MemberParams, MuteBody, MuteList } from '@parley/protocol';
import type { Page } from '../../engine/engine.js';
import type { Principal } from '../../auth/principal.js';
import type { ConversationId, UserId } from '../../domain/types.js';
import type { ModerationService } from '../../services/moderation-service.js';
import { principalOf } from '../authentication.js';
import { AUTHENTICATED, problems } from '../route-schemas.js';
import { presentBan, presentMute } from './present.js';

const tags = ['Moderation'];
const DEFAULT_PAGE = 50;

type App = Parameters<FastifyPluginAsyncTypebox>[0];

/** DELETE …/{kind}/{userId} and GET …/{kind}, alike for mutes and bans. */
function liftAndListRoutes<T>(
  app: App,
  kind: 'mutes' | 'bans',
  routes: {
    liftSummary: string;
    listSummary: string;
    listSchema: TSchema;
    lift: (principal: Principal, id: ConversationId, userId: UserId) => Promise<void>;
    list: (principal: Principal, id: ConversationId, page: { cursor?: string; limit: number }) => Promise<Page<T>>;
    present: (item: T) => unknown;
  },
): void {
  app.delete(
    `/conversations/:id/${kind}/:userId`,
    {
      schema: {
        tags,
        ...AUTHENTICATED,
        summary: routes.liftSummary,
        params: MemberParams,
        response: { 204: Type.Null(), ...problems(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await routes.lift(principalOf(request), request.params.id as ConversationId, request.params.userId as UserId);
      return reply.code(204).send(null);
    },
  );

  app.get(
    `/conversations/:id/${kind}`,
    {
      schema: {
        tags,
        ...AUTHENTICATED,
        summary: routes.listSummary,
        params: ConversationIdParams,
        querystring: ListQuery,
        response: { 200: routes.listSchema, ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { cursor, limit = DEFAULT_PAGE } = request.query;
      const page = await routes.list(principalOf(request), request.params.id as ConversationId, { limit, ...(cursor ? { cursor } : {}) });
      return { items: page.items.map(routes.present), nextCursor: page.nextCursor };
    },
  );
}

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
          summary: 'Mute a user: their sends, edits and reactions here are refused until `until` (or until lifted)',
          params: MemberParams,
          body: MuteBody,
          response: { 204: Type.Null(), ...problems(400, 401, 403, 404, 413, 415) },
        },
        // The body is optional (no body: muted until lifted); validation then sees an empty object.
        preValidation: async (request) => {
          // Only a missing body: a JSON `null` is a body, and the schema refuses it (400).
          if (request.body === undefined) request.body = {};
        },
      },
      async (request, reply) => {
        const { id, userId } = request.params;
        await moderation.mute(principalOf(request), id as ConversationId, userId as UserId, request.body.until);
        return reply.code(204).send(null);
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
          response: { 204: Type.Null(), ...problems(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        await moderation.ban(principalOf(request), request.params.id as ConversationId, request.params.userId as UserId);
        return reply.code(204).send(null);
      },
    );

    liftAndListRoutes(app, 'mutes', {
      liftSummary: "Lift a user's mute",
      listSummary: 'The mutes in force, by user id',
      listSchema: MuteList,
      lift: moderation.unmute,
      list: moderation.listMutes,
      present: presentMute,
    });
    liftAndListRoutes(app, 'bans', {
      liftSummary: "Lift a user's ban (they are not added back)",
      listSummary: 'The bans, by user id',
      listSchema: BanList,
      lift: moderation.unban,
      list: moderation.listBans,
      present: presentBan,
    });
  };
