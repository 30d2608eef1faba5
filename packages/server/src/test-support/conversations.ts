/**
 * Helpers for the HTTP tests of conversations and messages: every call goes through the real
 * API (a listening socket), and every helper that expects success fails loudly otherwise, so a
 * broken setup step never passes for the behaviour under test.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { ApiClient, ApiResponse } from './api-client.js';
import { createTenant } from './server.js';

/** RFC 3339 in UTC as the API writes it. */
export const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/**
 * A clock that never returns the same millisecond twice and stays at (or just above) real time,
 * so "most recent activity first" is decided by the order of requests, not by ties within 1 ms.
 */
export function strictlyIncreasingClock(): () => number {
  let last = 0;
  return () => {
    last = Math.max(Date.now(), last + 1);
    return last;
  };
}

/** Asserts a problem+json answer with the status and stable code. */
export function expectProblem(response: ApiResponse, status: number, code: string, label?: string): void {
  const where = `${label ? `${label}: ` : ''}${response.status} ${response.text}`;
  expect(response.status, where).toBe(status);
  expect(response.headers.get('content-type'), where).toContain('application/problem+json');
  expect(response.body?.code, where).toBe(code);
  expect(response.body?.status, where).toBe(status);
}

function expectStatus(response: ApiResponse, status: number, what: string): void {
  if (response.status !== status) throw new Error(`${what}: expected ${status}, got ${response.status} ${response.text}`);
}

export interface TenantUser {
  id: string;
  token: string;
}

export interface TestTenant {
  id: string;
  key: string;
  /** Upserts the users with the tenant key and mints an access token for each. */
  users(ids: string[]): Promise<TenantUser[]>;
  /** Upserts users without minting tokens (for bulk membership). */
  upsert(ids: string[]): Promise<void>;
}

export function uniqueTenantId(): string {
  return `t-${randomBytes(5).toString('hex')}`;
}

/** Creates a tenant through the operator API; its users are created with its API key. */
export async function createTestTenant(api: ApiClient, id = uniqueTenantId()): Promise<TestTenant> {
  const key = await createTenant(api, id);
  const upsertOne = async (userId: string) => {
    const response = await api.put(`/v1/users/${encodeURIComponent(userId)}`, { displayName: `User ${userId}` }, key);
    if (response.status !== 201 && response.status !== 200) throw new Error(`upsert ${userId}: ${response.status} ${response.text}`);
  };
  const upsert = async (ids: string[]) => {
    for (let start = 0; start < ids.length; start += 50) await Promise.all(ids.slice(start, start + 50).map(upsertOne));
  };
  return {
    id,
    key,
    upsert,
    async users(ids) {
      await upsert(ids);
      return Promise.all(
        ids.map(async (userId) => {
          const response = await api.post(`/v1/users/${encodeURIComponent(userId)}/tokens`, {}, key);
          expectStatus(response, 201, `mint token for ${userId}`);
          return { id: userId, token: response.body.accessToken as string };
        }),
      );
    },
  };
}

/** Opens (or finds) the direct conversation with `otherId`; returns the conversation body. */
export async function openDirect(api: ApiClient, token: string, otherId: string): Promise<any> {
  const response = await api.post('/v1/conversations', { type: 'direct', members: [otherId] }, token);
  if (response.status !== 201 && response.status !== 200) throw new Error(`open direct: ${response.status} ${response.text}`);
  return response.body;
}

export async function createGroup(api: ApiClient, token: string, members: string[], title = 'Group'): Promise<any> {
  const response = await api.post('/v1/conversations', { type: 'group', title, members }, token);
  expectStatus(response, 201, 'create group');
  return response.body;
}

export async function sendMessage(api: ApiClient, token: string, conversationId: string, text: string, extra: object = {}): Promise<any> {
  const response = await api.post(`/v1/conversations/${conversationId}/messages`, { text, ...extra }, token);
  expectStatus(response, 201, 'send message');
  return response.body;
}

export async function setRole(api: ApiClient, token: string, conversationId: string, userId: string, role: string): Promise<void> {
  const response = await api.patch(`/v1/conversations/${conversationId}/members/${encodeURIComponent(userId)}`, { role }, token);
  expectStatus(response, 200, `set role ${role}`);
}

/** Every message of the conversation, oldest first, as `token` sees it, paging with `after`. */
export async function fullHistoryOf(api: ApiClient, token: string, conversationId: string): Promise<any[]> {
  const items: any[] = [];
  for (;;) {
    const after = items.length === 0 ? 0 : (items.at(-1).seq as number);
    const page = await api.get(`/v1/conversations/${conversationId}/messages?after=${after}&limit=100`, token);
    expectStatus(page, 200, 'history page');
    items.push(...page.body.items);
    if (!page.body.hasMore) return items;
  }
}

/** The whole history (up to 100 messages; fullHistoryOf pages beyond), ascending, as `token` sees it. */
export async function historyOf(api: ApiClient, token: string, conversationId: string): Promise<any[]> {
  const response = await api.get(`/v1/conversations/${conversationId}/messages?limit=100`, token);
  expectStatus(response, 200, 'history');
  return response.body.items;
}

export async function conversationOf(api: ApiClient, token: string, conversationId: string): Promise<any> {
  const response = await api.get(`/v1/conversations/${conversationId}`, token);
  expectStatus(response, 200, 'get conversation');
  return response.body;
}

/** Every member, paging through GET .../members. */
export async function allMembers(api: ApiClient, token: string, conversationId: string): Promise<any[]> {
  const members: any[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `?limit=100&cursor=${encodeURIComponent(cursor)}` : '?limit=100';
    const response = await api.get(`/v1/conversations/${conversationId}/members${query}`, token);
    expectStatus(response, 200, 'list members');
    members.push(...response.body.items);
    cursor = response.body.nextCursor;
  } while (cursor);
  return members;
}

/** Every conversation of the caller, most recent activity first, paging through the list. */
export async function conversationList(api: ApiClient, token: string, limit = 100): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `?limit=${limit}&cursor=${encodeURIComponent(cursor)}` : `?limit=${limit}`;
    const response = await api.get(`/v1/conversations${query}`, token);
    expectStatus(response, 200, 'list conversations');
    items.push(...response.body.items);
    cursor = response.body.nextCursor;
  } while (cursor);
  return items;
}

export const ids = (items: { id: string }[]): string[] => items.map((item) => item.id);
