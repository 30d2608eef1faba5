/**
 * Property-level exposure (OWASP API3:2023) over recorded responses: walks every JSON value a
 * caller received and lists what must never have been there.
 */
import type { RecordedResponse } from './security-world.js';

/** Property names of hashes and secrets; only a deliberate creation response may carry a secret. */
export const SECRET_PROPERTY = /^(password|passwordHash|hash|.+Hash|secret|.+Secret|privateKey)$/i;

/** The responses that hand out a new secret once, on purpose (keys, webhook secrets). */
export function isSecretCreationResponse(method: string, path: string): boolean {
  const bare = path.split('?')[0]!;
  return method === 'POST' && (bare === '/v1/tenants' || /\/api-keys$/.test(bare) || /^\/v1\/webhooks(\/[^/]+\/secret)?$/.test(bare));
}

/** The responses that may carry a refresh token. */
export const isAuthResponse = (method: string, path: string): boolean => method === 'POST' && /^\/v1\/auth\/(register|login|refresh|password)$/.test(path.split('?')[0]!);

export interface ExposureRules {
  /** Tenant of each credential used in the run (user tokens and tenant keys). */
  tenantOfToken: ReadonlyMap<string, string>;
  /** Strings only the listed credentials may ever receive (a user's metadata, a password). */
  privateStrings: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Every violation found, one line each, naming the request. */
export function findExposures(responses: readonly RecordedResponse[], rules: ExposureRules): string[] {
  const tenants = new Set(rules.tenantOfToken.values());
  const violations: string[] = [];
  for (const response of responses) {
    if (response.body === undefined || response.body === null) continue;
    const where = `${response.method} ${response.path} → ${response.status}`;
    const callerTenant = response.token ? rules.tenantOfToken.get(response.token) : undefined;
    const isOperator = response.token !== undefined && callerTenant === undefined;
    walk(response.body, [], (path, key, value) => {
      // `instance` echoes the caller's own request path back to them.
      if (path.length === 1 && key === 'instance') return;
      if (key !== null && SECRET_PROPERTY.test(key) && !isSecretCreationResponse(response.method, response.path) && response.path !== '/.well-known/jwks.json') {
        violations.push(`${where}: property ${path.join('.')} looks like a secret or hash`);
      }
      if (typeof value !== 'string') return;
      if (/(^|[^A-Za-z0-9])sk_[A-Za-z0-9]/.test(value) && !isSecretCreationResponse(response.method, response.path)) {
        violations.push(`${where}: ${path.join('.')} carries a tenant API key after its creation`);
      }
      if (/^rt1\./.test(value) && !isAuthResponse(response.method, response.path)) {
        violations.push(`${where}: ${path.join('.')} carries a refresh token outside an auth response`);
      }
      if (!isOperator) {
        for (const tenant of tenants) {
          if (tenant !== callerTenant && value.includes(tenant)) violations.push(`${where}: ${path.join('.')} names tenant ${tenant}, not the caller's`);
        }
      }
      for (const [secret, allowed] of rules.privateStrings) {
        if (value.includes(secret) && !(response.token !== undefined && allowed.has(response.token))) {
          violations.push(`${where}: ${path.join('.')} carries a string private to someone else`);
        }
      }
    });
  }
  return violations;
}

function walk(value: unknown, path: string[], visit: (path: string[], key: string | null, value: unknown) => void): void {
  visit(path, path.length > 0 ? path[path.length - 1]! : null, value);
  if (Array.isArray(value)) value.forEach((item, index) => walk(item, [...path, String(index)], visit));
  else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) walk(child, [...path, key], visit);
  }
}

/** Property names in a JSON schema (through properties, items, anyOf/oneOf/allOf, additionalProperties). */
export function propertyNamesOf(schema: unknown, path = ''): { name: string; path: string }[] {
  if (schema === null || typeof schema !== 'object') return [];
  const node = schema as Record<string, any>;
  const found: { name: string; path: string }[] = [];
  for (const [name, child] of Object.entries<any>(node.properties ?? {})) {
    found.push({ name, path: `${path}.${name}` }, ...propertyNamesOf(child, `${path}.${name}`));
  }
  for (const keyword of ['anyOf', 'oneOf', 'allOf']) {
    for (const child of node[keyword] ?? []) found.push(...propertyNamesOf(child, path));
  }
  if (node.items) found.push(...propertyNamesOf(node.items, `${path}[]`));
  if (node.additionalProperties && typeof node.additionalProperties === 'object') found.push(...propertyNamesOf(node.additionalProperties, `${path}.*`));
  return found;
}
