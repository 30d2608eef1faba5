/**
 * Compares a frozen OpenAPI document with the one the server serves and lists every change that
 * would break a client written against the frozen one:
 *   - a path or method removed; a documented response status removed;
 *   - a response field removed, its type changed to values clients never saw, an enum value removed;
 *   - a request that used to be valid rejected: a new required parameter or body field, a type
 *     narrowed, an enum value removed, a bound tightened, a pattern changed.
 * Additions (paths, optional inputs, response fields, statuses, enum values in requests) pass.
 */

type JsonSchema = Record<string, unknown>;
type Document = { paths?: Record<string, Record<string, Operation>> };
type Operation = {
  parameters?: { name: string; in: string; required?: boolean; schema?: JsonSchema }[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
};

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** A schema flattened across anyOf/oneOf branches: what values it allows, and its object/array parts. */
interface Shape {
  types: Set<string>;
  consts: Set<string> | null;
  properties: Map<string, JsonSchema[]>;
  required: Set<string>;
  items: JsonSchema[];
  bounds: Map<string, number>;
  patterns: Set<string>;
}

const BOUND_KEYWORDS = ['minLength', 'maxLength', 'minimum', 'maximum', 'minItems', 'maxItems'] as const;

function shapeOf(schema: JsonSchema | undefined): Shape {
  const shape: Shape = {
    types: new Set(),
    consts: null,
    properties: new Map(),
    required: new Set(),
    items: [],
    bounds: new Map(),
    patterns: new Set(),
  };
  const visit = (node: JsonSchema | undefined) => {
    if (!node || typeof node !== 'object') {
      shape.types.add('any');
      return;
    }
    const branches = (node.anyOf ?? node.oneOf) as JsonSchema[] | undefined;
    if (Array.isArray(branches)) {
      branches.forEach(visit);
      return;
    }
    if ('const' in node || Array.isArray(node.enum)) {
      shape.consts ??= new Set();
      const values = 'const' in node ? [node.const] : (node.enum as unknown[]);
      for (const value of values) shape.consts.add(JSON.stringify(value));
    }
    const type = node.type;
    const types = Array.isArray(type) ? (type as string[]) : typeof type === 'string' ? [type] : [];
    if (types.length === 0 && !('const' in node) && !Array.isArray(node.enum)) shape.types.add('any');
    for (const t of types) shape.types.add(t);
    if (node.properties && typeof node.properties === 'object') {
      for (const [name, property] of Object.entries(node.properties as Record<string, JsonSchema>)) {
        shape.properties.set(name, [...(shape.properties.get(name) ?? []), property]);
      }
    }
    for (const name of (node.required as string[] | undefined) ?? []) shape.required.add(name);
    if (node.items && typeof node.items === 'object') shape.items.push(node.items as JsonSchema);
    for (const keyword of BOUND_KEYWORDS) {
      if (typeof node[keyword] === 'number') shape.bounds.set(keyword, node[keyword] as number);
    }
    if (typeof node.pattern === 'string') shape.patterns.add(node.pattern);
  };
  visit(schema);
  return shape;
}

const merge = (schemas: JsonSchema[]): JsonSchema => (schemas.length === 1 ? schemas[0]! : { anyOf: schemas });

/** Does `wide` accept every type `narrow` does? integer ⊂ number; 'any' accepts all. */
function typesCover(wide: Set<string>, narrow: Set<string>): boolean {
  if (wide.has('any')) return true;
  return [...narrow].every((t) => wide.has(t) || (t === 'integer' && wide.has('number')));
}

/** A response schema may only keep or add fields; what it emits must be values the frozen one allowed. */
function compareOutput(path: string, frozen: JsonSchema | undefined, current: JsonSchema | undefined, out: string[]) {
  const before = shapeOf(frozen);
  const after = shapeOf(current);
  if (!typesCover(before.types, after.types)) {
    out.push(`${path}: type changed from ${[...before.types].join('|')} to ${[...after.types].join('|')}`);
  }
  if (before.consts) {
    for (const value of before.consts) if (!after.consts?.has(value)) out.push(`${path}: enum value ${value} removed`);
  }
  for (const [name, schemas] of before.properties) {
    const next = after.properties.get(name);
    if (!next) out.push(`${path}.${name}: response field removed`);
    else compareOutput(`${path}.${name}`, merge(schemas), merge(next), out);
  }
  if (before.items.length > 0) compareOutput(`${path}[]`, merge(before.items), merge(after.items), out);
}

/** A request schema may only accept more: every request valid before must stay valid. */
function compareInput(path: string, frozen: JsonSchema | undefined, current: JsonSchema | undefined, out: string[]) {
  const before = shapeOf(frozen);
  const after = shapeOf(current);
  if (!typesCover(after.types, before.types)) {
    out.push(`${path}: type narrowed from ${[...before.types].join('|')} to ${[...after.types].join('|')}`);
  }
  if (after.consts) {
    for (const value of before.consts ?? []) if (!after.consts.has(value)) out.push(`${path}: enum value ${value} no longer accepted`);
    if (!before.consts) out.push(`${path}: now restricted to enum values`);
  }
  for (const name of after.required) {
    if (!before.required.has(name)) out.push(`${path}.${name}: new required input`);
  }
  for (const [name, schemas] of before.properties) {
    const next = after.properties.get(name);
    if (!next) out.push(`${path}.${name}: input field removed`);
    else compareInput(`${path}.${name}`, merge(schemas), merge(next), out);
  }
  for (const keyword of BOUND_KEYWORDS) {
    const was = before.bounds.get(keyword);
    const is = after.bounds.get(keyword);
    if (is === undefined) continue;
    const tighter = keyword.startsWith('min') ? was === undefined || is > was : was === undefined || is < was;
    if (tighter) out.push(`${path}: ${keyword} tightened from ${was ?? 'none'} to ${is}`);
  }
  for (const pattern of after.patterns) {
    if (!before.patterns.has(pattern)) out.push(`${path}: pattern changed to ${pattern}`);
  }
  if (before.items.length > 0) compareInput(`${path}[]`, merge(before.items), merge(after.items), out);
}

const jsonSchemaOf = (content: Record<string, { schema?: JsonSchema }> | undefined) =>
  content?.['application/json']?.schema;

export function findBreakingChanges(frozen: Document, current: Document): string[] {
  const out: string[] = [];
  for (const [path, operations] of Object.entries(frozen.paths ?? {})) {
    for (const method of METHODS) {
      const was = operations[method];
      if (!was) continue;
      const where = `${method.toUpperCase()} ${path}`;
      const is = current.paths?.[path]?.[method];
      if (!is) {
        out.push(`${where}: operation removed`);
        continue;
      }
      for (const [status, response] of Object.entries(was.responses ?? {})) {
        const next = is.responses?.[status];
        if (!next) out.push(`${where} ${status}: response removed`);
        else compareOutput(`${where} ${status}`, jsonSchemaOf(response.content), jsonSchemaOf(next.content), out);
      }
      const key = (p: { name: string; in: string }) => `${p.in}:${p.name}`;
      const oldParameters = new Map((was.parameters ?? []).map((p) => [key(p), p]));
      for (const parameter of is.parameters ?? []) {
        const old = oldParameters.get(key(parameter));
        if (!old) {
          if (parameter.required) out.push(`${where} ${key(parameter)}: new required parameter`);
          continue;
        }
        if (parameter.required && !old.required) out.push(`${where} ${key(parameter)}: parameter became required`);
        compareInput(`${where} ${key(parameter)}`, old.schema, parameter.schema, out);
      }
      for (const old of was.parameters ?? []) {
        if (!(is.parameters ?? []).some((p) => key(p) === key(old))) out.push(`${where} ${key(old)}: parameter removed`);
      }
      if (is.requestBody?.required && was.requestBody && !was.requestBody.required) {
        out.push(`${where}: request body became required`);
      }
      if (is.requestBody?.required && !was.requestBody) out.push(`${where}: new required request body`);
      if (was.requestBody && is.requestBody) {
        compareInput(`${where} body`, jsonSchemaOf(was.requestBody.content), jsonSchemaOf(is.requestBody.content), out);
      }
    }
  }
  return out;
}
