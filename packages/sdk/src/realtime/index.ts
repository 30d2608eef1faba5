export * from './wire.js';
export * from './deps.js';
export * from './backoff.js';
export * from './sse-parser.js';
export type { TransportKind } from './transports.js';
export * from './connection.js';
export * from './rest-binding.js';
