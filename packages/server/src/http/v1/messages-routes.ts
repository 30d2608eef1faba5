import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ConversationIdParams,
  EditMessageBody,
  History,
  HistoryQuery,
  Message,
  MessageParams,
  ReactionParams,
  SendMessageBody,
} from '@parley/protocol';
import type { ConversationId, MessageId } from '../../domain/types.js';
import type { MessagesService } from '../../services/messages-service.js';
import { principalOf } from '../authentication.js';
import { quotasOf } from '../rate-limit-headers.js';
import { AUTHENTICATED, problems } from '../route-schemas.js';
import { presentMessage } from './present.js';

const tags = ['Messages'];
const DEFAULT_PAGE = 50;

export const messagesRoutes =
  (messages: MessagesService): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/conversations/:id/messages',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Send a message; repeating a clientMessageId returns the original (200)',
          params: ConversationIdParams,
          body: SendMessageBody,
          response: { 201: Message, 200: Message, ...problems(400, 401, 403, 404, 413, 415, 429) },
        },
      },
      async (request, reply) => {
        const { message, created } = await messages.send(
          principalOf(request),
          request.params.id as ConversationId,
          request.body,
          quotasOf(request),
        );
        return reply.code(created ? 201 : 200).send(presentMessage(message));
      },
    );

    app.get(
      '/conversations/:id/messages',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'A page of history in ascending seq: the latest, before a seq, or after a seq',
          params: ConversationIdParams,
          querystring: HistoryQuery,
          response: { 200: History, ...problems(400, 401, 404) },
        },
      },
      async (request) => {
        const { before, after, limit = DEFAULT_PAGE } = request.query;
        const page = await messages.history(principalOf(request), request.params.id as ConversationId, {
          limit,
          ...(before !== undefined ? { before } : {}),
          ...(after !== undefined ? { after } : {}),
        });
        return { items: page.items.map(presentMessage), hasMore: page.hasMore };
      },
    );

    app.patch(
      '/conversations/:id/messages/:messageId',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Edit the text of your message',
          params: MessageParams,
          body: EditMessageBody,
          response: { 200: Message, ...problems(400, 401, 403, 404, 409, 413, 415, 429) },
        },
      },
      async (request) => {
        const { id, messageId } = request.params;
        const message = await messages.edit(
          principalOf(request),
          id as ConversationId,
          messageId as MessageId,
          request.body.text,
          quotasOf(request),
        );
        return presentMessage(message);
      },
    );

    app.delete(
      '/conversations/:id/messages/:messageId',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Delete a message (sender, owner or admin); its seq stays with deletedAt set',
          params: MessageParams,
          response: { 204: Type.Null(), ...problems(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        const { id, messageId } = request.params;
        await messages.delete(principalOf(request), id as ConversationId, messageId as MessageId);
        return reply.code(204).send(null);
      },
    );

    for (const method of ['PUT', 'DELETE'] as const) {
      app.route({
        method,
        url: '/conversations/:id/messages/:messageId/reactions/:emoji',
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: method === 'PUT' ? 'Add your reaction' : 'Remove your reaction',
          params: ReactionParams,
          response: { 204: Type.Null(), ...problems(400, 401, 403, 404, 409, 429) },
        },
        handler: async (request, reply) => {
          const { id, messageId, emoji } = request.params;
          await messages.react(principalOf(request), id as ConversationId, messageId as MessageId, emoji, method === 'PUT', quotasOf(request));
          return reply.code(204).send(null);
        },
      });
    }
  };
