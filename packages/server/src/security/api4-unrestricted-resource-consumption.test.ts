/**
 * OWASP API Security Top 10 (2023) — API4:2023 Unrestricted Resource Consumption, generated from
 * the served OpenAPI document, on both engines: every bound a client could push (list sizes, ids
 * per request, body size, nesting depth, every string field of every body, every query parameter,
 * path ids) is refused with a 4xx problem before it costs anything, never a 500, and the node
 * keeps serving. Rate limits (also API4, and API6 for business flows) are tested by the
 * rate-limit slice; see docs/security.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResponse } from '../test-support/api-client.js';
import { expectProblem } from '../test-support/conversations.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import { exampleOf, fillPath, stringFieldsOf, withValueAt, type JsonSchema, type Operation } from '../test-support/openapi-operations.js';
import { createSecurityWorld, intendedCaller, pathValues, randomId, type SecurityWorld } from '../test-support/security-world.js';

const MAX_PAGE = 100;
const BODY_LIMIT = 1024 * 1024;
const MAX_TEXT = 4000;

/** A 4xx problem document: a refusal the client can act on, never an internal error. */
function expectClientProblem(response: ApiResponse, where: string): void {
  expect(response.status, `${where}: ${response.status} ${response.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(response.status, `${where}: ${response.status} ${response.text.slice(0, 300)}`).toBeLessThan(500);
  expect(response.headers.get('content-type'), where).toContain('application/problem+json');
}

/** Array properties with a `maxItems`, at a path of property names. */
function boundedArraysOf(schema: JsonSchema, path: string[] = []): { path: string[]; schema: JsonSchema }[] {
  if (schema.type === 'array' && typeof schema.maxItems === 'number') return [{ path, schema }];
  if (schema.type !== 'object' || !schema.properties) return [];
  return Object.entries<JsonSchema>(schema.properties).flatMap(([name, property]) => boundedArraysOf(property, [...path, name]));
}

describe.each(ENGINE_KINDS)('API4:2023 Unrestricted Resource Consumption (%s engine)', (kind) => {
  let world: SecurityWorld;

  beforeAll(async () => {
    world = await createSecurityWorld(kind);
  });
  afterAll(() => world?.stop());

  const callers = new Map<Operation, string>();
  /** The operation called by the credential it is meant for, on the group's real objects. */
  const callAsOwner = async (operation: Operation, options: { json?: unknown; body?: string; query?: string; values?: Record<string, string> } = {}) => {
    if (!callers.has(operation)) {
      const valid = operation.bodySchema ? exampleOf(operation.bodySchema, world.hint) : undefined;
      // Only operations with a body are probed (a real call); the others are called as the owner,
      // except tenant administration (/v1/tenants/{tenantId}/…) and webhooks, which are the tenant key's.
      const tenantKeys = operation.path.startsWith('/v1/tenants/{tenantId}/') || operation.path.startsWith('/v1/webhooks');
      const withoutBody = tenantKeys ? world.victimTenant.key : world.alice.token;
      callers.set(operation, valid !== undefined ? (await intendedCaller(world, operation, valid)).token : withoutBody);
    }
    const { real } = await pathValues(world, operation, world.group);
    const path = fillPath(operation, { ...real, ...options.values }) + (options.query ?? '');
    return world.server.api.request(operation.method, path, {
      token: callers.get(operation)!,
      ...(options.json !== undefined ? { json: options.json } : {}),
      ...(options.body !== undefined ? { body: options.body, contentType: 'application/json' } : {}),
    });
  };
  const withBodies = () => world.operations.filter((operation) => operation.bodySchema);

  it('refuses a page size over 100 (and under 1) on every list', async () => {
    const lists = world.operations.filter((operation) => operation.queryParameters.some((parameter) => parameter.name === 'limit'));
    expect(lists.length).toBeGreaterThanOrEqual(3);
    for (const operation of lists) {
      expect((await callAsOwner(operation, { query: `?limit=${MAX_PAGE}` })).status, operation.label).toBe(200);
      for (const limit of [MAX_PAGE + 1, 100_000, 0, -1]) expectProblem(await callAsOwner(operation, { query: `?limit=${limit}` }), 400, 'validation_failed', `${operation.label} limit=${limit}`);
    }
  });

  it('refuses a 10,000-character value in every query parameter with a 4xx problem', async () => {
    let tested = 0;
    for (const operation of world.operations.filter((candidate) => candidate.queryParameters.length > 0 && candidate.path !== '/v1/events')) {
      for (const parameter of operation.queryParameters) {
        expectClientProblem(await callAsOwner(operation, { query: `?${parameter.name}=${'a'.repeat(10_000)}` }), `${operation.label} ?${parameter.name}=<10,000 characters>`);
        tested++;
      }
    }
    expect(tested).toBeGreaterThanOrEqual(6);
  });

  it('refuses more ids per request than an array allows (members per request: 1,000)', async () => {
    let tested = 0;
    for (const operation of withBodies()) {
      for (const array of boundedArraysOf(operation.bodySchema!)) {
        const body = withValueAt(exampleOf(operation.bodySchema!), array.path, Array.from({ length: array.schema.maxItems + 1 }, () => randomId()));
        expectProblem(await callAsOwner(operation, { json: body }), 400, 'validation_failed', `${operation.label} ${array.path.join('.')} × ${array.schema.maxItems + 1}`);
        tested++;
      }
    }
    expect(tested).toBeGreaterThanOrEqual(2);
    const members = await world.server.api.post('/v1/conversations', { type: 'group', title: 'Too big', members: Array.from({ length: 1001 }, () => randomId()) }, world.alice.token);
    expectProblem(members, 400, 'validation_failed', '1,001 members in one request');
  });

  it('refuses a body over 1 MiB with 413 on every operation that takes one', async () => {
    const oversized = JSON.stringify({ padding: 'a'.repeat(BODY_LIMIT) });
    for (const operation of withBodies()) expectProblem(await callAsOwner(operation, { body: oversized }), 413, 'payload_too_large', operation.label);
  });

  it('refuses a message text over 4,000 characters with 400, nothing stored', async () => {
    const text = 'a'.repeat(MAX_TEXT + 1);
    expectProblem(await world.server.api.post(`/v1/conversations/${world.group.id}/messages`, { text }, world.alice.token), 400, 'validation_failed', 'send');
    expectProblem(await world.server.api.patch(`/v1/conversations/${world.group.id}/messages/${world.group.messageId}`, { text }, world.alice.token), 400, 'validation_failed', 'edit');
    const history = await world.server.api.get(`/v1/conversations/${world.group.id}/messages?limit=100`, world.alice.token);
    expect(history.body.items.some((message: any) => message.text === text)).toBe(false);
  });

  it('answers a 10,000-deep JSON body quickly with a 4xx on every operation that takes a body, and keeps serving', async () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const deepObject = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    for (const operation of withBodies()) {
      for (const body of [deep, deepObject]) {
        const started = performance.now();
        expectClientProblem(await callAsOwner(operation, { body }), `${operation.label} 10,000-deep`);
        // Parsed in milliseconds normally; the bound leaves room for a loaded machine, not for a hang.
        expect(performance.now() - started, `${operation.label} took too long`).toBeLessThan(5000);
      }
    }
    expect((await world.server.api.get('/health/live')).status).toBe(200);
  });

  it('bounds every string field of every body: one character over its maxLength (10,000 where a pattern or format bounds it) is a 400', async () => {
    let tested = 0;
    for (const operation of withBodies()) {
      const valid = exampleOf(operation.bodySchema!);
      for (const field of stringFieldsOf(operation.bodySchema!)) {
        const where = `${operation.label} ${field.path.join('.')}`;
        // A string without a maximum (a length, a bounded pattern or a format such as date-time)
        // would be bounded only by the 1 MiB body limit.
        const bounded = ['maxLength', 'pattern', 'format'].some((keyword) => field.schema[keyword] !== undefined);
        expect(bounded, `${where} has no maxLength`).toBe(true);
        const tooLong = 'a'.repeat((field.schema.maxLength ?? 10_000) + 1);
        expectProblem(await callAsOwner(operation, { json: withValueAt(valid, field.path, tooLong) }), 400, 'validation_failed', where);
        tested++;
      }
    }
    expect(tested).toBeGreaterThanOrEqual(15);
  });

  it('refuses a path id over 128 characters with a 400 or 404 problem on every operation with one', async () => {
    let tested = 0;
    for (const operation of world.operations.filter((candidate) => candidate.pathParameters.length > 0)) {
      const body = operation.bodySchema ? exampleOf(operation.bodySchema) : undefined;
      for (const parameter of operation.pathParameters) {
        const response = await callAsOwner(operation, { values: { [parameter.name]: 'a'.repeat(129) }, ...(body !== undefined ? { json: body } : {}) });
        const where = `${operation.label} {${parameter.name}} of 129 characters`;
        expectClientProblem(response, where);
        expect([400, 404], where).toContain(response.status);
        tested++;
      }
    }
    expect(tested).toBeGreaterThanOrEqual(20);
  });

  // Regression (issue 6, Low): an id longer than the router's 512-character parameter limit got
  // Fastify's own 414 JSON with the URL reflected; `frameworkErrors` answers a problem now.
  it("refuses a path id over the router's limit (600 characters) with a problem document", async () => {
    const response = await world.server.api.get(`/v1/conversations/${'a'.repeat(600)}`, world.alice.token);
    expectClientProblem(response, '600-character id');
    expect(response.text).not.toContain('a'.repeat(600));
  });
});
