/**
 * A webhook receiver for tests: a real node:http server on 127.0.0.1 (an ephemeral port) that plays
 * the tenant's back end. Each endpoint (a path of its own, one per webhook) verifies every
 * `Parley-Signature` against the secrets it is told, records every request as it arrived, and
 * answers from a script (500 three times then 200, hang, answer slowly…) so tests can drive
 * retries, timeouts and failovers. Nothing here trusts Parley: a request that fails verification
 * is recorded, answered like any other, and listed in `invalid` for the test to assert on.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * What an endpoint answers one request: a status at once, a status after `delayMs`, or `hang`
 * (never answers: the request stays open until Parley gives up, its process dies, or the test
 * calls `release`).
 */
export type ScriptedAnswer = number | 'hang' | { status: number; delayMs: number };

/** `Parley-Signature` as received, and which of the endpoint's secrets its `v1` values match. */
export interface ReceivedSignature {
  /** The raw header; null when absent. */
  header: string | null;
  /** The `t=` value (unix seconds); null when absent or not a number. */
  t: number | null;
  /** Every `v1=` value, in header order. */
  v1: string[];
  /** The endpoint's secrets (as given to `trust`) that some `v1` value matches. */
  matched: string[];
  /** True when at least one `v1` value matches one of the endpoint's secrets. */
  valid: boolean;
}

/** One request an endpoint received, recorded on arrival (the answer is filled in as it is sent). */
export interface ReceivedDelivery {
  /** The endpoint's name. */
  endpoint: string;
  /** `Parley-Event-Id`. */
  id: string | undefined;
  /** `Parley-Event-Type`. */
  type: string | undefined;
  /** The raw body, exactly as received (signatures are computed over it). */
  raw: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  body: any;
  headers: http.IncomingHttpHeaders;
  signature: ReceivedSignature;
  /** Date.now() when the whole body had arrived. */
  at: number;
  /** What the script said to answer. */
  answer: ScriptedAnswer;
  /** Date.now() when the request's connection closed or the answer was sent, whichever came first; null while open. */
  endedAt: number | null;
  /** True when the connection closed before an answer was sent (Parley timed out, or its process died). */
  abandoned: boolean;
}

/** One webhook's URL on the receiver, with its own secrets, script and records. */
export interface ReceiverEndpoint {
  readonly name: string;
  /** The URL to register as the webhook's `url` (http://127.0.0.1:<port>/hooks/<name>). */
  readonly url: string;
  /** Every request to this endpoint, in arrival order. */
  readonly deliveries: ReceivedDelivery[];
  /** Adds secrets that sign requests to this endpoint validly (a webhook's `secret`, a rotated one). */
  trust(...secrets: string[]): void;
  /** Queues answers for the next requests, in order; once used up, requests get the default answer. */
  script(...answers: ScriptedAnswer[]): void;
  /** The answer once the script is used up (200 unless changed). */
  setDefault(answer: ScriptedAnswer): void;
  /** Answers every request of this endpoint still hanging with `status`. */
  release(status?: number): void;
  /** The first request (already received or still to come) matching `predicate`; rejects after `timeoutMs`. */
  waitFor(predicate: (delivery: ReceivedDelivery) => boolean, timeoutMs: number): Promise<ReceivedDelivery>;
  /** Resolves once `count` requests match `predicate` (with all of them); rejects after `timeoutMs`. */
  waitForCount(predicate: (delivery: ReceivedDelivery) => boolean, count: number, timeoutMs: number): Promise<ReceivedDelivery[]>;
  /** The first request of each event id, in arrival order: what a receiver de-duplicating by id processes. */
  unique(): ReceivedDelivery[];
}

export interface WebhookReceiver {
  /** http://127.0.0.1:<port> */
  readonly baseUrl: string;
  /** The endpoint of that name, created on first use. */
  endpoint(name: string): ReceiverEndpoint;
  /** Every request whose signature did not verify (or that came to no known endpoint), on any endpoint. */
  readonly invalid: ReceivedDelivery[];
  /** Every request received, on any endpoint, in arrival order. */
  readonly all: ReceivedDelivery[];
  /** Ends hanging requests, closes every connection and stops listening. */
  close(): Promise<void>;
}

/** HMAC-SHA256 of `<t>.<raw body>` keyed by the secret, hex: the `v1` scheme of `Parley-Signature`. */
export function signatureOf(secret: string, t: number | string, raw: string): string {
  return createHmac('sha256', secret).update(`${t}.${raw}`).digest('hex');
}

/** Parses `t=<unix s>,v1=<hex>[,v1=<hex>…]` and checks each `v1` against `secrets` in constant time. */
export function verifySignature(header: string | undefined, raw: string, secrets: readonly string[]): ReceivedSignature {
  const parts = (header ?? '').split(',').map((part) => part.trim().split('='));
  const tText = parts.find(([key]) => key === 't')?.[1];
  const t = tText !== undefined && /^\d+$/.test(tText) ? Number(tText) : null;
  const v1 = parts.filter(([key, value]) => key === 'v1' && value !== undefined).map(([, value]) => value!);
  const matched =
    t === null
      ? []
      : secrets.filter((secret) => {
          const expected = Buffer.from(signatureOf(secret, t, raw), 'hex');
          return v1.some((value) => {
            const given = Buffer.from(value, 'hex');
            return given.length === expected.length && timingSafeEqual(given, expected);
          });
        });
  return { header: header ?? null, t, v1, matched, valid: matched.length > 0 };
}

interface EndpointState {
  api: ReceiverEndpoint;
  secrets: string[];
  script: ScriptedAnswer[];
  fallback: ScriptedAnswer;
  hanging: Set<http.ServerResponse>;
  waiters: Set<() => void>;
}

const HOOK_PATH = /^\/hooks\/([^/?]+)$/;

/** Starts a receiver on 127.0.0.1 (a port the system picks). */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const endpoints = new Map<string, EndpointState>();
  const all: ReceivedDelivery[] = [];
  const invalid: ReceivedDelivery[] = [];
  const sockets = new Set<Socket>();
  let baseUrl = '';

  const endpoint = (name: string): EndpointState => {
    const existing = endpoints.get(name);
    if (existing) return existing;
    const deliveries: ReceivedDelivery[] = [];
    const waitForCount = (predicate: (delivery: ReceivedDelivery) => boolean, count: number, timeoutMs: number) =>
      new Promise<ReceivedDelivery[]>((resolve, reject) => {
        const check = () => {
          const matching = deliveries.filter(predicate);
          if (matching.length < count) return;
          state.waiters.delete(check);
          clearTimeout(timer);
          resolve(matching);
        };
        const timer = setTimeout(() => {
          state.waiters.delete(check);
          const seen = deliveries.map((delivery) => `${delivery.type} ${delivery.id} → ${JSON.stringify(delivery.answer)}`);
          reject(new Error(`endpoint ${name}: ${deliveries.filter(predicate).length} of ${count} matching requests after ${timeoutMs} ms; received: ${seen.join('; ') || 'nothing'}`));
        }, timeoutMs);
        state.waiters.add(check);
        check();
      });
    const state: EndpointState = {
      secrets: [],
      script: [],
      fallback: 200,
      hanging: new Set(),
      waiters: new Set(),
      api: {
        name,
        get url() {
          return `${baseUrl}/hooks/${name}`;
        },
        deliveries,
        trust: (...secrets) => void state.secrets.push(...secrets),
        script: (...answers) => void state.script.push(...answers),
        setDefault: (answer) => void (state.fallback = answer),
        release(status = 200) {
          for (const response of [...state.hanging]) response.writeHead(status).end();
          state.hanging.clear();
        },
        waitFor: async (predicate, timeoutMs) => (await waitForCount(predicate, 1, timeoutMs))[0]!,
        waitForCount,
        unique() {
          const seen = new Set<string | undefined>();
          return deliveries.filter((delivery) => !seen.has(delivery.id) && seen.add(delivery.id));
        },
      },
    };
    endpoints.set(name, state);
    return state;
  };

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const name = HOOK_PATH.exec(request.url ?? '')?.[1];
      const state = name === undefined ? null : endpoint(name);
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const header = (field: string) => {
        const value = request.headers[field];
        return Array.isArray(value) ? value.join(',') : value;
      };
      const answer = state ? (state.script.shift() ?? state.fallback) : 404;
      const delivery: ReceivedDelivery = {
        endpoint: name ?? request.url ?? '',
        id: header('parley-event-id'),
        type: header('parley-event-type'),
        raw,
        body,
        headers: request.headers,
        signature: verifySignature(header('parley-signature'), raw, state?.secrets ?? []),
        at: Date.now(),
        answer,
        endedAt: null,
        abandoned: false,
      };
      const ended = (abandoned: boolean) => {
        if (delivery.endedAt !== null) return;
        delivery.endedAt = Date.now();
        delivery.abandoned = abandoned;
      };
      response.on('finish', () => ended(false));
      response.on('close', () => {
        ended(!response.writableFinished);
        state?.hanging.delete(response);
      });
      all.push(delivery);
      if (!delivery.signature.valid) invalid.push(delivery);
      if (state) {
        state.api.deliveries.push(delivery);
        for (const waiter of [...state.waiters]) waiter();
      }
      if (answer === 'hang') {
        state?.hanging.add(response);
        return;
      }
      const [status, delayMs] = typeof answer === 'number' ? [answer, 0] : [answer.status, answer.delayMs];
      const send = () => {
        if (!response.destroyed) response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
      };
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    baseUrl,
    endpoint: (name) => endpoint(name).api,
    invalid,
    all,
    async close() {
      for (const state of endpoints.values()) for (const response of state.hanging) response.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
