import { describe, expect, it } from 'vitest';
import { findBreakingChanges } from './breaking-changes.js';

/** A small document in the shape @fastify/swagger produces, to mutate in each test. */
const baseline = () => ({
  paths: {
    '/v1/things/{id}': {
      get: {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['id', 'kind', 'owner'],
                  properties: {
                    id: { type: 'string' },
                    kind: { anyOf: [{ const: 'a', type: 'string' }, { const: 'b', type: 'string' }] },
                    count: { type: 'integer' },
                    owner: { anyOf: [{ type: 'object', properties: { name: { type: 'string' } } }, { type: 'null' }] },
                    tags: { type: 'array', items: { type: 'object', properties: { label: { type: 'string' } } } },
                  },
                },
              },
            },
          },
          '404': { content: { 'application/json': { schema: { type: 'object' } } } },
        },
      },
      post: {
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['text'],
                properties: {
                  text: { type: 'string', maxLength: 100 },
                  mode: { anyOf: [{ const: 'x', type: 'string' }, { const: 'y', type: 'string' }] },
                  size: { type: 'number' },
                },
              },
            },
          },
        },
        parameters: [{ name: 'limit', in: 'query', required: false, schema: { type: 'integer', maximum: 100 } }],
        responses: { '201': { content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
  },
});

type Doc = ReturnType<typeof baseline>;
const mutated = (change: (doc: any) => void): Doc => {
  const doc = baseline();
  change(doc);
  return doc;
};
const get = (doc: any) => doc.paths['/v1/things/{id}'].get;
const post = (doc: any) => doc.paths['/v1/things/{id}'].post;
const responseSchema = (doc: any) => get(doc).responses['200'].content['application/json'].schema;
const bodySchema = (doc: any) => post(doc).requestBody.content['application/json'].schema;

describe('findBreakingChanges', () => {
  it('finds nothing between identical documents', () => {
    expect(findBreakingChanges(baseline(), baseline())).toEqual([]);
  });

  it('accepts additions: a new path, a new optional input, a new response field and status', () => {
    const current = mutated((doc) => {
      doc.paths['/v1/other'] = { get: { responses: {} } };
      bodySchema(doc).properties.note = { type: 'string' };
      responseSchema(doc).properties.extra = { type: 'boolean' };
      get(doc).responses['410'] = { content: {} };
      bodySchema(doc).properties.mode.anyOf.push({ const: 'z', type: 'string' });
      post(doc).parameters.push({ name: 'sort', in: 'query', required: false, schema: { type: 'string' } });
    });
    expect(findBreakingChanges(baseline(), current)).toEqual([]);
  });

  it.each([
    ['a removed path', (doc: any) => delete doc.paths['/v1/things/{id}'], 'GET /v1/things/{id}: operation removed'],
    ['a removed method', (doc: any) => delete doc.paths['/v1/things/{id}'].post, 'POST /v1/things/{id}: operation removed'],
    ['a removed response status', (doc: any) => delete get(doc).responses['404'], 'GET /v1/things/{id} 404: response removed'],
    ['a removed response field', (doc: any) => delete responseSchema(doc).properties.count, '.count: response field removed'],
    [
      'a renamed response field',
      (doc: any) => {
        responseSchema(doc).properties.total = responseSchema(doc).properties.count;
        delete responseSchema(doc).properties.count;
      },
      '.count: response field removed',
    ],
    ['a removed nested field', (doc: any) => delete responseSchema(doc).properties.owner.anyOf[0].properties.name, '.owner.name: response field removed'],
    ['a removed field in array items', (doc: any) => delete responseSchema(doc).properties.tags.items.properties.label, '.tags[].label: response field removed'],
    ['a removed response enum value', (doc: any) => responseSchema(doc).properties.kind.anyOf.pop(), 'enum value "b" removed'],
    ['a changed response type', (doc: any) => (responseSchema(doc).properties.id = { type: 'integer' }), '.id: type changed'],
    ['a narrowed request type', (doc: any) => (bodySchema(doc).properties.size = { type: 'integer' }), 'body.size: type narrowed'],
    ['a removed request enum value', (doc: any) => bodySchema(doc).properties.mode.anyOf.pop(), 'enum value "y" no longer accepted'],
    ['a new required body field', (doc: any) => bodySchema(doc).required.push('mode'), 'body.mode: new required input'],
    [
      'a new required parameter',
      (doc: any) => post(doc).parameters.push({ name: 'x', in: 'query', required: true, schema: { type: 'string' } }),
      'query:x: new required parameter',
    ],
    ['a tightened bound', (doc: any) => (bodySchema(doc).properties.text.maxLength = 50), 'maxLength tightened from 100 to 50'],
    ['a tightened parameter bound', (doc: any) => (post(doc).parameters[0].schema.maximum = 10), 'maximum tightened from 100 to 10'],
    ['a new pattern', (doc: any) => (bodySchema(doc).properties.text.pattern = '^a'), 'pattern changed'],
  ])('reports %s', (_name, change, expected) => {
    const problems = findBreakingChanges(baseline(), mutated(change));
    expect(problems.some((problem) => problem.includes(expected))).toBe(true);
  });
});
