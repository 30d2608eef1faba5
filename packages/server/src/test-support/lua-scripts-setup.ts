/**
 * Vitest global setup: refreshes the Lua scripts in dist/ before any test runs. Tests that start
 * `node dist/main.js` (server-process.ts) load the scripts from dist/engine/redis/lua/, and a
 * plain `tsc -b` does not copy them there; without this, such a test could run scripts older than
 * src/ after a Lua change. Nothing to do before the first build (those tests need one anyway).
 */
import { existsSync } from 'node:fs';
import { copyLuaScripts } from '../scripts/copy-lua.js';

export function setup(): void {
  if (existsSync(new URL('../../dist/', import.meta.url))) copyLuaScripts();
}
