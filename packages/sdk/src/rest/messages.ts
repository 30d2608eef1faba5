/** Messages and reactions: `/v1/conversations/{id}/messages…`. */
import { expectData, expectSuccess, type ParleyApi } from '../http.js';
import type { HistoryQuery, Message, MessagePage, SendMessageInput } from './types.js';

export interface MessagesApi {
  /**
   * Sends a message. With a `clientMessageId`, repeating the send (after a network failure, a
   * reload…) returns the original message instead of storing a second copy: generate the id once
   * per message and reuse it on every retry.
   */
  send(conversationId: string, input: SendMessageInput): Promise<Message>;
  /**
   * A page of history in ascending `seq`: the latest `limit` messages, the page just `before` a
   * seq (scrolling up), or the first `limit` messages `after` a seq (catching up). `hasMore` tells
   * whether more exist in the direction read.
   */
  list(conversationId: string, query?: HistoryQuery): Promise<MessagePage>;
  /** Edits the text of the caller's own message. */
  edit(conversationId: string, messageId: string, text: string): Promise<Message>;
  /** Deletes a message (its sender, or an owner/admin); history keeps its seq with `deletedAt` set. */
  delete(conversationId: string, messageId: string): Promise<void>;
  /** Adds the caller's reaction (an emoji, sent URL-encoded). */
  addReaction(conversationId: string, messageId: string, emoji: string): Promise<void>;
  /** Removes the caller's reaction. */
  removeReaction(conversationId: string, messageId: string, emoji: string): Promise<void>;
}

export function messagesApi(api: ParleyApi): MessagesApi {
  const reaction = (id: string, messageId: string, emoji: string) => ({ params: { path: { id, messageId, emoji } } });
  return {
    send: (id, input) => expectData(api.POST('/v1/conversations/{id}/messages', { params: { path: { id } }, body: input })),
    list: (id, query = {}) => expectData(api.GET('/v1/conversations/{id}/messages', { params: { path: { id }, query } })),
    edit: (id, messageId, text) =>
      expectData(api.PATCH('/v1/conversations/{id}/messages/{messageId}', { params: { path: { id, messageId } }, body: { text } })),
    delete: (id, messageId) => expectSuccess(api.DELETE('/v1/conversations/{id}/messages/{messageId}', { params: { path: { id, messageId } } })),
    addReaction: (id, messageId, emoji) =>
      expectSuccess(api.PUT('/v1/conversations/{id}/messages/{messageId}/reactions/{emoji}', reaction(id, messageId, emoji))),
    removeReaction: (id, messageId, emoji) =>
      expectSuccess(api.DELETE('/v1/conversations/{id}/messages/{messageId}/reactions/{emoji}', reaction(id, messageId, emoji))),
  };
}
