import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: { '@parley/protocol': fileURLToPath(new URL('./packages/protocol/src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/e2e/**/*.test.ts', 'bench/*.test.ts'],
    // Copies the Lua scripts into dist/ for the tests that run `node dist/main.js`.
    globalSetup: ['packages/server/src/test-support/lua-scripts-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Password hashing is memory-hard on purpose; keep parallelism modest on 2-core machines.
    maxWorkers: 2,
  },
});
