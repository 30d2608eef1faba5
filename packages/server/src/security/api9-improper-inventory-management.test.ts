/**
 * OWASP API Security Top 10 (2023) — API9:2023 Improper Inventory Management: the inventory is the
 * served OpenAPI document, and it is complete and current. Every route the server actually
 * answers (read from the router) is documented, apart from the documentation itself and the web
 * client's built files (served at /, exactly the files of its build); every
 * documented path is v1 or an operational endpoint (health, info, metrics, well-known), with no
 * forgotten v2, beta or debug route; `/docs` and `/v1/openapi.json` describe the same thing; and
 * what is served keeps the committed contract `openapi/v1.json` (changes only add to it).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadConfig } from '../config.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { findBreakingChanges } from '../openapi/breaking-changes.js';
import { fetchServedDocument, operationsOf, type OpenApiDocument } from '../test-support/openapi-operations.js';
import { useTestServer } from '../test-support/server.js';

const FROZEN_V1 = new URL('../../../../openapi/v1.json', import.meta.url);
/** Unversioned paths that are part of the inventory on purpose. */
const OPERATIONAL = /^\/(health\/(live|ready)|info|metrics|\.well-known\/(jwks\.json|openid-configuration))$/;
/** Served but not operations: the documentation and the document. */
const UNDOCUMENTED_BY_DESIGN = /^\/(docs(\/.*)?|v1\/openapi\.json)$/;
/** The web client's files (its build, served at /): pages and assets, not API operations. */
function webClientRoutes(): Set<string> {
  const folder = loadConfig({}).webAppDir;
  if (folder === null) return new Set();
  const files = readdirSync(folder, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
  return new Set(['GET /', ...files.map((entry) => `GET /${relative(folder, join(entry.parentPath, entry.name))}`)]);
}

/**
 * The router's routes as `METHOD /path/{param}`, parsed from Fastify's `printRoutes` tree (each
 * line holds a segment under its parent, with its methods). HEAD routes Fastify adds for each GET
 * are left out.
 */
function servedRoutes(tree: string): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (.+?) \(([^)]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const path = (stack[depth - 1] ?? '') + match[2]!;
    stack[depth] = path;
    stack.length = depth + 1;
    const templated = path.replace(/:(\w+)/g, '{$1}').replace(/\/\*$/, '/*');
    for (const method of match[3]!.split(',').map((m) => m.trim())) if (method !== 'HEAD') routes.push(`${method} ${templated}`);
  }
  return routes;
}

describe('API9:2023 Improper Inventory Management', () => {
  const ctx = useTestServer();
  let served: OpenApiDocument;

  beforeAll(async () => {
    served = await fetchServedDocument(ctx.api);
  });

  it('documents every route the server answers, apart from the documentation itself', () => {
    const routes = servedRoutes(ctx.server.parley.app.printRoutes({ commonPrefix: false }));
    expect(routes.length).toBeGreaterThan(20);
    const documented = new Set(operationsOf(served).map((operation) => operation.label));
    const webClient = webClientRoutes();
    const undocumented = routes.filter((route) => !documented.has(route) && !webClient.has(route) && !UNDOCUMENTED_BY_DESIGN.test(route.split(' ')[1]!));
    expect(undocumented).toEqual([]);
  });

  it('lists only v1 and the operational endpoints, in /v1/openapi.json and /docs alike', async () => {
    const paths = Object.keys(served.paths);
    expect(paths.filter((path) => !path.startsWith('/v1/') && !OPERATIONAL.test(path))).toEqual([]);
    const docs = await ctx.api.get('/docs/json');
    expect(docs.status).toBe(200);
    expect(Object.keys(docs.body.paths).sort()).toEqual([...paths].sort());
  });

  it('keeps the committed contract openapi/v1.json: the served document only adds to it', () => {
    const frozen = JSON.parse(readFileSync(FROZEN_V1, 'utf8')) as OpenApiDocument;
    expect(findBreakingChanges(frozen as never, served as never)).toEqual([]);
    const frozenOperations = new Set(operationsOf(frozen).map((operation) => operation.label));
    const added = operationsOf(served).filter((operation) => !frozenOperations.has(operation.label));
    // New operations are welcome (additive) but must be v1 ones, documented like the rest.
    expect(added.filter((operation) => !operation.path.startsWith('/v1/'))).toEqual([]);
  });
});
