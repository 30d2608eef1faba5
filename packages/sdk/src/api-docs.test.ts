/**
 * The SDK's API reference builds: `npm run docs:sdk` (TypeDoc over the doc comments) with its
 * validation treated as errors, so an exported type referring to one that is not exported, or a
 * broken {@link}, fails here rather than in the reference.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

it('builds the API reference with TypeDoc: no error, no warning', async () => {
  const out = await mkdtemp(join(tmpdir(), 'parley-sdk-docs-'));
  try {
    const typedoc = join(ROOT, 'node_modules/typedoc/bin/typedoc');
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [typedoc, '--options', 'packages/sdk/typedoc.json', '--out', out], { cwd: ROOT });
    expect(`${stdout}${stderr}`).not.toMatch(/\[(warning|error)\]/);
    expect(await readdir(out)).toEqual(expect.arrayContaining(['index.html', 'functions', 'classes']));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}, 120_000);
