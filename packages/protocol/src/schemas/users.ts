import { Type } from 'typebox';
import { Id, Nullable, Timestamp } from './common.js';

export const User = Type.Object({
  id: Id,
  username: Type.Optional(Type.String({ description: 'Present for users of the built-in provider' })),
  displayName: Type.String(),
  metadata: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
  createdAt: Timestamp,
  deleted: Type.Optional(
    Type.Literal(true, {
      description: 'Present when the account was deleted: displayName is then "Deleted user" and only id and createdAt remain',
    }),
  ),
  identity: Type.Optional(
    Type.Object(
      { provider: Type.String(), subject: Type.String() },
      { description: "Present for users of an external identity provider: the tenant's provider id and the token's `sub`" },
    ),
  ),
});

export const UpsertUserBody = Type.Object(
  {
    displayName: Type.String({ minLength: 1, maxLength: 64 }),
    metadata: Type.Optional(
      Nullable(Type.Record(Type.String(), Type.Unknown(), { description: 'Free-form JSON object, at most 8 KiB' })),
    ),
  },
  { additionalProperties: false },
);

export const PatchMeBody = Type.Object(
  { displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) },
  { additionalProperties: false },
);

export const Presence = Type.Object({
  status: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
  lastSeenAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'Null while online, or when never seen',
  }),
});
