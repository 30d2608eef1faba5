import { Type, type TSchema } from 'typebox';

/** RFC 3339 timestamp in UTC, e.g. 2026-11-28T01:02:03.456Z. */
export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339 time in UTC' });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
/** A seq as clients send it: a whole number JSON and JavaScript represent exactly. */
export const SeqInput = (minimum: number) => Type.Integer({ minimum, maximum: Number.MAX_SAFE_INTEGER });

export const Id = Type.String({ minLength: 1, maxLength: 128, description: 'Opaque identifier' });

/** The id a tenant back end gives its users: letters, digits and `_ . : @ -`. */
export const UserIdParam = Type.String({ pattern: '^[A-Za-z0-9_.:@-]{1,128}$', description: 'User id' });

export const ListQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  },
  { additionalProperties: false },
);

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable machine-readable error code' }),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(Type.Object({ path: Type.String(), message: Type.String() }), {
        description: 'Validation errors, one per offending field',
      }),
    ),
  },
  { description: 'RFC 9457 problem details' },
);
