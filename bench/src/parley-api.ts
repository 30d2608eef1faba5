/**
 * The setup half of the benchmark, through Parley's public API only: an operator creates a
 * tenant, whose back end upserts users and mints their tokens (no password hashing, which is
 * deliberately slow and not what these workloads measure), then users open conversations.
 */
import { randomBytes } from 'node:crypto';
import { mapLimit } from './concurrency.js';

/** Setup requests in flight at once: enough to be quick, few enough not to trip anything. */
const SETUP_CONCURRENCY = 32;

async function call(baseUrl: string, method: string, path: string, token: string, body: unknown, expected: number[]): Promise<any> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!expected.includes(response.status)) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return text === '' ? undefined : JSON.parse(text);
}

export interface BenchUser {
  id: string;
  token: string;
}

/**
 * `count` users u0000, u0001, … of a fresh tenant, each with an access token valid for an hour.
 * Given several nodes' URLs, the requests are spread over them round-robin (setup of 10,000 users
 * then uses every node's event loop).
 */
export async function createUsers(baseUrls: string | readonly string[], adminKey: string, count: number): Promise<BenchUser[]> {
  return (await createTenantWithUsers(baseUrls, adminKey, count)).users;
}

export interface BenchTenant {
  id: string;
  /** The tenant's API key (`sk_…`): its back end's credential, e.g. for webhooks. */
  apiKey: string;
  users: BenchUser[];
}

/**
 * As `createUsers`, also returning the tenant and its API key; `tokenSeconds` is the tokens'
 * lifetime (runs longer than the default hour, such as the soak, need more; 24 h at most).
 */
export async function createTenantWithUsers(baseUrls: string | readonly string[], adminKey: string, count: number, tokenSeconds = 3600): Promise<BenchTenant> {
  const urls = typeof baseUrls === 'string' ? [baseUrls] : baseUrls;
  const tenantId = `bench-${randomBytes(4).toString('hex')}`;
  const created = await call(urls[0]!, 'POST', '/v1/tenants', adminKey, { id: tenantId, name: 'Benchmark' }, [201]);
  const apiKey = created.apiKey as string;
  const ids = Array.from({ length: count }, (_, i) => `u${String(i).padStart(4, '0')}`);
  const urlOf = (index: number) => urls[index % urls.length]!;
  await mapLimit(ids, SETUP_CONCURRENCY, (id, index) => call(urlOf(index), 'PUT', `/v1/users/${id}`, apiKey, { displayName: `User ${id}` }, [200, 201]));
  const users = await mapLimit(ids, SETUP_CONCURRENCY, async (id, index) => {
    const minted = await call(urlOf(index), 'POST', `/v1/users/${id}/tokens`, apiKey, { expiresIn: tokenSeconds }, [201]);
    return { id, token: minted.accessToken as string };
  });
  return { id: tenantId, apiKey, users };
}

export interface DirectConversation {
  id: string;
  members: [BenchUser, BenchUser];
}

/** Pairs users (0,1), (2,3), …: one direct conversation per pair, opened by the first. */
export function openDirectPairs(baseUrl: string, users: readonly BenchUser[]): Promise<DirectConversation[]> {
  const pairs = Array.from({ length: Math.floor(users.length / 2) }, (_, i) => [users[2 * i]!, users[2 * i + 1]!] as [BenchUser, BenchUser]);
  return mapLimit(pairs, SETUP_CONCURRENCY, async (pair) => {
    const conversation = await call(baseUrl, 'POST', '/v1/conversations', pair[0].token, { type: 'direct', members: [pair[1].id] }, [200, 201]);
    return { id: conversation.id as string, members: pair };
  });
}

/** One group of every user, created by the first (the API takes up to 1,000 names per request). */
export async function createGroup(baseUrl: string, users: readonly BenchUser[]): Promise<string> {
  const [owner, ...others] = users;
  if (!owner) throw new Error('a group needs at least one user');
  const first = others.slice(0, 1000);
  const conversation = await call(baseUrl, 'POST', '/v1/conversations', owner.token, { type: 'group', title: 'Benchmark', members: first.map((u) => u.id) }, [201]);
  const id = conversation.id as string;
  for (let start = 1000; start < others.length; start += 1000) {
    const batch = others.slice(start, start + 1000).map((u) => u.id);
    await call(baseUrl, 'POST', `/v1/conversations/${id}/members`, owner.token, { userIds: batch }, [200, 201, 204]);
  }
  return id;
}

export interface BenchGroup {
  id: string;
  members: BenchUser[];
}

/**
 * Consecutive users in groups of `size` (the last may be smaller), each created by its first
 * member; at most 1,000 members each (one request per group).
 */
export function createGroups(baseUrl: string, users: readonly BenchUser[], size: number): Promise<BenchGroup[]> {
  if (size < 1 || size > 1000) throw new Error(`group size must be 1..1000, got ${size}`);
  const chunks = Array.from({ length: Math.ceil(users.length / size) }, (_, i) => users.slice(i * size, (i + 1) * size));
  return mapLimit(chunks, SETUP_CONCURRENCY, async (members, index) => {
    const [owner, ...others] = members as [BenchUser, ...BenchUser[]];
    const body = { type: 'group', title: `Benchmark ${index}`, members: others.map((u) => u.id) };
    const conversation = await call(baseUrl, 'POST', '/v1/conversations', owner.token, body, [201]);
    return { id: conversation.id as string, members };
  });
}

/** Sends one text message as `sender`; resolves with the seq the server assigned it. */
export async function sendText(baseUrl: string, sender: BenchUser, conversationId: string, text: string): Promise<number> {
  const message = await call(baseUrl, 'POST', `/v1/conversations/${conversationId}/messages`, sender.token, { text }, [201]);
  return message.seq as number;
}

/** Subscribes `url` to the tenant's `events` (tenant API key); resolves with the webhook's id. */
export async function createWebhook(baseUrl: string, apiKey: string, url: string, events: readonly string[]): Promise<string> {
  const webhook = await call(baseUrl, 'POST', '/v1/webhooks', apiKey, { url, events }, [201]);
  return webhook.id as string;
}

/** The operator key for one benchmark run (the server requires at least 32 characters). */
export function newAdminKey(): string {
  return `bench-admin-${randomBytes(24).toString('hex')}`;
}
