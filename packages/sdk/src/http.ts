/**
 * The transport every REST call goes through: an openapi-fetch client typed by the generated
 * `paths` (so a path, its parameters, its body and its answer are checked against
 * openapi/v1.json at compile time), with the bearer token attached per request from a
 * {@link CredentialSource}, one retry after a 401 when the source has a fresh token, and every
 * failure turned into a {@link ParleyError}.
 */
import createClient, { type Client } from 'openapi-fetch';
import { ParleyError, ParleyNetworkError } from './errors.js';
import type { paths } from './generated/v1.js';

/** The typed openapi-fetch client of the v1 API. */
export type ParleyApi = Client<paths>;

/** A `fetch` as the platform provides it (browsers, Node 20+), or a wrapper of it. */
export type FetchLike = (input: Request) => Promise<Response>;

/** Where the `Authorization: Bearer` token of each request comes from. */
export interface CredentialSource {
  /** The token for the next request; null sends none (the public endpoints). Rejections propagate to the caller. */
  token(): Promise<string | null>;
  /**
   * Told that `token` was refused with 401. Resolves true when a different token is now available
   * (the request is then sent once more with it), false to surface the 401. Never called twice for
   * one request.
   */
  refused?(token: string): Promise<boolean>;
}

/** Sends no token: registration, login, refresh, logout and the public operations. */
export const ANONYMOUS: CredentialSource = { token: async () => null };

/** A fixed secret (a tenant `sk_` key or the operator key): a 401 is final. */
export function staticCredential(secret: string): CredentialSource {
  return { token: async () => secret };
}

export interface TransportOptions {
  /** Base URL of the Parley server, e.g. `https://chat.example.com` (no `/v1`). */
  baseUrl: string;
  credential: CredentialSource;
  /** Defaults to `globalThis.fetch`, looked up at call time (so a test or polyfill may replace it later). */
  fetch?: FetchLike | typeof fetch | undefined;
}

export function createTransport(options: TransportOptions): ParleyApi {
  const send: FetchLike = options.fetch ? (request) => (options.fetch as FetchLike)(request) : (request) => globalThis.fetch(request);
  const { credential } = options;

  const attempt = async (request: Request, token: string | null): Promise<Response> => {
    if (token !== null) request.headers.set('authorization', `Bearer ${token}`);
    try {
      return await send(request);
    } catch (error) {
      // An abort is the caller's decision, not a network failure: rethrow it untouched.
      if (isAbort(error)) throw error;
      throw new ParleyNetworkError(error, `${request.method} ${new URL(request.url).pathname}`);
    }
  };

  const authenticatedFetch: FetchLike = async (request) => {
    const token = await credential.token();
    // Keep an unread copy of the body for the one possible retry.
    const spare = token !== null && credential.refused ? request.clone() : null;
    const response = await attempt(request, token);
    if (response.status !== 401 || spare === null || token === null || !(await credential.refused!(token))) return response;
    await response.body?.cancel();
    return attempt(spare, await credential.token());
  };

  return createClient<paths>({ baseUrl: options.baseUrl, fetch: authenticatedFetch, pathSerializer: serializePath });
}

/** What openapi-fetch resolves with: the parsed body of a 2xx, or the parsed error of anything else. */
interface FetchResult<Data> {
  data?: Data;
  error?: unknown;
  response: Response;
}

/** The body of a successful answer; throws {@link ParleyError} for any other. */
export async function expectData<Data>(pending: Promise<FetchResult<Data>>): Promise<Data> {
  const { data, error, response } = await pending;
  if (!response.ok) throw ParleyError.fromResponse(response, error);
  return data as Data;
}

/** For operations answering 204/202 without a body: resolves when it succeeded. */
export async function expectSuccess(pending: Promise<FetchResult<unknown>>): Promise<void> {
  await expectData(pending);
}

/**
 * Fills `{name}` path templates, percent-encoding each value, and `.`/`..` too: the URL parser
 * would otherwise resolve an id of `..` as "the parent path" and call a different endpoint.
 */
function serializePath(template: string, values: Record<string, unknown>): string {
  return template.replace(/\{([^{}]+)\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined || value === null) throw new TypeError(`missing path parameter ${name} for ${template}`);
    return encodeURIComponent(String(value)).replace(/^\.{1,2}$/, (dots) => '%2E'.repeat(dots.length));
  });
}

function isAbort(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}
