import type { FastifyInstance } from 'fastify';
import { ServiceError } from '../services/service-error.js';

/** The `charset` parameter of a media type, unquoted, or undefined when there is none. */
export function charsetOf(contentType: string): string | undefined {
  return /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(contentType)?.[1];
}

/**
 * Request bodies are JSON, and JSON between systems is UTF-8 (RFC 8259 §8.1); the body is decoded
 * as UTF-8 whatever it declares. A body declared in another charset (`application/json;
 * charset=utf-16`) would be misread, or read as something its sender did not mean, so it is
 * refused with 415 before it is parsed. `charset=utf-8` (any case) is accepted.
 */
export function refuseForeignCharsets(app: FastifyInstance): void {
  app.addHook('preParsing', async (request) => {
    const contentType = request.headers['content-type'];
    if (contentType === undefined) return;
    const charset = charsetOf(contentType);
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      throw new ServiceError('unsupported_media_type', `Request bodies are UTF-8 JSON; charset ${JSON.stringify(charset)} is not supported`);
    }
  });
}
