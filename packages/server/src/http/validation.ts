import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import { findMalformedString } from '../domain/rules.js';
import { ServiceError } from '../services/service-error.js';

/**
 * Request validation with two rule sets. Query strings, path parameters and headers arrive as
 * text, so they are coerced to the schema's types (`?limit=10`); JSON bodies already carry types,
 * so they are not: `{"seq": "5"}` is a 400, never silently a number. Unknown fields are errors
 * everywhere (a typo must not be ignored), and every violation is listed at once.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const common: Options = { removeAdditional: false, allErrors: true, useDefaults: true, strict: false };
  const forBodies = new Ajv({ ...common, coerceTypes: false });
  const forText = new Ajv({ ...common, coerceTypes: 'array' });
  for (const ajv of [forBodies, forText]) addFormats.default(ajv);
  return ({ schema, httpPart }) => (httpPart === 'body' ? forBodies : forText).compile(schema as object);
}

/**
 * Every string a request brings (JSON body, query, path parameters; keys as well as values) must
 * be well-formed Unicode: a lone surrogate (`"\ud800"` in JSON) has no UTF-8 form, so the engines
 * would store it differently. Checked before schema validation, for every route, so no service
 * ever sees one; the services check their own text fields again for other callers.
 */
export function refuseMalformedText(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const parts = { body: request.body, query: request.query, params: request.params };
    for (const [part, value] of Object.entries(parts)) {
      const path = findMalformedString(value, part);
      if (path !== null) throw new ServiceError('validation_failed', `${path} must be well-formed Unicode (no lone surrogates)`);
    }
  });
}
