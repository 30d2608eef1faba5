import type { FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';

/** Query parameters that carry credentials (the realtime `access_token`); never written to logs. */
const SECRET_QUERY_PARAMETERS = ['access_token', 'token', 'api_key'];

/** The URL with credential-bearing query values replaced by `[REDACTED]`. */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart < 0) return url;
  const params = new URLSearchParams(url.slice(queryStart + 1));
  let changed = false;
  for (const name of SECRET_QUERY_PARAMETERS) {
    if (params.has(name)) {
      params.set(name, '[REDACTED]');
      changed = true;
    }
  }
  return changed ? `${url.slice(0, queryStart)}?${params.toString()}` : url;
}

/**
 * pino options for the server: JSON lines, request ids, and no secrets. Headers are not logged at
 * all (so no Authorization), URLs are redacted, and any `authorization`/`password`/`token` field
 * that a log call passes is censored as a second line of defence.
 */
export function loggerOptions(config: Pick<Config, 'logLevel'>): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    redact: {
      paths: [
        'req.headers.authorization',
        '*.authorization',
        '*.password',
        '*.accessToken',
        '*.refreshToken',
        '*.apiKey',
        'password',
        'accessToken',
        'refreshToken',
        'apiKey',
      ],
      censor: '[REDACTED]',
    },
    serializers: {
      req(request: { method: string; url: string; ip?: string; id?: string }) {
        return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip };
      },
    },
  };
}
