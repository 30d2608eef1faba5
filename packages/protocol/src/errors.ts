/**
 * Stable machine-readable error codes of the v1 API, with the HTTP status each maps to.
 * Codes are part of the frozen contract: add new ones, never rename or remove one.
 */
export const ERROR_CODES = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  malformed_json: { status: 400, title: 'The request body is not valid JSON' },
  invalid_cursor: { status: 400, title: 'The cursor is not valid' },
  bad_url: { status: 400, title: 'The request URL is not valid' },
  url_not_allowed: { status: 400, title: 'Parley does not call this URL' },
  identity_provider_unreachable: { status: 400, title: "The identity provider's metadata could not be fetched" },
  unauthorized: { status: 401, title: 'Authentication is required' },
  invalid_token: { status: 401, title: 'The token is not valid' },
  invalid_credentials: { status: 401, title: 'Wrong username or password' },
  invalid_refresh_token: { status: 401, title: 'The refresh token is not valid' },
  forbidden: { status: 403, title: 'Not allowed' },
  blocked: { status: 403, title: 'The other user does not accept this' },
  muted: { status: 403, title: 'You are muted in this conversation' },
  banned: { status: 403, title: 'The user is banned from this conversation' },
  not_found: { status: 404, title: 'Not found' },
  tenant_not_found: { status: 404, title: 'No such tenant' },
  user_not_found: { status: 404, title: 'No such user' },
  conversation_not_found: { status: 404, title: 'No such conversation' },
  message_not_found: { status: 404, title: 'No such message' },
  member_not_found: { status: 404, title: 'No such member' },
  identity_provider_not_found: { status: 404, title: 'No such identity provider' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  username_taken: { status: 409, title: 'The username is taken' },
  tenant_exists: { status: 409, title: 'The tenant exists already' },
  message_deleted: { status: 409, title: 'The message was deleted' },
  too_many_members: { status: 409, title: 'The conversation would exceed its member limit' },
  too_many_reactions: { status: 409, title: 'The message has too many reactions' },
  identity_provider_conflict: { status: 409, title: 'Another identity provider has this issuer and audience' },
  too_many_identity_providers: { status: 409, title: 'The tenant has as many identity providers as it may' },
  too_many_conversations: { status: 409, title: 'A user would exceed their conversation limit' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  upgrade_required: { status: 426, title: 'Use a WebSocket upgrade for this endpoint' },
  unsupported_media_type: { status: 415, title: 'The request body must be application/json' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal_error: { status: 500, title: 'Internal error' },
  storage_unavailable: { status: 503, title: 'Storage is unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
