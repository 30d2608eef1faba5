/** Users: the caller's own profile and blocks (user token), and a tenant's users (tenant key). */
import { expectData, expectSuccess, type ParleyApi } from '../http.js';
import type { Me, MintedToken, MintTokenInput, Presence, UpdateMeInput, UpsertUserInput, User } from './types.js';

/** What a signed-in user may do with users. */
export interface UsersApi {
  /** The caller. */
  me(): Promise<Me>;
  /** Changes the caller's profile. */
  updateMe(input: UpdateMeInput): Promise<Me>;
  /**
   * Deletes the caller's account: profile and credentials erased, every token refused from then
   * on, conversations left; messages stay (shown as from a deleted user).
   */
  deleteMe(): Promise<void>;
  /** A user of the same tenant; 404 `user_not_found` otherwise. */
  get(userId: string): Promise<User>;
  /** The user of the same tenant holding exactly this username, or null: how to find someone to talk to. */
  findByUsername(username: string): Promise<User | null>;
  /** Whether a user of the same tenant is online, or when they were last seen. */
  presence(userId: string): Promise<Presence>;
  /** Blocks a user: they can no longer open a direct conversation with the caller or message them in one. */
  block(userId: string): Promise<void>;
  /** Unblocks a user. */
  unblock(userId: string): Promise<void>;
}

/** What a tenant's back end (its `sk_` key) may do with the tenant's users. */
export interface TenantUsersApi {
  /** Creates the user `userId` of the tenant, or updates its profile when it exists. */
  upsert(userId: string, input: UpsertUserInput): Promise<User>;
  /** A user of the tenant (a deleted one as `{deleted: true}`). */
  get(userId: string): Promise<User>;
  /** Deletes a user of the tenant, as the user's own account deletion does; deleting again succeeds. */
  delete(userId: string): Promise<void>;
  /** Mints an access token for a user upserted before (404 `user_not_found` otherwise); hand it to that user's client. */
  mintToken(userId: string, input?: MintTokenInput): Promise<MintedToken>;
  /** Whether a user of the tenant is online, or when they were last seen. */
  presence(userId: string): Promise<Presence>;
}

const user = (userId: string) => ({ params: { path: { userId } } });

export function usersApi(api: ParleyApi): UsersApi {
  return {
    me: () => expectData(api.GET('/v1/users/me')),
    updateMe: (input) => expectData(api.PATCH('/v1/users/me', { body: input })),
    deleteMe: () => expectSuccess(api.DELETE('/v1/users/me')),
    get: (userId) => expectData(api.GET('/v1/users/{userId}', user(userId))),
    findByUsername: async (username) => (await expectData(api.GET('/v1/users', { params: { query: { username } } }))).items[0] ?? null,
    presence: (userId) => expectData(api.GET('/v1/users/{userId}/presence', user(userId))),
    block: (userId) => expectSuccess(api.PUT('/v1/users/me/blocks/{userId}', user(userId))),
    unblock: (userId) => expectSuccess(api.DELETE('/v1/users/me/blocks/{userId}', user(userId))),
  };
}

export function tenantUsersApi(api: ParleyApi): TenantUsersApi {
  return {
    upsert: (userId, input) => expectData(api.PUT('/v1/users/{userId}', { ...user(userId), body: input })),
    get: (userId) => expectData(api.GET('/v1/users/{userId}', user(userId))),
    delete: (userId) => expectSuccess(api.DELETE('/v1/users/{userId}', user(userId))),
    mintToken: (userId, input = {}) => expectData(api.POST('/v1/users/{userId}/tokens', { ...user(userId), body: input })),
    presence: (userId) => expectData(api.GET('/v1/users/{userId}/presence', user(userId))),
  };
}
