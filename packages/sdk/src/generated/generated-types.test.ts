/**
 * The committed types (src/generated/v1.ts) are what `npm run sdk:types` makes from the current
 * openapi/v1.json: the same generator, run here to stdout, must print the committed file byte
 * for byte. When the API changes, this fails until the types are regenerated and committed.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const COMMITTED = new URL('./v1.ts', import.meta.url);
/** The generator's CLI, as `npm run sdk:types` runs it (its package exports no path to it). */
const CLI = fileURLToPath(new URL('node_modules/openapi-typescript/bin/cli.js', `file://${ROOT}`));

describe('generated types', () => {
  it('match what openapi-typescript makes from openapi/v1.json (run `npm run sdk:types` when this fails)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'openapi/v1.json'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    const committed = await readFile(COMMITTED, 'utf8');
    expect(stdout.length).toBeGreaterThan(10_000);
    // Compared as one boolean: a diff of two 9,000-line files would bury the message above.
    expect(stdout === committed, 'src/generated/v1.ts is stale: run `npm run sdk:types` and commit the result').toBe(true);
  });
});
