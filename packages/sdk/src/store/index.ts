export * from './local-store.js';
