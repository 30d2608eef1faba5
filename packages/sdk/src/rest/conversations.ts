/** Conversations and their members: `/v1/conversations…` except messages and moderation. */
import { expectData, expectSuccess, type ParleyApi } from '../http.js';
import type {
  Conversation,
  ConversationPage,
  CreateConversationInput,
  Member,
  MemberPage,
  PageQuery,
  Role,
  UpdateConversationInput,
} from './types.js';

export interface ConversationsApi {
  /**
   * Creates a group (the caller becomes its owner), or opens the one direct conversation with a
   * user: for a direct pair that already exists, the existing conversation is returned.
   * With a tenant key, a direct conversation names both users.
   */
  create(input: CreateConversationInput): Promise<Conversation>;
  /** A page of the caller's conversations, most recent activity first, each with `lastMessage` and `unreadCount`. */
  list(query?: PageQuery): Promise<ConversationPage>;
  /** One conversation; 404 `conversation_not_found` when absent or the caller is not a member. */
  get(conversationId: string): Promise<Conversation>;
  /** Changes a group's title (owner or admin). */
  update(conversationId: string, input: UpdateConversationInput): Promise<Conversation>;
  /** A page of members in the order they joined (`cursor` from the previous page's `nextCursor`). */
  listMembers(conversationId: string, query?: PageQuery): Promise<MemberPage>;
  /** Adds users to a group (owner or admin); answers the updated conversation. */
  addMembers(conversationId: string, userIds: string[]): Promise<Conversation>;
  /** Removes a member (owner or admin), or leaves when `userId` is the caller. */
  removeMember(conversationId: string, userId: string): Promise<void>;
  /** Changes a member's role (owner only). */
  setRole(conversationId: string, userId: string, role: Role): Promise<Member>;
  /** Marks the conversation read up to `seq` (never moves backwards); other members get a `read` event. */
  markRead(conversationId: string, seq: number): Promise<void>;
}

export function conversationsApi(api: ParleyApi): ConversationsApi {
  const inConversation = (id: string) => ({ params: { path: { id } } });
  return {
    create: (input) => expectData(api.POST('/v1/conversations', { body: input })),
    list: (query = {}) => expectData(api.GET('/v1/conversations', { params: { query } })),
    get: (id) => expectData(api.GET('/v1/conversations/{id}', inConversation(id))),
    update: (id, input) => expectData(api.PATCH('/v1/conversations/{id}', { ...inConversation(id), body: input })),
    listMembers: (id, query = {}) => expectData(api.GET('/v1/conversations/{id}/members', { params: { path: { id }, query } })),
    addMembers: (id, userIds) => expectData(api.POST('/v1/conversations/{id}/members', { ...inConversation(id), body: { userIds } })),
    removeMember: (id, userId) => expectSuccess(api.DELETE('/v1/conversations/{id}/members/{userId}', { params: { path: { id, userId } } })),
    setRole: (id, userId, role) =>
      expectData(api.PATCH('/v1/conversations/{id}/members/{userId}', { params: { path: { id, userId } }, body: { role } })),
    markRead: (id, seq) => expectSuccess(api.POST('/v1/conversations/{id}/read', { ...inConversation(id), body: { seq } })),
  };
}
