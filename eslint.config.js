import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', 'packages/sdk/api-docs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // Type-aware rules. One program (tsconfig.test.json covers the packages, their tests and the
    // bench) instead of the project service: the project service only finds files listed by a
    // tsconfig.json, and the packages' own configs exclude their tests.
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { project: ['./tsconfig.test.json', './packages/sdk/tsconfig.test.json', './apps/web/tsconfig.json', './apps/web/tsconfig.e2e.json'], tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A rejected promise nobody handles ends the Node process (every socket of the node with
      // it). `void` does not count as handling: each promise is awaited or gets a rejection handler.
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false }],
      // An async function given where a callback's result is ignored (event handlers) floats too.
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['bench/**', '**/scripts/**', '**/e2e/**', '**/*.test.ts', '**/*.contract.ts', '**/test-support/**', '**/fuzz/**', '**/faults/**', '**/model/**'],
    // Tests read JSON responses as users do: untyped.
    rules: { 'no-console': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
