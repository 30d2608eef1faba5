/**
 * @packageDocumentation
 * Parley's TypeScript SDK: a typed REST client for every v1 operation, authentication for the
 * built-in provider, external providers and server keys, a realtime connection that resumes
 * without gaps or duplicates, an offline send queue and a local store. Runs in Node 20+ and in
 * browsers (no Node-only APIs).
 */
// --- realtime ---
export * from './realtime/index.js';
export * from './offline-queue/index.js';
export * from './store/index.js';
// --- end realtime ---
