import { promises as dns } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { OutboundError, type OutboundPolicy } from './outbound-policy.js';

/**
 * The one way Parley makes outbound HTTP requests (OIDC discovery and JWKS, webhooks), applying an
 * OutboundPolicy on every connection.
 *
 * Guarantees:
 * - The URL is checked before anything is sent (scheme, credentials, IP-literal hosts).
 * - A host name is resolved once per connection, inside the socket's `lookup`; every address it
 *   resolves to is checked and the socket connects to that checked address, so there is no DNS
 *   rebinding gap between check and connect. A refused name never opens a socket.
 * - No connection reuse (`agent: false`) by default: each request, redirects included, goes through
 *   the check. With `keepAlive`, connections are reused per origin (a webhook's receiver gets one
 *   warm connection per attempt slot instead of a handshake per event); each new connection is
 *   still resolved and checked as above, and a reused one was checked when it was opened.
 * - Redirects (301, 302, 303, 307, 308) are followed at most `maxRedirects` times and only to the
 *   same host name; the new URL is checked again like the first. Another host → `refused`; one
 *   more than allowed → `too_many_redirects` (with `maxRedirects: 0` the 3xx answer is returned).
 * - One deadline (`timeoutMs`) covers the whole exchange, redirects and body included → `timeout`.
 * - At most `maxBytes` of body are read (a larger Content-Length fails before reading) → `too_large`.
 * - Any other failure (DNS, connection, TLS, malformed response) → `network`.
 * TLS certificates are verified against the URL's host name as usual.
 */

/** Resolves a host name to all its addresses (node:dns `lookup` with `all: true` by default). */
export type Resolve = (host: string) => Promise<{ address: string; family: number }[]>;

/** getaddrinfo (the system's resolution: hosts file, DNS): runs on libuv's thread pool; see limitResolve. */
export const lookupResolve: Resolve = (host) => dns.lookup(host, { all: true, verbatim: true });

/**
 * Parley's resolution of outbound host names. Asks DNS directly (c-ares: no thread, a timeout per
 * query, `tries` attempts), so a host whose name server never answers costs a timer, not one of
 * libuv's four threads; names DNS does not know (the hosts file's, such as `localhost`) fall back
 * to getaddrinfo through `limitResolve`, which a DNS that answered "no such name" leaves quick.
 * A DNS that does not answer in time fails the lookup (`network`) without the fallback.
 */
export function createResolve(options: { timeoutMs?: number; tries?: number; servers?: string[] } = {}): Resolve {
  const resolver = new dns.Resolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
  if (options.servers) resolver.setServers(options.servers);
  const fallback = limitResolve(lookupResolve);
  return async (host) => {
    if (isIP(host) !== 0) return [{ address: host, family: isIP(host) }];
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
    const entries = [
      ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
      ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
    ];
    if (entries.length > 0) return entries;
    const timedOut = [v4, v6].some((result) => result.status === 'rejected' && (result.reason as NodeJS.ErrnoException).code === dns.TIMEOUT);
    if (timedOut) throw new OutboundError('network', `Resolving ${host} timed out`);
    return fallback(host);
  };
}

export const defaultResolve: Resolve = createResolve();

export interface ResolveLimits {
  /** Lookups under way at once; the rest wait their turn (default 2). */
  maxConcurrent?: number;
  /** A caller stops waiting after this (default 5000 ms): `network`. */
  timeoutMs?: number;
}

/**
 * `resolve` with a cap on lookups under way and a deadline per caller. node:dns `lookup` runs
 * getaddrinfo on libuv's small thread pool (4 threads, shared with crypto and the file system) and
 * cannot be cancelled: without a cap, a host whose name server never answers — a tenant's webhook
 * URL, say — could occupy every thread and stall password hashing for everyone. A lookup keeps its
 * slot until it really ends, even after its caller gave up.
 */
export function limitResolve(resolve: Resolve, limits: ResolveLimits = {}): Resolve {
  const maxConcurrent = limits.maxConcurrent ?? 2;
  const timeoutMs = limits.timeoutMs ?? 5000;
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    running -= 1;
    waiting.shift()?.();
  };
  return (host) =>
    new Promise((resolvePromise, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        const index = waiting.indexOf(start);
        if (index !== -1) waiting.splice(index, 1);
        reject(new OutboundError('network', `Resolving ${host} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      function start(): void {
        if (done) {
          waiting.shift()?.();
          return;
        }
        running += 1;
        resolve(host).then(
          (entries) => {
            release();
            clearTimeout(timer);
            if (!done) resolvePromise(entries);
            done = true;
          },
          (error: unknown) => {
            release();
            clearTimeout(timer);
            if (!done) reject(error instanceof Error ? error : new Error(String(error)));
            done = true;
          },
        );
      }
      if (running < maxConcurrent) start();
      else waiting.push(start);
    });
}

export const OUTBOUND_DEFAULTS = { timeoutMs: 10_000, maxBytes: 1_048_576, maxRedirects: 3 } as const;

export interface OutboundRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Deadline of the whole exchange; default 10 s. */
  timeoutMs?: number;
  /** Response body bytes read at most; default 1 MiB. */
  maxBytes?: number;
  /** Same-host redirects followed; default 3; 0 returns a redirect response as it is. */
  maxRedirects?: number;
  /**
   * A body larger than `maxBytes` is cut there (the rest is not read; the connection is closed)
   * instead of failing `too_large`: for callers that need the status, not the body (webhooks).
   */
  truncate?: boolean;
}

export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The URL that answered, after redirects. */
  url: string;
}

export interface OutboundFetchOptions {
  policy: OutboundPolicy;
  /** Name resolution; tests inject a stub. Default: node:dns. */
  resolve?: Resolve;
  /** Reuse connections per origin (see the module comment); default false. Idle ones close after KEEP_ALIVE_IDLE_MS. */
  keepAlive?: boolean;
}

/**
 * How long a kept-alive connection may stay idle before Parley closes it: under the 5 s after
 * which Node's HTTP servers (and many others) close an idle connection, so Parley rarely writes
 * a request onto a connection the receiver is closing (and retries once when it does).
 */
export const KEEP_ALIVE_IDLE_MS = 4000;

/** Failures of a request written on a reused connection before any answer came: the receiver had closed it. */
const staleConnectionFailures = new WeakSet<OutboundError>();

export type OutboundFetch = (url: string | URL, request?: OutboundRequest) => Promise<OutboundResponse>;

/**
 * A socket `lookup` that resolves through `resolve`, checks every address with the policy and
 * hands the socket only checked addresses (refusing the connection otherwise).
 */
export function createCheckedLookup(policy: OutboundPolicy, resolve: Resolve = defaultResolve): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (entries) => {
        policy.checkResolved(hostname, entries.map((entry) => entry.address));
        const usable = entries.filter((entry) => options.family === undefined || options.family === 0 || entry.family === options.family);
        const first = usable[0];
        if (first === undefined) throw new OutboundError('network', `${hostname} has no address of the requested family`);
        if (options.all) callback(null, usable.map(({ address, family }) => ({ address, family })));
        else callback(null, first.address, first.family);
      },
    ).catch((error: unknown) => {
      callback(error instanceof OutboundError ? error : new OutboundError('network', `Could not resolve ${hostname}`, { cause: error }) as NodeJS.ErrnoException, '', 0);
    });
  };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** An outbound fetch bound to a policy; see the module comment for what it guarantees. */
export function createOutboundFetch(options: OutboundFetchOptions): OutboundFetch {
  const { policy } = options;
  const lookup = createCheckedLookup(policy, options.resolve ?? defaultResolve);
  // Node unrefs a free socket, so kept-alive connections never hold the process open.
  const agents = options.keepAlive
    ? {
        'http:': new http.Agent({ keepAlive: true, maxFreeSockets: 64, timeout: KEEP_ALIVE_IDLE_MS }),
        'https:': new https.Agent({ keepAlive: true, maxFreeSockets: 64, timeout: KEEP_ALIVE_IDLE_MS }),
      }
    : null;

  return async (input, request = {}) => {
    const timeoutMs = request.timeoutMs ?? OUTBOUND_DEFAULTS.timeoutMs;
    const maxBytes = request.maxBytes ?? OUTBOUND_DEFAULTS.maxBytes;
    const maxRedirects = request.maxRedirects ?? OUTBOUND_DEFAULTS.maxRedirects;
    const deadline = AbortSignal.timeout(timeoutMs);
    let url = policy.checkUrl(input);
    const firstHost = url.hostname;
    let method = (request.method ?? 'GET').toUpperCase();
    let body = request.body;
    for (let redirects = 0; ; redirects++) {
      const agent = agents === null ? false : url.protocol === 'https:' ? agents['https:'] : agents['http:'];
      const send = () => exchange(url, { method, headers: request.headers ?? {}, body, maxBytes, truncate: request.truncate ?? false, deadline, timeoutMs, lookup, agent });
      const response = await send().catch((error: unknown) => {
        // Once more, on a new connection: the request never reached a receiver that was closing.
        if (error instanceof OutboundError && staleConnectionFailures.has(error)) return send();
        throw error;
      });
      const location = response.headers.location;
      if (!REDIRECTS.has(response.status) || location === undefined || maxRedirects === 0) return response;
      if (redirects >= maxRedirects) throw new OutboundError('too_many_redirects', `More than ${maxRedirects} redirects`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new OutboundError('network', 'The redirect location is not a valid URL');
      }
      if (next.hostname !== firstHost) throw new OutboundError('refused', 'Redirects to another host are not followed');
      url = policy.checkUrl(next);
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
    }
  };
}

interface Exchange {
  method: string;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
  maxBytes: number;
  truncate: boolean;
  deadline: AbortSignal;
  agent: http.Agent | false;
  timeoutMs: number;
  lookup: LookupFunction;
}

function exchange(url: URL, options: Exchange): Promise<OutboundResponse> {
  return new Promise((resolve, reject) => {
    if (options.deadline.aborted) {
      reject(new OutboundError('timeout', `No complete answer within ${options.timeoutMs} ms`));
      return;
    }
    let settled = false;
    const fail = (error: OutboundError) => {
      if (settled) return;
      settled = true;
      options.deadline.removeEventListener('abort', onAbort);
      req.destroy();
      reject(error);
    };
    const onAbort = () => fail(new OutboundError('timeout', `No complete answer within ${options.timeoutMs} ms`));
    const bare = url.hostname.replace(/^\[|\]$/g, '');
    const requestOptions: https.RequestOptions = {
      protocol: url.protocol,
      hostname: bare,
      port: url.port === '' ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: options.method,
      headers: { ...options.headers, ...(options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) }) },
      agent: options.agent,
      // IP literals never reach lookup (checked in checkUrl); names are checked there on connect.
      ...(isIP(bare) === 0 ? { lookup: options.lookup } : {}),
    };
    const req = (url.protocol === 'https:' ? https : http).request(requestOptions, (res) => {
      const answer = (body: Buffer) => {
        if (settled) return;
        settled = true;
        options.deadline.removeEventListener('abort', onAbort);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, url: url.href });
      };
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes && !options.truncate) {
        fail(new OutboundError('too_large', `The response is larger than ${options.maxBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received <= options.maxBytes) chunks.push(chunk);
        else if (!options.truncate) fail(new OutboundError('too_large', `The response is larger than ${options.maxBytes} bytes`));
        else {
          chunks.push(chunk.subarray(0, chunk.length - (received - options.maxBytes)));
          answer(Buffer.concat(chunks));
          req.destroy();
        }
      });
      res.on('error', (error) => fail(new OutboundError('network', 'The response failed', { cause: error })));
      res.on('end', () => answer(Buffer.concat(chunks)));
    });
    let answered = false;
    req.on('response', () => {
      answered = true;
    });
    req.on('error', (error) => {
      const failure = error instanceof OutboundError ? error : new OutboundError('network', 'The request failed', { cause: error });
      if (req.reusedSocket && !answered && !(error instanceof OutboundError)) staleConnectionFailures.add(failure);
      fail(failure);
    });
    options.deadline.addEventListener('abort', onAbort, { once: true });
    req.end(options.body);
  });
}
