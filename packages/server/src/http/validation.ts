import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

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
