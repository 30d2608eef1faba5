import { Type } from 'typebox';
import { Id, Nullable, SeqInput, Timestamp } from './common.js';
import { Message } from './messages.js';

export const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);
export const ConversationType = Type.Union([Type.Literal('direct'), Type.Literal('group')]);

export const Member = Type.Object({
  userId: Id,
  role: Role,
  lastReadSeq: Type.Integer({ minimum: 0 }),
  joinedAt: Timestamp,
});

export const Conversation = Type.Object({
  id: Id,
  type: ConversationType,
  title: Nullable(Type.String()),
  members: Type.Array(Member, { description: 'At most the first 100 members; page through all with GET .../members' }),
  memberCount: Type.Integer({ minimum: 0 }),
  createdAt: Timestamp,
  lastSeq: Type.Integer({ minimum: 0 }),
  lastActivityAt: Timestamp,
});

export const ConversationListItem = Type.Object({
  ...Conversation.properties,
  lastMessage: Nullable(Message),
  unreadCount: Type.Integer({ minimum: 0 }),
});

export const ConversationList = Type.Object({
  items: Type.Array(ConversationListItem),
  nextCursor: Nullable(Type.String()),
});

export const MemberList = Type.Object({ items: Type.Array(Member), nextCursor: Nullable(Type.String()) });

export const CreateConversationBody = Type.Object(
  {
    type: ConversationType,
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    members: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), {
      maxItems: 1000,
      description: 'direct: exactly the other user; group: up to 1,000 users besides the creator',
    }),
  },
  { additionalProperties: false },
);

export const PatchConversationBody = Type.Object(
  { title: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

export const AddMembersBody = Type.Object(
  { userIds: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);

export const PatchMemberBody = Type.Object({ role: Role }, { additionalProperties: false });

export const ReadBody = Type.Object({ seq: SeqInput(0) }, { additionalProperties: false });

export const ConversationIdParams = Type.Object({ id: Id });
export const MemberParams = Type.Object({ id: Id, userId: Id });
