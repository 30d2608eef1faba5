/**
 * The world the security suite attacks: a victim tenant with real objects (users, a group and a
 * direct conversation with messages and reactions, a user with back-end metadata), an outsider of
 * the same tenant, an expired token of the owner, fresh attacker tenants on demand, and a table
 * that fills every path parameter of the served OpenAPI document with a real object of the
 * victim (or a random id, for the control call).
 *
 * Every response goes through a recorder, so exposure checks walk what users actually received.
 */
import { randomBytes } from 'node:crypto';
import { clientOf, type ApiClient, type ApiResponse, type RequestOptions } from './api-client.js';
import { createGroup, createTestTenant, openDirect, sendMessage, uniqueTenantId, type TenantUser, type TestTenant } from './conversations.js';
import type { EngineKind } from './engines.js';
import { collectionOf, fetchServedDocument, fillPath, operationsOf, type OpenApiDocument, type Operation, type ValueHint } from './openapi-operations.js';
import { startTinyIssuer } from './openid-provider.js';
import { ADMIN_KEY, startTestServer, type TestServer } from './server.js';

/** The id of the victim tenant's identity provider (of a tiny issuer on loopback). */
export const VICTIM_PROVIDER_ID = 'victim-sso';

/** One response as a caller observed it, with the credential it was sent with. */
export interface RecordedResponse {
  method: string;
  path: string;
  token: string | undefined;
  status: number;
  text: string;
  body: any;
}

/** Wraps a client so every response is appended to `sink`. */
export function recordingClient(inner: ApiClient, sink: RecordedResponse[]): ApiClient {
  async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const response = await inner.request<T>(method, path, options);
    sink.push({ method, path, token: options.token, status: response.status, text: response.text, body: response.body });
    return response;
  }
  return clientOf(inner.baseUrl, request);
}

/** An id that names nothing, valid for every id pattern of the API. */
export const randomId = (): string => `zz${randomBytes(8).toString('hex')}`;

/** A conversation of the victim with one message (by the owner) that carries a reaction. */
export interface VictimConversation {
  kind: 'group' | 'direct';
  id: string;
  messageId: string;
  emoji: string;
}

export interface Attacker {
  tenantId: string;
  key: string;
  user: TenantUser;
}

export interface SecurityWorld {
  server: TestServer;
  /** The recording client: use it for every call whose response should be checked for exposure. */
  api: ApiClient;
  responses: RecordedResponse[];
  /** The served OpenAPI document (read unrecorded: it describes request bodies, passwords included) and its operations. */
  document: OpenApiDocument;
  operations: Operation[];
  victimTenant: TestTenant;
  /** Owner of the group, member of the direct conversation; has back-end metadata. */
  alice: TenantUser;
  /** Member of both conversations. */
  bob: TenantUser;
  /** Same tenant, member of nothing. */
  mallory: TenantUser;
  group: VictimConversation;
  direct: VictimConversation;
  /** The victim tenant's webhook (posting to the loopback issuer, which answers 404: it keeps failing) and one of its deliveries. */
  webhookId: string;
  deliveryId: string;
  /** A token of alice's whose `exp` is 10 minutes in the past. */
  expiredAliceToken: string;
  /** alice's metadata marker: must reach nobody but alice and the victim tenant's key. */
  metadataMarker: string;
  /** The tenant each known credential belongs to (user tokens and tenant keys). */
  tenantOfToken: Map<string, string>;
  /**
   * Values generated bodies need to reach the services without leaving the machine: an identity
   * provider's `issuer` is the world's loopback issuer (a generated URL would be fetched).
   */
  hint: ValueHint;
  /**
   * A new tenant with its key and one user whose id is alice's, so attacks of one operation never
   * leak into the next and a check that forgets the tenant is caught.
   */
  newAttacker(): Promise<Attacker>;
  /**
   * What the victim observes about its objects, for before/after comparison: everything (both
   * conversations with members and messages, conversation lists, users), or only one conversation.
   */
  snapshot(only?: VictimConversation): Promise<unknown>;
  stop(): Promise<void>;
}

export async function createSecurityWorld(kind: EngineKind): Promise<SecurityWorld> {
  let clockOffset = 0;
  // The victim trusts an identity provider: discovery needs an issuer Parley may call.
  const issuer = await startTinyIssuer();
  const server = await startTestServer({ kind, clock: () => Date.now() + clockOffset, env: { OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' } });
  const responses: RecordedResponse[] = [];
  const api = recordingClient(server.api, responses);
  const tenantOfToken = new Map<string, string>();
  const document = await fetchServedDocument(server.api);

  const victimTenant = await createTestTenant(api, `victim-${randomBytes(4).toString('hex')}`);
  tenantOfToken.set(victimTenant.key, victimTenant.id);
  const [alice, bob, carol, mallory] = (await victimTenant.users(['alice', 'bob', 'carol', 'mallory'])) as [TenantUser, TenantUser, TenantUser, TenantUser];
  for (const user of [alice, bob, carol, mallory]) tenantOfToken.set(user.token, victimTenant.id);
  await expectOk(
    api.put(`/v1/tenants/${victimTenant.id}/identity-providers/${VICTIM_PROVIDER_ID}`, { issuer: issuer.issuer, audience: `${victimTenant.id}-api` }, victimTenant.key),
    'trust an identity provider',
  );
  const metadataMarker = `private-note-${randomBytes(4).toString('hex')}`;
  await expectOk(api.put(`/v1/users/${alice.id}`, { displayName: 'Alice', metadata: { note: metadataMarker } }, victimTenant.key), 'set metadata');

  const conversation = async (kind: 'group' | 'direct', body: any): Promise<VictimConversation> => {
    const message = await sendMessage(api, alice.token, body.id, `hello from alice (${kind})`);
    await sendMessage(api, bob.token, body.id, `hello from bob (${kind})`);
    const emoji = '👍';
    await expectOk(api.put(`/v1/conversations/${body.id}/messages/${message.id}/reactions/${encodeURIComponent(emoji)}`, null, bob.token), 'react');
    return { kind, id: body.id, messageId: message.id, emoji };
  };
  const group = await conversation('group', await createGroup(api, alice.token, [bob.id, carol.id], 'Victims only'));
  const direct = await conversation('direct', await openDirect(api, alice.token, bob.id));

  // A webhook with one attempted delivery (a ping), so its {id} and {deliveryId} name real objects.
  const webhook = await expectOk(api.post('/v1/webhooks', { url: `${issuer.issuer}/webhook-sink`, events: ['conversation.updated'] }, victimTenant.key), 'create a webhook');
  const webhookId: string = webhook.body.id;
  await expectOk(api.post(`/v1/webhooks/${webhookId}/ping`, null, victimTenant.key), 'ping the webhook');
  let deliveryId: string | undefined;
  for (const deadline = Date.now() + 10_000; deliveryId === undefined && Date.now() < deadline; ) {
    deliveryId = (await server.api.get(`/v1/webhooks/${webhookId}/deliveries`, victimTenant.key)).body?.items?.[0]?.id;
    if (deliveryId === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (deliveryId === undefined) throw new Error('security world: the webhook ping was never attempted');

  // A token minted while the server's clock is 11 minutes behind: it expired 10 minutes ago.
  clockOffset = -11 * 60_000;
  const minted = await expectOk(api.post(`/v1/users/${alice.id}/tokens`, { expiresIn: 60 }, victimTenant.key), 'mint expired token');
  clockOffset = 0;
  const expiredAliceToken: string = minted.body.accessToken;

  // Read with the unrecorded client: the snapshot is the victim's own view, not part of an attack.
  const read = async (path: string, token: string) => (await expectOk(server.api.get(path, token), `snapshot ${path}`)).body;
  return {
    server,
    api,
    responses,
    document,
    operations: operationsOf(document),
    victimTenant,
    alice,
    bob,
    mallory,
    group,
    direct,
    webhookId,
    deliveryId,
    expiredAliceToken,
    metadataMarker,
    tenantOfToken,
    // Generated URLs point at the loopback issuer too (a webhook's would be resolved and called).
    hint: (name) => (name === 'issuer' ? issuer.issuer : name === 'url' ? `${issuer.issuer}/webhook-sink` : undefined),
    async newAttacker() {
      const tenant = await createTestTenant(server.api, uniqueTenantId());
      // The attacker's user has the victim owner's very id: only the tenant tells them apart.
      const [user] = (await tenant.users([alice.id])) as [TenantUser];
      tenantOfToken.set(tenant.key, tenant.id);
      tenantOfToken.set(user.token, tenant.id);
      return { tenantId: tenant.id, key: tenant.key, user };
    },
    async snapshot(only) {
      const paths: [string, string][] = [];
      for (const c of only ? [only] : [group, direct]) {
        paths.push([`/v1/conversations/${c.id}`, alice.token], [`/v1/conversations/${c.id}/members?limit=100`, alice.token], [`/v1/conversations/${c.id}/messages?limit=100`, alice.token]);
      }
      if (!only) {
        paths.push(['/v1/conversations?limit=100', alice.token], ['/v1/conversations?limit=100', bob.token]);
        for (const user of [alice, bob, mallory]) paths.push([`/v1/users/${user.id}`, victimTenant.key]);
      }
      const bodies = await Promise.all(paths.map(([path, token]) => read(path, token)));
      return Object.fromEntries(paths.map(([path, token], index) => [`${path} as ${token === victimTenant.key ? 'the tenant key' : token === alice.token ? 'alice' : 'bob'}`, bodies[index]]));
    },
    async stop() {
      await server.stop();
      await issuer.close();
    },
  };

  async function expectOk(pending: Promise<ApiResponse>, what: string): Promise<ApiResponse> {
    const response = await pending;
    if (response.status < 200 || response.status > 299) throw new Error(`${what}: ${response.status} ${response.text}`);
    return response;
  }
}

/**
 * The credential an operation is meant for, among the victim's owner (alice), the victim tenant's
 * key and the operator key: the first one the operation, called with `body` on the group's real
 * objects, does not refuse with 401/403. When all are refused, the first one that authenticated
 * (a 403 for a reason of the account, such as `password_not_set` for alice, who has no password):
 * its requests still pass every check before the handler (body size, schema). The probe is a real
 * call: its effects stay.
 */
export async function intendedCaller(world: SecurityWorld, operation: Operation, body: unknown): Promise<{ token: string; response: ApiResponse }> {
  const { real } = await pathValues(world, operation, world.group);
  let last: { token: string; response: ApiResponse } | undefined;
  let authenticated: { token: string; response: ApiResponse } | undefined;
  for (const token of [world.alice.token, world.victimTenant.key, ADMIN_KEY]) {
    const response = await world.api.request(operation.method, fillPath(operation, real), { token, ...(body !== undefined ? { json: body } : {}) });
    last = { token, response };
    if (response.status !== 401 && response.status !== 403) return last;
    if (response.status === 403) authenticated ??= last;
  }
  return authenticated ?? last!;
}

/** What a path parameter names, and how visible that kind of object is. */
interface PathFixture {
  /**
   * `conversation`: visible to the conversation's members only, so a non-member of the same
   * tenant must not tell it from a random id; `tenant`: visible to every user of its tenant by
   * design (users), so only other tenants and missing credentials are compared.
   */
  scope: 'conversation' | 'tenant';
  /** The victim's real value. */
  real(world: SecurityWorld, target: VictimConversation): string | Promise<string>;
  /** The control value: a random id, or the real value for parameters that are values rather than ids (an emoji). */
  control(world: SecurityWorld, target: VictimConversation): string;
}

const conversationFixture: PathFixture = { scope: 'conversation', real: (_, target) => target.id, control: randomId };
const userFixture: PathFixture = { scope: 'tenant', real: (world) => world.bob.id, control: randomId };
const tenantFixture: PathFixture = { scope: 'tenant', real: (world) => world.victimTenant.id, control: () => uniqueTenantId() };
const apiKeyFixture: PathFixture = {
  scope: 'tenant',
  async real(world) {
    const keys = await world.api.get(`/v1/tenants/${world.victimTenant.id}/api-keys`, world.victimTenant.key);
    const id = keys.body?.items?.[0]?.id;
    if (keys.status !== 200 || typeof id !== 'string') throw new Error(`security matrix: cannot list the victim's API keys: ${keys.status} ${keys.text}`);
    return id;
  },
  control: randomId,
};

const webhookFixture: PathFixture = { scope: 'tenant', real: (world) => world.webhookId, control: randomId };

/**
 * Path parameters by name. `id` means different objects under different collections, so it is
 * resolved by the path segment before it. A parameter (or an `id` under a collection) missing
 * here fails the suite with a message saying what to add: a new route is never silently skipped.
 */
export const PATH_PARAMETERS: Record<string, PathFixture | Record<string, PathFixture>> = {
  id: { conversations: conversationFixture, 'api-keys': apiKeyFixture, users: userFixture, tenants: tenantFixture, webhooks: webhookFixture },
  deliveryId: { scope: 'tenant', real: (world) => world.deliveryId, control: randomId },
  conversationId: conversationFixture,
  messageId: { scope: 'conversation', real: (_, target) => target.messageId, control: randomId },
  emoji: { scope: 'conversation', real: (_, target) => target.emoji, control: (_, target) => target.emoji },
  userId: userFixture,
  tenantId: tenantFixture,
  providerId: { scope: 'tenant', real: () => VICTIM_PROVIDER_ID, control: randomId },
};

export function fixtureFor(operation: Operation, name: string): PathFixture {
  const entry = PATH_PARAMETERS[name];
  const collection = collectionOf(operation, name);
  const fixture = entry && 'real' in entry ? (entry as PathFixture) : (entry as Record<string, PathFixture> | undefined)?.[collection ?? ''];
  if (!fixture) {
    throw new Error(
      `security matrix: no fixture for path parameter {${name}}${collection ? ` under /${collection}/` : ''} of ${operation.label}; ` +
        'add one to PATH_PARAMETERS in test-support/security-world.ts',
    );
  }
  return fixture;
}

/** True when some path parameter names an object narrower than the tenant (a conversation, a message). */
export function isConversationScoped(operation: Operation): boolean {
  return operation.pathParameters.some((parameter) => fixtureFor(operation, parameter.name).scope === 'conversation');
}

/** The victim's real values and the control's values for every path parameter of the operation. */
export async function pathValues(
  world: SecurityWorld,
  operation: Operation,
  target: VictimConversation,
): Promise<{ real: Record<string, string>; control: Record<string, string> }> {
  const real: Record<string, string> = {};
  const control: Record<string, string> = {};
  for (const { name } of operation.pathParameters) {
    const fixture = fixtureFor(operation, name);
    real[name] = await fixture.real(world, target);
    control[name] = fixture.control(world, target);
  }
  return { real, control };
}

export { ADMIN_KEY };
