/**
 * Binds the realtime layer's injected REST operations to a REST client shaped like the SDK's
 * (`createParleyClient`), declared structurally here so that this layer imports nothing of it.
 */
import type { CatchUpRest, SendMessageRest } from './deps.js';
import type { ConversationListItem, Message, MessagePage } from './wire.js';

/** What the realtime layer calls on a REST client: list conversations, read history after a seq, send. */
export interface RestClientLike {
  conversations: {
    list(query?: { limit?: number; cursor?: string }): Promise<{ items: ConversationListItem[]; nextCursor: string | null }>;
  };
  messages: {
    list(conversationId: string, query?: { after?: number; limit?: number }): Promise<MessagePage>;
    send(conversationId: string, input: { text: string; clientMessageId?: string; replyTo?: string }): Promise<Message>;
  };
}

/** The catch-up reads and the idempotent send, over `client`. */
export function restOperationsOf(client: RestClientLike): CatchUpRest & SendMessageRest {
  return {
    async listConversations() {
      const items: ConversationListItem[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: ConversationListItem[]; nextCursor: string | null } = await client.conversations.list({
          limit: 100,
          ...(cursor === null ? {} : { cursor }),
        });
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== null);
      return items;
    },
    messagesAfter: (conversationId, afterSeq, limit) => client.messages.list(conversationId, { after: afterSeq, limit }),
    sendMessage: (conversationId, body) => client.messages.send(conversationId, body),
  };
}
