import { Type } from 'typebox';
import { Id, Timestamp } from './common.js';
import { User } from './users.js';

export const USERNAME_PATTERN = '^[a-z0-9_.-]{3,32}$';
export const TENANT_ID_PATTERN = '^[a-z0-9][a-z0-9-]{1,62}$';

const TenantField = Type.String({ pattern: TENANT_ID_PATTERN, description: "Tenant id; defaults to 'default'" });

export const RegisterBody = Type.Object(
  {
    username: Type.String({ pattern: USERNAME_PATTERN, description: '3..32 of [a-z0-9_.-], unique per tenant' }),
    password: Type.String({ minLength: 8, maxLength: 128 }),
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    tenant: Type.Optional(TenantField),
  },
  { additionalProperties: false },
);

export const ChangePasswordBody = Type.Object(
  {
    currentPassword: Type.String({ minLength: 1, maxLength: 128 }),
    newPassword: Type.String({ minLength: 8, maxLength: 128, description: 'The same rules as at registration' }),
  },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 128 }),
    tenant: Type.Optional(TenantField),
  },
  { additionalProperties: false },
);

export const RefreshBody = Type.Object(
  { refreshToken: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);

export const AuthResult = Type.Object({
  user: User,
  accessToken: Type.String(),
  refreshToken: Type.String(),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires' }),
});

export const Tenant = Type.Object({ id: Id, name: Type.String(), createdAt: Timestamp });

export const CreateTenantBody = Type.Object(
  { id: Type.String({ pattern: TENANT_ID_PATTERN }), name: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);

export const CreateTenantResult = Type.Object({
  tenant: Tenant,
  apiKey: Type.String({ description: 'Shown once; stored only as a hash' }),
});

export const MintTokenBody = Type.Object(
  {
    expiresIn: Type.Optional(
      Type.Integer({ minimum: 60, maximum: 86_400, description: 'Lifetime in seconds (default 900)' }),
    ),
  },
  { additionalProperties: false },
);

export const MintTokenResult = Type.Object({ accessToken: Type.String(), expiresIn: Type.Integer() });

/** `GET /v1/users?username=` — an exact username of the caller's tenant. */
export const UserLookupQuery = Type.Object(
  { username: Type.String({ pattern: USERNAME_PATTERN, description: 'The exact username (3..32 of [a-z0-9_.-])' }) },
  { additionalProperties: false },
);

/** The users holding a looked-up username: none or one. */
export const UserList = Type.Object({ items: Type.Array(User, { maxItems: 1 }) });
