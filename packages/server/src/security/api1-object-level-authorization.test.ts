/**
 * OWASP API Security Top 10 (2023) — API1:2023 Broken Object Level Authorization, with the
 * missing-credential half of API2:2023 Broken Authentication, as a matrix generated from the
 * served OpenAPI document (`GET /v1/openapi.json`), on both engines.
 *
 * Every operation that takes a path parameter is called against the victim's real objects and,
 * as the control, with random ids, by (a) a non-member of the same tenant (for objects narrower
 * than the tenant), (b) a user of another tenant (with the owner's very user id), (c) another
 * tenant's API key, (d) no token and
 * the owner's own expired token. Each pair must answer alike — same status, same problem `code` —
 * so nobody can tell an object they may not see from one that does not exist. After every
 * mutating call, the victim's conversations, members, messages and users are unchanged.
 *
 * A route added to the API is enumerated and attacked without editing this file; a path
 * parameter the fixtures table (PATH_PARAMETERS in test-support/security-world.ts) cannot fill
 * fails the suite, naming it. API7 (SSRF) and API10 (unsafe consumption of APIs) are out of
 * scope until Parley makes outbound requests (identity providers, webhooks): see docs/security.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResponse } from '../test-support/api-client.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import { exampleOf, fetchServedDocument, fillPath, operationsOf, type Operation } from '../test-support/openapi-operations.js';
import { createGroup, sendMessage } from '../test-support/conversations.js';
import { connectReady, uniqueText } from '../test-support/realtime-fixtures.js';
import { findExposures } from '../test-support/security-exposure.js';
import {
  createSecurityWorld,
  fixtureFor,
  isConversationScoped,
  pathValues,
  randomId,
  type Attacker,
  type SecurityWorld,
} from '../test-support/security-world.js';
import { startTestServer } from '../test-support/server.js';

/** The operations are read from a served document before the tests are declared, so each gets its own test. */
async function servedOperations(): Promise<Operation[]> {
  const server = await startTestServer();
  try {
    return operationsOf(await fetchServedDocument(server.api));
  } finally {
    await server.stop();
  }
}
const OPERATIONS = await servedOperations();
const WITH_PATH_PARAMETERS = OPERATIONS.filter((operation) => operation.pathParameters.length > 0);

interface Caller {
  name: string;
  /** Only for objects narrower than the tenant: users are visible tenant-wide by design. */
  conversationScopedOnly: boolean;
  token(world: SecurityWorld, attacker: Attacker): string | undefined;
}

const CALLERS: Caller[] = [
  { name: '(a) a non-member of the same tenant', conversationScopedOnly: true, token: (world) => world.mallory.token },
  { name: "(b) a user of another tenant with the owner's id", conversationScopedOnly: false, token: (_, attacker) => attacker.user.token },
  { name: "(c) another tenant's API key", conversationScopedOnly: false, token: (_, attacker) => attacker.key },
  { name: '(d) no token', conversationScopedOnly: false, token: () => undefined },
  { name: "(d) the owner's expired token", conversationScopedOnly: false, token: (world) => world.expiredAliceToken },
];

const outcome = (response: ApiResponse) => ({ status: response.status, code: response.body?.code ?? null });

describe('API1:2023 Broken Object Level Authorization — the generated matrix', () => {
  it('finds the operations to attack in the served document', () => {
    expect(WITH_PATH_PARAMETERS.length).toBeGreaterThanOrEqual(15);
    expect(WITH_PATH_PARAMETERS.map((operation) => operation.label)).toContain('GET /v1/conversations/{id}');
  });

  it('fails loudly, naming it, for a path parameter it does not know how to fill', () => {
    const unknown: Operation = { ...WITH_PATH_PARAMETERS[0]!, path: '/v1/widgets/{widgetId}', label: 'GET /v1/widgets/{widgetId}' };
    expect(() => fixtureFor(unknown, 'widgetId')).toThrow(/no fixture for path parameter \{widgetId\} .*GET \/v1\/widgets\/\{widgetId\}/);
    const unknownId: Operation = { ...unknown, path: '/v1/gadgets/{id}', label: 'GET /v1/gadgets/{id}' };
    expect(() => fixtureFor(unknownId, 'id')).toThrow(/\{id\} under \/gadgets\//);
  });
});

describe.each(ENGINE_KINDS)('API1:2023 Broken Object Level Authorization — every operation with a path id (%s engine)', (kind) => {
  let world: SecurityWorld;

  beforeAll(async () => {
    world = await createSecurityWorld(kind);
  });
  afterAll(() => world?.stop());

  it('serves the same operations on this engine', async () => {
    const served = operationsOf(await fetchServedDocument(world.server.api)).map((operation) => operation.label);
    expect(served).toEqual(OPERATIONS.map((operation) => operation.label));
  });

  it.each(WITH_PATH_PARAMETERS.map((operation) => [operation.label, operation] as const))(
    '%s: a real object answers exactly like a random id, and nothing changes',
    async (_, operation) => {
      const conversationScoped = isConversationScoped(operation);
      const targets = conversationScoped ? [world.group, world.direct] : [world.group];
      // A fresh attacker tenant per operation: what one call legitimately creates in the
      // attacker's own tenant (an upserted user) must not change what the next call answers.
      const attacker = await world.newAttacker();
      const body = operation.bodySchema ? exampleOf(operation.bodySchema) : undefined;
      const before = operation.mutating ? await world.snapshot() : null;
      for (const target of targets) {
        const targetBefore = operation.mutating ? await world.snapshot(target) : null;
        const { real, control } = await pathValues(world, operation, target);
        for (const caller of CALLERS) {
          if (caller.conversationScopedOnly && !conversationScoped) continue;
          const token = caller.token(world, attacker);
          const call = (values: Record<string, string>) =>
            world.api.request(operation.method, fillPath(operation, values), {
              ...(token ? { token } : {}),
              ...(body !== undefined ? { json: body } : {}),
            });
          const controlResponse = await call(control);
          const victimResponse = await call(real);
          const where = `${caller.name}, ${target.kind} conversation: ${operation.method} ${fillPath(operation, real)} → ${victimResponse.status} ${victimResponse.text}; random ids → ${controlResponse.status} ${controlResponse.text}`;
          // A 400 would mean the generated request never reached the object lookup: the comparison would prove nothing.
          expect(controlResponse.status, `${where} (the control must not be refused as invalid)`).not.toBe(400);
          expect(outcome(victimResponse), where).toEqual(outcome(controlResponse));
          if (!token) expect(outcome(victimResponse), where).toEqual({ status: 401, code: 'unauthorized' });
          if (token === world.expiredAliceToken) expect(outcome(victimResponse), where).toEqual({ status: 401, code: 'invalid_token' });
          if (victimResponse.status >= 400) expect(victimResponse.headers.get('content-type'), where).toContain('application/problem+json');
          // After each mutating call the attacked conversation, after the operation everything the victim sees.
          if (targetBefore !== null) expect(await world.snapshot(target), `${where}: the victim's conversation changed`).toEqual(targetBefore);
        }
      }
      if (before !== null) expect(await world.snapshot(), `${operation.label}: the victim's objects changed`).toEqual(before);
    },
  );

  it('over realtime: a typing frame for a conversation the caller cannot see is answered like one for a random id, and no event of it arrives', async () => {
    const attacker = await world.newAttacker();
    const outsiders = [
      { name: '(a) a non-member of the same tenant', user: world.mallory },
      { name: "(b) a user of another tenant with the owner's id", user: attacker.user },
    ];
    const member = await connectReady(world.server.url, world.bob.token, world.bob.id);
    const clients = [];
    for (const outsider of outsiders) {
      const own = await createGroup(world.api, outsider.user.token, [], 'Own');
      const client = await connectReady(world.server.url, outsider.user.token, outsider.user.id);
      clients.push({ ...outsider, own, client });
      for (const conversationId of [randomId(), world.group.id, world.direct.id]) client.send({ type: 'typing', conversationId });
      const errors = await client.waitForCount((frame) => frame.type === 'error', 3);
      const [control, ...victims] = errors.map((frame) => ({ type: frame.type, code: frame.code }));
      for (const victim of victims) expect(victim, outsider.name).toEqual(control);
    }
    const victimTexts: string[] = [];
    for (const target of [world.group, world.direct]) {
      const text = uniqueText('victim');
      victimTexts.push(text);
      await sendMessage(world.api, world.alice.token, target.id, text);
      await member.waitFor((frame) => frame.message?.text === text);
    }
    for (const { name, user, own, client } of clients) {
      // The outsider's own marker arrives after anything sent before it would have.
      const marker = await sendMessage(world.api, user.token, own.id, uniqueText('own'));
      await client.waitFor((frame) => frame.message?.id === marker.id);
      const leaked = client.frames.filter((frame) => [world.group.id, world.direct.id, ...victimTexts].some((secret) => JSON.stringify(frame).includes(secret)));
      expect(leaked, name).toEqual([]);
      await client.close();
    }
    await member.close();
  });

  it('API3:2023 — no response of the matrix exposed a secret, a hash, metadata or another tenant', () => {
    const violations = findExposures(world.responses, {
      tenantOfToken: world.tenantOfToken,
      privateStrings: new Map([[world.metadataMarker, new Set([world.alice.token, world.victimTenant.key])]]),
    });
    expect(world.responses.length).toBeGreaterThan(100);
    expect(violations).toEqual([]);
  });
});
