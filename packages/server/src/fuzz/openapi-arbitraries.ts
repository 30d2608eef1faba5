/**
 * fast-check arbitraries derived from the served OpenAPI document: for one operation, requests
 * that are valid, at or one past every documented bound, or invalid in the ways hostile clients
 * are (wrong types, missing or extra fields, huge strings, deep nesting, odd Unicode, numbers past
 * limits, malformed JSON text, wrong content types, odd query values and path ids).
 *
 * Every generated request says whether it violates the document (`invalid`), decided by ajv
 * against the documented request schema rather than by how it was built: a mutation that happens
 * to stay valid (a NUL inside free text) is a valid request, and the fuzz test relies on the
 * label to know which requests must be refused and which may be sent by a caller whose
 * successful write would change the world.
 */
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { findMalformedString } from '../domain/rules.js';
import { exampleOf, type JsonSchema, type Operation, type ValueHint } from '../test-support/openapi-operations.js';

/** The body of a generated request. */
export type FuzzBody =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown }
  /** Text sent as is with the content type (malformed JSON, a wrong media type, a huge document). */
  | { kind: 'raw'; text: string; contentType: string };

export interface FuzzRequest {
  /** Path parameters replaced by odd values, already percent-encoded (the others keep their real value). */
  pathOverrides: Record<string, string>;
  /** The query string, `''` or starting with `?`, already encoded. */
  query: string;
  body: FuzzBody;
  /** More request headers (odd `accept`, a long request id, a `null` origin…); never the credential. */
  headers: Record<string, string>;
  /** True when the request violates the document (body schema, query schema, path pattern, media type). */
  invalid: boolean;
  /** What was generated, for failure messages. */
  description: string;
}

/** Unicode a parser, a normaliser or a log line may get wrong; a lone surrogate has no UTF-8 form. */
export const ODD_STRINGS: readonly string[] = [
  '\ud800',
  'a\udfffb',
  '\u0000',
  'nul\u0000inside',
  '\u202eevil\u202c',
  '\u200f\u200e',
  '\ufeff',
  '\uffff',
  'e\u0301\u0301\u0301',
  '👩‍👩‍👧‍👦',
  '\u00a0',
  ' ',
  '',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "'; DROP TABLE x; --",
  '%00',
  '{"$gt":""}',
];

/** Strings a lenient number parser might accept. */
export const NAN_ISH: readonly string[] = ['NaN', 'Infinity', '-Infinity', '1e999', '-0', '0x10', '1_000', ' 1', '1.', '', 'null', 'true'];

/** Texts that are not the JSON document they claim to be. */
const MALFORMED_JSON: readonly string[] = ['{', '{"a":', '[1,]', "{'a':1}", 'nul', '\u0000', '{"a":1}}', '"\\ud800', '{"a":NaN}', '\ufeff{}', ''];

/** Media types a JSON route must refuse (or, for charset parameters, read correctly). */
const WRONG_MEDIA_TYPES: readonly string[] = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/xml', 'application/json-patch+json'];

/** Bytes of a string past any body limit of the API (1 MiB). */
const HUGE = 1024 * 1024 + 16;

const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: true });
addFormats.default(ajv);
const compiled = new WeakMap<JsonSchema, ReturnType<Ajv['compile']>>();

/** True when `value` satisfies the schema and holds no lone surrogate (which the API refuses everywhere). */
export function satisfies(schema: JsonSchema, value: unknown): boolean {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate(value) && findMalformedString(value, 'value') === null;
}

/** Valid values of a schema: optional properties sometimes, strings within length and pattern, numbers within bounds. */
export function validValue(schema: JsonSchema, hint: ValueHint, name = ''): fc.Arbitrary<unknown> {
  const hinted = name ? hint(name, schema) : undefined;
  if (hinted !== undefined) return fc.constant(hinted);
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const variants = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(variants)) return fc.oneof(...variants.map((variant: JsonSchema) => validValue(variant, hint, name)));
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type;
  const example = exampleOf(schema, hint, name || 'value');
  switch (type) {
    case 'object': {
      const properties = Object.entries<JsonSchema>(schema.properties ?? {});
      const required = new Set<string>(schema.required ?? []);
      if (properties.length === 0) return fc.constant(example);
      const record = fc.record(Object.fromEntries(properties.map(([key, property]) => [key, validValue(property, hint, key)])), {
        requiredKeys: [...required].filter((key) => schema.properties?.[key]),
      });
      return record.map((value) => (satisfies(schema, value) ? value : example));
    }
    case 'array': {
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.min(schema.maxItems ?? 3, minLength + 3);
      return fc.array(validValue(schema.items ?? {}, hint), { minLength, maxLength }).map((value) => (satisfies(schema, value) ? value : example));
    }
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : -1000);
      const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : min + 100_000);
      return fc.integer({ min: Math.ceil(min), max: Math.floor(max) });
    }
    case 'boolean':
      return fc.boolean();
    case 'string': {
      const free = schema.pattern === undefined && schema.format === undefined;
      const text = free
        ? fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, (schema.minLength ?? 0) + 40), unit: 'grapheme' })
        : schema.pattern !== undefined
          ? fc.stringMatching(new RegExp(schema.pattern, 'u'))
          : fc.constant(example);
      return fc.oneof(fc.constant(example), text).map((value) => (satisfies(schema, value) ? value : example));
    }
    default:
      return fc.constant(example);
  }
}

/** A place in a body: a path of property names and the schema found there. */
interface Field {
  path: string[];
  schema: JsonSchema;
}

/** Every property reachable through objects (optional ones too), first variant of a choice. */
function fieldsOf(schema: JsonSchema, path: string[] = []): Field[] {
  const variants = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(variants)) {
    const object = variants.find((variant: JsonSchema) => variant.type === 'object');
    return object ? fieldsOf(object, path) : path.length > 0 ? [{ path, schema }] : [];
  }
  const here = path.length > 0 ? [{ path, schema }] : [];
  if (schema.type !== 'object' || !schema.properties) return here;
  return [...here, ...Object.entries<JsonSchema>(schema.properties).flatMap(([name, property]) => fieldsOf(property, [...path, name]))];
}

function setAt(body: unknown, path: string[], value: unknown): unknown {
  const copy = (body !== null && typeof body === 'object' ? structuredClone(body) : {}) as Record<string, any>;
  let at = copy;
  for (const key of path.slice(0, -1)) {
    at[key] = at[key] !== null && typeof at[key] === 'object' && !Array.isArray(at[key]) ? at[key] : {};
    at = at[key];
  }
  at[path[path.length - 1]!] = value;
  return copy;
}

function deleteAt(body: unknown, path: string[]): unknown {
  const copy = structuredClone(body) as Record<string, any>;
  let at: any = copy;
  for (const key of path.slice(0, -1)) at = at?.[key];
  if (at && typeof at === 'object') delete at[path[path.length - 1]!];
  return copy;
}

const typeOf = (schema: JsonSchema): string | undefined => (Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type);

/** Values at and one past every documented bound of a field (length, range, item count). */
export function boundaryValues(schema: JsonSchema, hint: ValueHint): unknown[] {
  const values: unknown[] = [];
  const type = typeOf(schema);
  if (type === 'string' && schema.pattern === undefined && schema.format === undefined) {
    for (const length of [schema.minLength, schema.maxLength]) {
      if (typeof length !== 'number') continue;
      for (const at of [length - 1, length, length + 1]) if (at >= 0) values.push('a'.repeat(at), '😀'.repeat(at));
    }
  }
  if (type === 'string' && schema.pattern !== undefined && typeof schema.maxLength === 'number') {
    const base = String(exampleOf(schema, hint));
    values.push(base.padEnd(schema.maxLength, base.slice(-1)), base.padEnd(schema.maxLength + 1, base.slice(-1)));
  }
  if (type === 'integer' || type === 'number') {
    for (const bound of [schema.minimum, schema.maximum]) if (typeof bound === 'number') values.push(bound - 1, bound, bound + 1);
    if (typeof schema.exclusiveMinimum === 'number') values.push(schema.exclusiveMinimum, schema.exclusiveMinimum + 1);
    if (typeof schema.exclusiveMaximum === 'number') values.push(schema.exclusiveMaximum, schema.exclusiveMaximum - 1);
    values.push(0.5, -1, 2 ** 53 + 1, 1e308, -1e308);
  }
  if (type === 'array') {
    const item = exampleOf(schema.items ?? {}, hint);
    for (const count of [schema.minItems, schema.maxItems]) {
      if (typeof count !== 'number') continue;
      for (const at of [count - 1, count, count + 1]) if (at >= 0) values.push(Array.from({ length: at }, () => structuredClone(item)));
    }
  }
  return values;
}

/** A value of another JSON type than the schema's (or an odd value of the same type). */
function wrongTypeValues(schema: JsonSchema): unknown[] {
  const type = typeOf(schema);
  const all: Record<string, unknown[]> = {
    string: ['1', 'true', ...NAN_ISH.slice(0, 4)],
    number: [1, -1, 1.5, 0],
    boolean: [true, false],
    null: [null],
    array: [[], [1], [[[]]]],
    object: [{}, { a: 1 }, { __proto__: { polluted: true } }, { constructor: { prototype: { polluted: true } } }],
  };
  return Object.entries(all).flatMap(([kind, values]) => (kind === type || (kind === 'number' && type === 'integer') ? [] : values));
}

/** A JSON text nested `depth` levels deep, as arrays or objects. */
function deeplyNested(depth: number, asObjects: boolean): string {
  return asObjects ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth);
}

/** Body arbitraries of one operation, labelled by what they try. */
function bodyArbitraries(operation: Operation, hint: ValueHint): fc.Arbitrary<{ body: FuzzBody; description: string }>[] {
  const schema = operation.bodySchema;
  const json = (value: unknown, description: string) => ({ body: { kind: 'json', value } as FuzzBody, description });
  const raw = (text: string, contentType: string, description: string) => ({ body: { kind: 'raw', text, contentType } as FuzzBody, description });
  const oddText = fc.oneof(
    fc.constantFrom(...MALFORMED_JSON).map((text) => raw(text, 'application/json', `malformed JSON ${JSON.stringify(text)}`)),
    fc.constantFrom(...WRONG_MEDIA_TYPES).map((type) => raw('{}', type, `content-type ${type}`)),
    fc.constantFrom(100, 5_000, 100_000).chain((depth) => fc.boolean().map((objects) => raw(deeplyNested(depth, objects), 'application/json', `JSON nested ${depth} deep`))),
    fc.constant(raw(`"${'a'.repeat(HUGE)}"`, 'application/json', 'a 1 MiB JSON string')),
    fc.constant(raw('{}', 'application/json; charset=utf-16', 'JSON declared as UTF-16')),
  );
  // HTTP clients (fetch among them) refuse to send a body with GET or HEAD.
  if (operation.method === 'GET' || operation.method === 'HEAD') return [fc.constant({ body: { kind: 'none' } as FuzzBody, description: 'no body' })];
  if (!schema) {
    return [fc.constant({ body: { kind: 'none' } as FuzzBody, description: 'no body' }), oddText, fc.constant(json({ unexpected: true }, 'a body where none is documented'))];
  }
  const base = validValue(schema, hint);
  const fields = fieldsOf(schema);
  const fieldArb = fields.length > 0 ? fc.constantFrom(...fields) : null;
  const required: Field[] = fields.filter(({ path }) => {
    let at: JsonSchema | undefined = schema;
    for (const key of path.slice(0, -1)) at = at?.properties?.[key];
    return (at?.required ?? []).includes(path[path.length - 1]);
  });
  const arbitraries: fc.Arbitrary<{ body: FuzzBody; description: string }>[] = [
    base.map((value) => json(value, 'valid body')),
    oddText,
    fc.constantFrom<unknown>(null, [], 'text', 42, true, [{}]).map((value) => json(value, `body ${JSON.stringify(value)}`)),
    fc.tuple(base, fc.constantFrom('extra', '__proto__', 'constructor', '')).map(([value, key]) =>
      json(typeof value === 'object' && value !== null ? { ...value, [key]: 1 } : value, `extra property ${JSON.stringify(key)}`),
    ),
  ];
  if (required.length > 0) {
    arbitraries.push(fc.tuple(base, fc.constantFrom(...required)).map(([value, field]) => json(deleteAt(value, field.path), `without required ${field.path.join('.')}`)));
  }
  if (fieldArb) {
    arbitraries.push(
      fc.tuple(base, fieldArb).chain(([value, field]) =>
        fc.constantFrom(...wrongTypeValues(field.schema)).map((wrong) => json(setAt(value, field.path, wrong), `${field.path.join('.')} = ${JSON.stringify(wrong)}`)),
      ),
      fc.tuple(base, fieldArb, fc.constantFrom(...ODD_STRINGS)).map(([value, field, odd]) => json(setAt(value, field.path, odd), `${field.path.join('.')} = ${JSON.stringify(odd)}`)),
      fc.tuple(base, fieldArb, fc.constantFrom(...NAN_ISH)).map(([value, field, odd]) => json(setAt(value, field.path, odd), `${field.path.join('.')} = ${JSON.stringify(odd)}`)),
      fc.tuple(base, fieldArb, fc.constantFrom(10_000, HUGE)).map(([value, field, length]) => json(setAt(value, field.path, 'x'.repeat(length)), `${field.path.join('.')} = <${length} characters>`)),
      fc.tuple(base, fieldArb, fc.constantFrom(64, 2_000)).map(([value, field, depth]) =>
        json(setAt(value, field.path, JSON.parse(deeplyNested(depth, true))), `${field.path.join('.')} = object nested ${depth} deep`),
      ),
    );
    const bounded = fields.map((field) => ({ field, values: boundaryValues(field.schema, hint) })).filter(({ values }) => values.length > 0);
    if (bounded.length > 0) {
      arbitraries.push(
        fc.tuple(base, fc.constantFrom(...bounded)).chain(([value, { field, values }]) =>
          fc.constantFrom(...values).map((bound) => json(setAt(value, field.path, bound), `${field.path.join('.')} at a bound: ${describeValue(bound)}`)),
        ),
      );
    }
  }
  return arbitraries;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `<${[...value].length} code points of ${JSON.stringify(value.slice(0, 2))}>` : JSON.stringify(value);
  if (Array.isArray(value)) return `<${value.length} items>`;
  return JSON.stringify(value);
}

/** Query strings: documented parameters with valid, boundary and odd values, and unknown ones. */
function queryArbitrary(operation: Operation, hint: ValueHint): fc.Arbitrary<{ query: string; invalid: boolean; description: string }> {
  const none = fc.constant({ query: '', invalid: false, description: 'no query' });
  const parameters = operation.queryParameters;
  const options: fc.Arbitrary<{ query: string; invalid: boolean; description: string }>[] = [
    none,
    fc.constant({ query: '?unknown=1', invalid: false, description: 'an undocumented query parameter' }),
  ];
  for (const parameter of parameters) {
    const values = [
      ...boundaryValues(parameter.schema, hint).filter((value) => typeof value !== 'object'),
      ...ODD_STRINGS,
      ...NAN_ISH,
      'x'.repeat(10_000),
    ];
    options.push(
      validValue(parameter.schema, hint).map((value) => ({ query: `?${parameter.name}=${encode(String(value))}`, invalid: false, description: `valid ${parameter.name}` })),
      fc.constantFrom(...values).map((value) => {
        const text = String(value);
        // The query decoder turns the invalid UTF-8 of an encoded lone surrogate into well-formed
        // text (U+FFFD), so the handler sees that: classify what it sees.
        const seen = text.replace(/\p{Cs}/gu, '\ufffd');
        const asNumber = Number(seen);
        const typed = ['integer', 'number'].includes(typeOf(parameter.schema) ?? '') && seen.trim() !== '' && Number.isFinite(asNumber) ? asNumber : seen;
        return { query: `?${parameter.name}=${encode(text)}`, invalid: !satisfies(parameter.schema, typed), description: `${parameter.name}=${describeValue(text)}` };
      }),
      fc.constant({ query: `?${parameter.name}=1&${parameter.name}=2`, invalid: false, description: `${parameter.name} twice` }),
    );
  }
  return fc.oneof(...options);
}

/** Percent-encodes, turning a lone surrogate into the bytes of its (invalid) UTF-8 form instead of throwing. */
export function encode(value: string): string {
  return [...value]
    .map((char) => {
      const code = char.codePointAt(0)!;
      if (code >= 0xd800 && code <= 0xdfff) return `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`.toUpperCase();
      return encodeURIComponent(char);
    })
    .join('');
}

/** Odd values for a path id: names nothing, breaks the pattern, is huge, or is not text at all. */
function pathOverrideArbitrary(operation: Operation): fc.Arbitrary<{ overrides: Record<string, string>; invalid: boolean; description: string }> {
  const none = fc.constant({ overrides: {}, invalid: false, description: 'real path ids' });
  if (operation.pathParameters.length === 0) return none;
  const odd = fc.oneof(
    fc.constantFrom(...ODD_STRINGS.filter((value) => value !== '')).map((value) => ({ encoded: encode(value), raw: value as string | null })),
    fc.constantFrom('x'.repeat(10_000), 'zz0000000000000000', 'a'.repeat(129)).map((value) => ({ encoded: value, raw: value as string | null })),
    fc.constantFrom('%', '%zz', '%C0%AF', '..%2F..').map((encoded) => ({ encoded, raw: null })),
  );
  return fc.oneof(
    { arbitrary: none, weight: 2 },
    {
      arbitrary: fc.tuple(fc.constantFrom(...operation.pathParameters), odd).map(([parameter, value]) => ({
        overrides: { [parameter.name]: value.encoded },
        invalid: value.raw === null || !satisfies(parameter.schema, value.raw),
        description: `{${parameter.name}} = ${value.raw === null ? value.encoded : describeValue(value.raw)}`,
      })),
      weight: 1,
    },
  );
}

/** Headers a client may send oddly; none of them makes a request invalid. */
const ODD_HEADERS: readonly Record<string, string>[] = [
  { accept: 'application/xml' },
  { accept: 'text/event-stream' },
  { 'x-request-id': 'r'.repeat(2_000) },
  { 'x-request-id': '\u00ff\u00fe' },
  { origin: 'null' },
  { 'accept-encoding': 'gzip;q=abc, br;q=-1' },
  { 'if-none-match': '*' },
  { 'accept-language': 'x'.repeat(4_000) },
];

const headerArbitrary = fc.oneof(
  { arbitrary: fc.constant({ headers: {}, description: 'plain headers' }), weight: 3 },
  { arbitrary: fc.constantFrom(...ODD_HEADERS).map((headers) => ({ headers, description: `headers ${JSON.stringify(headers).slice(0, 60)}` })), weight: 1 },
);

/**
 * Requests of one operation. With `onlyInvalid`, every request violates the document (its body,
 * query or path), so it must be refused whoever sends it: for callers whose accepted write would
 * change the world the test stands on.
 */
export function requestArbitrary(operation: Operation, hint: ValueHint, options: { onlyInvalid?: boolean } = {}): fc.Arbitrary<FuzzRequest> | null {
  // Nothing of a request without a body schema, query or path parameter can be invalid.
  if (options.onlyInvalid && !operation.bodySchema && operation.queryParameters.length === 0 && operation.pathParameters.length === 0) return null;
  const request = fc
    .tuple(fc.oneof(...bodyArbitraries(operation, hint)), queryArbitrary(operation, hint), pathOverrideArbitrary(operation), headerArbitrary)
    .map(([body, query, path, headers]): FuzzRequest => {
      // A route that documents no body may ignore one: only a documented schema makes a body invalid.
      // A byte order mark before JSON may be ignored (RFC 8259 §8.1): `\ufeff{}` is the text `{}`.
      const schema = operation.bodySchema;
      const bodyInvalid =
        schema !== null &&
        (body.body.kind === 'raw'
          ? !['{}', '\ufeff{}'].includes(body.body.text) || body.body.contentType !== 'application/json' || !satisfies(schema, {})
          : body.body.kind === 'json' && !satisfies(schema, body.body.value));
      return {
        pathOverrides: path.overrides,
        query: query.query,
        body: body.body,
        headers: headers.headers,
        invalid: bodyInvalid || query.invalid || path.invalid,
        description: [body.description, query.description, path.description, headers.description].join('; '),
      };
    });
  return options.onlyInvalid ? request.filter((generated) => generated.invalid) : request;
}
