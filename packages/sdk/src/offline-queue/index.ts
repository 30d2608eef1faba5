export * from './storage.js';
export * from './offline-queue.js';
