import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';

/**
 * Headers every response carries, including those written outside Fastify's hooks (routing
 * errors, refused WebSocket upgrades): no content sniffing, and no caching, since API responses
 * carry tokens and private data.
 */
export const BASELINE_HEADERS = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' } as const;

/** HSTS lifetime when the public URL is https: one year, the usual preload-list minimum. */
const HSTS_MAX_AGE_SECONDS = 365 * 24 * 60 * 60;

export interface SecurityHeadersOptions {
  /** HSTS is sent only when clients reach the server over https (possibly through a proxy). */
  publicUrl: string;
  /** Swagger UI's path: its pages get its own CSP (see swaggerUiCsp) and stay cacheable. */
  docsPrefix: string;
}

/**
 * Security headers on every response (an onRequest hook, so 404s and problems too). API
 * responses are JSON, never rendered: the CSP allows nothing at all and nothing may frame them.
 * Swagger UI replaces the CSP on its own pages with one that lets its scripts and styles load.
 */
export async function registerSecurityHeaders(app: FastifyInstance, options: SecurityHeadersOptions): Promise<void> {
  const headers = await helmetHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // Not includeSubDomains: the API's host says nothing about its sibling hosts.
    hsts: options.publicUrl.startsWith('https://') ? { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: false } : false,
  });
  const docs = options.docsPrefix;
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers);
    const path = request.url;
    const isDocs = path === docs || path.startsWith(`${docs}/`) || path.startsWith(`${docs}?`);
    if (!isDocs) reply.header('cache-control', BASELINE_HEADERS['cache-control']);
    done();
  });
}

/**
 * The headers helmet sets with these options, computed once: they depend on nothing in the
 * request, but @fastify/helmet builds them again for every request (helmet(options) per call,
 * parsing the CSP each time; about 2% of a send's CPU by profile). Read off one response of a
 * probe instance, as those headers that the same instance without helmet does not send.
 */
async function helmetHeaders(options: FastifyHelmetOptions): Promise<Record<string, string>> {
  const probe = async (withHelmet: boolean) => {
    const instance = Fastify();
    if (withHelmet) await instance.register(helmet, { global: true, ...options });
    instance.get('/', async () => '');
    try {
      return (await instance.inject('/')).headers;
    } finally {
      await instance.close();
    }
  };
  const [secured, plain] = await Promise.all([probe(true), probe(false)]);
  return Object.fromEntries(
    Object.entries(secured).flatMap(([name, value]) => (name in plain || value === undefined ? [] : [[name, String(value)]])),
  );
}

/**
 * Swagger UI's own CSP (scripts and styles from this origin plus the hashes of its inline parts)
 * without `upgrade-insecure-requests`, which would break /docs on a plain-http deployment.
 */
export function swaggerUiCsp(header: string): string {
  return header
    .split(';')
    .map((directive) => directive.trim())
    .filter((directive) => directive !== '' && directive !== 'upgrade-insecure-requests')
    .join('; ');
}
