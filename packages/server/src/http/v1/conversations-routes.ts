import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  AddMembersBody,
  Conversation,
  ConversationIdParams,
  ConversationList,
  CreateConversationBody,
  ListQuery,
  Member,
  MemberList,
  MemberParams,
  PatchConversationBody,
  PatchMemberBody,
  ReadBody,
} from '@parley/protocol';
import type { ConversationId, UserId } from '../../domain/types.js';
import type { ConversationsService } from '../../services/conversations-service.js';
import { principalOf } from '../authentication.js';
import { AUTHENTICATED, problems } from '../route-schemas.js';
import { presentConversation, presentConversationView, presentMember } from './present.js';

const tags = ['Conversations'];
const DEFAULT_PAGE = 50;

export const conversationsRoutes =
  (conversations: ConversationsService): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/conversations',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Create a group, or open the one direct conversation with a user',
          body: CreateConversationBody,
          response: { 201: Conversation, 200: Conversation, ...problems(400, 401, 403, 404, 409, 413, 415) },
        },
      },
      async (request, reply) => {
        const { conversation, members, created } = await conversations.create(principalOf(request), request.body);
        return reply.code(created ? 201 : 200).send(presentConversation(conversation, members));
      },
    );

    app.get(
      '/conversations',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: "The caller's conversations, most recent activity first",
          querystring: ListQuery,
          response: { 200: ConversationList, ...problems(400, 401, 403) },
        },
      },
      async (request) => {
        const { cursor, limit = DEFAULT_PAGE } = request.query;
        const page = await conversations.list(principalOf(request), { limit, ...(cursor ? { cursor } : {}) });
        return { items: page.items.map(presentConversationView), nextCursor: page.nextCursor };
      },
    );

    app.get(
      '/conversations/:id',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          params: ConversationIdParams,
          response: { 200: Conversation, ...problems(400, 401, 404) },
        },
      },
      async (request) => {
        const { conversation, members } = await conversations.get(principalOf(request), request.params.id as ConversationId);
        return presentConversation(conversation, members);
      },
    );

    app.patch(
      '/conversations/:id',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Change the title of a group (owner or admin)',
          params: ConversationIdParams,
          body: PatchConversationBody,
          response: { 200: Conversation, ...problems(400, 401, 403, 404, 413, 415) },
        },
      },
      async (request) => {
        const { conversation, members } = await conversations.update(
          principalOf(request),
          request.params.id as ConversationId,
          request.body,
        );
        return presentConversation(conversation, members);
      },
    );

    app.get(
      '/conversations/:id/members',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Page through the members, in the order they joined',
          params: ConversationIdParams,
          querystring: ListQuery,
          response: { 200: MemberList, ...problems(400, 401, 404) },
        },
      },
      async (request) => {
        const { cursor, limit = DEFAULT_PAGE } = request.query;
        const page = await conversations.listMembers(principalOf(request), request.params.id as ConversationId, {
          limit,
          ...(cursor ? { cursor } : {}),
        });
        return { items: page.items.map(presentMember), nextCursor: page.nextCursor };
      },
    );

    app.post(
      '/conversations/:id/members',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Add members to a group (owner or admin)',
          params: ConversationIdParams,
          body: AddMembersBody,
          response: { 200: Conversation, ...problems(400, 401, 403, 404, 409, 413, 415) },
        },
      },
      async (request) => {
        const { conversation, members } = await conversations.addMembers(
          principalOf(request),
          request.params.id as ConversationId,
          request.body.userIds,
        );
        return presentConversation(conversation, members);
      },
    );

    app.delete(
      '/conversations/:id/members/:userId',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Remove a member (owner or admin), or leave',
          params: MemberParams,
          response: { 204: Type.Null(), ...problems(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        await conversations.removeMember(
          principalOf(request),
          request.params.id as ConversationId,
          request.params.userId as UserId,
        );
        return reply.code(204).send(null);
      },
    );

    app.patch(
      '/conversations/:id/members/:userId',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: "Change a member's role (owner)",
          params: MemberParams,
          body: PatchMemberBody,
          response: { 200: Member, ...problems(400, 401, 403, 404, 413, 415) },
        },
      },
      async (request) => {
        const member = await conversations.setRole(
          principalOf(request),
          request.params.id as ConversationId,
          request.params.userId as UserId,
          request.body.role,
        );
        return presentMember(member);
      },
    );

    app.post(
      '/conversations/:id/read',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Mark the conversation read up to seq (never moves backwards)',
          params: ConversationIdParams,
          body: ReadBody,
          response: { 204: Type.Null(), ...problems(400, 401, 403, 404, 413, 415) },
        },
      },
      async (request, reply) => {
        await conversations.markRead(principalOf(request), request.params.id as ConversationId, request.body.seq);
        return reply.code(204).send(null);
      },
    );
  };
