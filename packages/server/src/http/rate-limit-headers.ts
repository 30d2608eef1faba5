/**
 * Advertises the rate limits a request was counted against: `RateLimit-Policy` and `RateLimit`
 * on every response of a limited operation, successful or not (a refusal's own ServiceError
 * headers, with Retry-After, take precedence).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { rateLimitHeaders, type QuotaListener, type RateLimitName, type RateLimitQuota } from '../services/rate-limiter.js';

/** Per request: the latest decision of each limit it was counted against. */
const quotasByRequest = new WeakMap<FastifyRequest, Map<RateLimitName, RateLimitQuota>>();

/** A listener that records the request's quotas for its response headers. */
export function quotasOf(request: FastifyRequest): QuotaListener {
  return (quota) => {
    let quotas = quotasByRequest.get(request);
    if (!quotas) {
      quotas = new Map();
      quotasByRequest.set(request, quotas);
    }
    quotas.set(quota.name, quota);
  };
}

/** The RateLimit fields of what the request was counted against so far (none: empty). */
export function rateLimitHeadersOf(request: FastifyRequest): Record<string, string> {
  return rateLimitHeaders([...(quotasByRequest.get(request)?.values() ?? [])]);
}

export function registerRateLimitHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply) => {
    if (reply.hasHeader('ratelimit')) return;
    for (const [name, value] of Object.entries(rateLimitHeadersOf(request))) reply.header(name, value);
  });
}
