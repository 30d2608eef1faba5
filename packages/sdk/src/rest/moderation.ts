/** Mutes and bans in a conversation (owner or admin, or a tenant key): `/v1/conversations/{id}/mutes|bans`. */
import { expectData, expectSuccess, type ParleyApi } from '../http.js';
import type { BanList, MuteInput, MuteList } from './types.js';

export interface ModerationApi {
  /** Mutes a user: their sends, edits and reactions there answer 403 `muted` until `until` (RFC 3339) or until unmuted. */
  mute(conversationId: string, userId: string, input?: MuteInput): Promise<void>;
  /** Lifts a mute. */
  unmute(conversationId: string, userId: string): Promise<void>;
  /** Bans a user: removed if a member, and refused (403 `banned`) when added again until unbanned. */
  ban(conversationId: string, userId: string): Promise<void>;
  /** Lifts a ban (the user is not added back). */
  unban(conversationId: string, userId: string): Promise<void>;
  /** The mutes in force. */
  listMutes(conversationId: string): Promise<MuteList>;
  /** The bans. */
  listBans(conversationId: string): Promise<BanList>;
}

export function moderationApi(api: ParleyApi): ModerationApi {
  const target = (id: string, userId: string) => ({ params: { path: { id, userId } } });
  return {
    mute: (id, userId, input = {}) => expectSuccess(api.PUT('/v1/conversations/{id}/mutes/{userId}', { ...target(id, userId), body: input })),
    unmute: (id, userId) => expectSuccess(api.DELETE('/v1/conversations/{id}/mutes/{userId}', target(id, userId))),
    ban: (id, userId) => expectSuccess(api.PUT('/v1/conversations/{id}/bans/{userId}', target(id, userId))),
    unban: (id, userId) => expectSuccess(api.DELETE('/v1/conversations/{id}/bans/{userId}', target(id, userId))),
    listMutes: (id) => expectData(api.GET('/v1/conversations/{id}/mutes', { params: { path: { id } } })),
    listBans: (id) => expectData(api.GET('/v1/conversations/{id}/bans', { params: { path: { id } } })),
  };
}
