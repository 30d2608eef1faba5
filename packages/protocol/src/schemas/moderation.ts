import { Type } from 'typebox';
import { Id, Nullable, Timestamp } from './common.js';

export const MuteBody = Type.Object(
  {
    until: Type.Optional(
      Type.String({ format: 'date-time', description: 'RFC 3339 end of the mute, in the future; absent: until lifted' }),
    ),
  },
  { additionalProperties: false },
);

export const Mute = Type.Object({
  userId: Id,
  until: Nullable(Timestamp),
  createdAt: Timestamp,
});

export const MuteList = Type.Object({ items: Type.Array(Mute), nextCursor: Nullable(Type.String()) });

export const Ban = Type.Object({ userId: Id, createdAt: Timestamp });

export const BanList = Type.Object({ items: Type.Array(Ban), nextCursor: Nullable(Type.String()) });
