import { Type } from 'typebox';
import { Id, Nullable, SeqInput, Timestamp } from './common.js';

export const MAX_MESSAGE_TEXT = 4000;

export const Reactions = Type.Record(
  Type.String(),
  Type.Object({ count: Type.Integer({ minimum: 1 }), me: Type.Boolean() }),
  { description: 'emoji → how many reacted and whether the caller did' },
);

export const Message = Type.Object({
  id: Id,
  conversationId: Id,
  seq: Type.Integer({ minimum: 1 }),
  senderId: Nullable(Id),
  system: Type.Boolean({ description: 'Posted by the tenant back end' }),
  text: Nullable(Type.String({ description: 'Null once deleted' })),
  createdAt: Timestamp,
  editedAt: Nullable(Timestamp),
  deletedAt: Nullable(Timestamp),
  replyTo: Nullable(Id),
  reactions: Reactions,
});

export const SendMessageBody = Type.Object(
  {
    // Raw length allows surrounding whitespace; the 1..4000 rule applies after trimming.
    text: Type.String({ maxLength: 2 * MAX_MESSAGE_TEXT }),
    clientMessageId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,128}$' })),
    replyTo: Type.Optional(Id),
  },
  { additionalProperties: false },
);

export const EditMessageBody = Type.Object(
  { text: Type.String({ maxLength: 2 * MAX_MESSAGE_TEXT }) },
  { additionalProperties: false },
);

export const HistoryQuery = Type.Object(
  {
    before: Type.Optional(SeqInput(1)),
    after: Type.Optional(SeqInput(0)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  },
  { additionalProperties: false },
);

export const History = Type.Object({ items: Type.Array(Message), hasMore: Type.Boolean() });

export const MessageParams = Type.Object({ id: Id, messageId: Id });
export const ReactionParams = Type.Object({
  id: Id,
  messageId: Id,
  emoji: Type.String({ minLength: 1, maxLength: 64, description: 'The emoji, URL-encoded' }),
});
