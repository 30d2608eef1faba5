export * from './errors.js';
export * from './schemas/common.js';
export * from './schemas/identity.js';
export * from './schemas/identity-providers.js';
export * from './schemas/users.js';
export * from './schemas/conversations.js';
export * from './schemas/messages.js';
export * from './schemas/moderation.js';
