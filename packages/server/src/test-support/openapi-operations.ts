/**
 * The operations of a served OpenAPI 3.1 document, and request values generated from their JSON
 * schemas, for tests that must cover every route without naming them (the security suite): a
 * route added tomorrow is enumerated, filled and called by the same code.
 *
 * The generator is deliberately small: it knows the JSON Schema keywords TypeBox emits (type,
 * enum, const, anyOf/oneOf, required, properties, items, minItems, minimum, minLength/maxLength,
 * pattern, format) and throws, naming the schema, on anything it cannot satisfy, so an
 * unsupported schema fails a test instead of silently producing an invalid request.
 */
import type { ApiClient } from './api-client.js';

export type JsonSchema = Record<string, any>;

export interface OpenApiDocument {
  paths: Record<string, Record<string, any>>;
  security?: unknown[];
  components?: { schemas?: Record<string, JsonSchema> };
  [key: string]: unknown;
}

export interface OperationParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: JsonSchema;
}

export interface Operation {
  method: string;
  /** The templated path, e.g. `/v1/conversations/{id}/messages/{messageId}`. */
  path: string;
  /** `METHOD /path`, for test names and failure messages. */
  label: string;
  pathParameters: OperationParameter[];
  queryParameters: OperationParameter[];
  /** The JSON request body's schema ($refs resolved), or null when the operation takes none. */
  bodySchema: JsonSchema | null;
  /** Declared response schemas by status code ($refs resolved). */
  responseSchemas: Record<string, JsonSchema>;
  /** True for methods that may change state. */
  mutating: boolean;
  /** True when the operation (or the document, by default) declares a security requirement. */
  secured: boolean;
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options'];

/** Fetches `GET /v1/openapi.json` from a running server. */
export async function fetchServedDocument(api: ApiClient): Promise<OpenApiDocument> {
  const response = await api.get('/v1/openapi.json');
  if (response.status !== 200) throw new Error(`GET /v1/openapi.json: ${response.status} ${response.text}`);
  return response.body as OpenApiDocument;
}

/** Every operation of the document, in document order. */
export function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const parameters: OperationParameter[] = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((parameter: any) => {
        const resolved = resolve(document, parameter);
        return { name: resolved.name, in: resolved.in, required: resolved.required === true, schema: resolve(document, resolved.schema ?? {}) };
      });
      const jsonBody = operation.requestBody ? resolve(document, operation.requestBody).content?.['application/json']?.schema : undefined;
      const responseSchemas: Record<string, JsonSchema> = {};
      for (const [status, response] of Object.entries<any>(operation.responses ?? {})) {
        const resolved = resolve(document, response);
        for (const content of Object.values<any>(resolved.content ?? {})) {
          if (content.schema) responseSchemas[status] = deepResolve(document, content.schema);
        }
      }
      operations.push({
        method: method.toUpperCase(),
        path,
        label: `${method.toUpperCase()} ${path}`,
        pathParameters: parameters.filter((parameter) => parameter.in === 'path'),
        queryParameters: parameters.filter((parameter) => parameter.in === 'query'),
        bodySchema: jsonBody ? deepResolve(document, jsonBody) : null,
        responseSchemas,
        mutating: !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase()),
        secured: ((operation.security ?? document.security ?? []) as unknown[]).length > 0,
      });
    }
  }
  return operations;
}

/** The path with each `{name}` replaced by its URL-encoded value; throws on a missing value. */
export function fillPath(operation: Operation, values: Record<string, string>): string {
  return operation.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`${operation.label}: no value for path parameter {${name}}`);
    return encodeURIComponent(value);
  });
}

/** The literal segment before `{name}` in the path (`conversations` for `/conversations/{id}`). */
export function collectionOf(operation: Operation, parameterName: string): string | null {
  const segments = operation.path.split('/');
  const index = segments.indexOf(`{${parameterName}}`);
  const previous = index > 0 ? segments[index - 1] : undefined;
  return previous !== undefined && !previous.startsWith('{') ? previous : null;
}

function resolve(document: OpenApiDocument, node: any): any {
  let current = node;
  for (let hops = 0; current && typeof current.$ref === 'string'; hops++) {
    if (hops > 20) throw new Error(`$ref cycle at ${node.$ref}`);
    const match = /^#\/(.+)$/.exec(current.$ref);
    if (!match) throw new Error(`unsupported $ref ${current.$ref}`);
    current = match[1]!.split('/').reduce<any>((at, key) => at?.[key.replaceAll('~1', '/').replaceAll('~0', '~')], document);
    if (current === undefined) throw new Error(`unresolvable $ref ${node.$ref}`);
  }
  return current;
}

function deepResolve(document: OpenApiDocument, node: any, depth = 0): any {
  if (depth > 64) throw new Error('schema nested too deeply (a recursive $ref?)');
  const resolved = resolve(document, node);
  if (Array.isArray(resolved)) return resolved.map((item) => deepResolve(document, item, depth + 1));
  if (resolved === null || typeof resolved !== 'object') return resolved;
  return Object.fromEntries(Object.entries(resolved).map(([key, value]) => [key, deepResolve(document, value, depth + 1)]));
}

/** Supplies a value for a property by its name (e.g. real user ids for `members`), or undefined. */
export type ValueHint = (propertyName: string, schema: JsonSchema) => unknown;

/** A minimal valid value of the schema: required properties only, each with a valid value. */
export function exampleOf(schema: JsonSchema, hint: ValueHint = () => undefined, where = 'body'): unknown {
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const variants = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(variants)) {
    const chosen = variants.find((variant: JsonSchema) => variant.type !== 'null') ?? variants[0];
    return exampleOf(chosen, hint, where);
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const value: Record<string, unknown> = {};
      for (const name of schema.required ?? []) {
        const property = schema.properties?.[name];
        if (!property) throw new Error(`${where}: required property ${name} has no schema`);
        value[name] = hint(name, property) ?? exampleOf(property, hint, `${where}.${name}`);
      }
      return value;
    }
    case 'array': {
      const count = schema.minItems ?? 0;
      return Array.from({ length: count }, (_, i) => exampleOf(schema.items ?? {}, hint, `${where}[${i}]`));
    }
    case 'integer':
    case 'number': {
      const minimum = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 0);
      return Math.max(minimum, Math.min(1, schema.maximum ?? 1));
    }
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'string':
      return stringExample(schema, where);
    case undefined:
      return {};
    default:
      throw new Error(`${where}: cannot generate a value of type ${String(type)}`);
  }
}

const FORMAT_EXAMPLES: Record<string, string> = {
  // Far in the future: a time field such as a mute's `until` must not be refused as already past.
  'date-time': '2099-01-01T00:00:00.000Z',
  date: '2099-01-01',
  uri: 'https://example.com/',
  url: 'https://example.com/',
  email: 'someone@example.com',
  uuid: '00000000-0000-4000-8000-000000000000',
};

/** Candidates tried in order against pattern and lengths. */
const STRING_CANDIDATES = ['abc', 'abc-123', 'a1', 'abc_1', 'x', 'A1', '123', 'a.b', 'ab:1'];

function stringExample(schema: JsonSchema, where: string): string {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? Number.POSITIVE_INFINITY;
  const pattern = typeof schema.pattern === 'string' ? new RegExp(schema.pattern, 'u') : null;
  const formatted = typeof schema.format === 'string' ? FORMAT_EXAMPLES[schema.format] : undefined;
  const candidates = [
    ...(formatted ? [formatted] : []),
    ...STRING_CANDIDATES,
    ...(min > 3 ? ['a'.repeat(min), 'a1'.repeat(Math.ceil(min / 2))] : []),
  ];
  const found = candidates.find((candidate) => {
    const length = [...candidate].length;
    return length >= min && length <= max && (!pattern || pattern.test(candidate));
  });
  if (found === undefined) throw new Error(`${where}: cannot generate a string for ${JSON.stringify(schema)}`);
  return found;
}

/** A string property of a body schema, at a path of property names. */
export interface StringField {
  path: string[];
  schema: JsonSchema;
}

/** Every string property reachable through object properties (optional ones too), not through arrays. */
export function stringFieldsOf(schema: JsonSchema, path: string[] = []): StringField[] {
  const variants = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(variants)) {
    const strings = variants.filter((variant: JsonSchema) => variant.type === 'string');
    // A choice between string enums (`type: "direct" | "group"`) is one closed field, not free text.
    if (strings.length > 0 && strings.every((variant: JsonSchema) => 'const' in variant || Array.isArray(variant.enum))) return [];
    const objects = variants.filter((variant: JsonSchema) => variant.type === 'object');
    return [...(strings[0] ? [{ path, schema: strings[0] }] : []), ...objects.flatMap((variant: JsonSchema) => stringFieldsOf(variant, path))];
  }
  if (schema.type === 'string' && !('const' in schema) && !Array.isArray(schema.enum)) return [{ path, schema }];
  if (schema.type !== 'object' || !schema.properties) return [];
  return Object.entries<JsonSchema>(schema.properties).flatMap(([name, property]) => stringFieldsOf(property, [...path, name]));
}

/** A copy of `body` with the value at `path` set (creating intermediate objects). */
export function withValueAt(body: unknown, path: string[], value: unknown): unknown {
  const copy = structuredClone(body) as Record<string, any>;
  let at = copy;
  for (const key of path.slice(0, -1)) {
    at[key] = at[key] !== null && typeof at[key] === 'object' ? at[key] : {};
    at = at[key];
  }
  at[path[path.length - 1]!] = value;
  return copy;
}
