/**
 * Copies the Redis Lua scripts (src/engine/redis/lua/) to dist/engine/redis/lua/, beside the
 * compiled scripts.js that loads them: tsc copies no .lua files, and a runtime image ships dist/
 * without src/. The copy replaces the folder, so a script deleted or renamed in src/ does not
 * linger in dist/.
 *
 * Run by the server package's `build` script after tsc; the test setup runs it too, so tests that
 * start `node dist/main.js` never load scripts older than src/.
 */
import { cpSync, existsSync, rmSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The same from src/scripts/ (tests) and dist/scripts/ (the build): both sit two levels below the package.
const SOURCE = new URL('../../src/engine/redis/lua/', import.meta.url);
const TARGET = new URL('../../dist/engine/redis/lua/', import.meta.url);

/** Replaces dist/engine/redis/lua/ with a copy of src/engine/redis/lua/; returns the target folder. */
export function copyLuaScripts(): string {
  if (!existsSync(SOURCE)) throw new Error(`no Lua scripts at ${fileURLToPath(SOURCE)}`);
  rmSync(TARGET, { recursive: true, force: true });
  cpSync(SOURCE, TARGET, { recursive: true });
  return fileURLToPath(TARGET);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`copied the Lua scripts to ${copyLuaScripts()}`);
}
