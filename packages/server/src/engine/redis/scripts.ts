/**
 * Loads the Lua scripts of lua/ and runs them by name.
 *
 * Each call sends EVALSHA and, on NOSCRIPT, repeats itself once as EVAL (which also caches the
 * script), so scripts survive SCRIPT FLUSH, restarts and failovers without a load step.
 *
 * Not ioredis `defineCommand`: every command it defines is copied onto each Pipeline the client
 * makes (Pipeline's constructor walks the client's scriptsSet), and auto-pipelining makes one per
 * flush, so ~100 script commands were copied several times per send (about 4% of the send path's
 * CPU, by profile). EVALSHA's key positions are known to ioredis, so Cluster auto-pipelining
 * still routes each call by its first key.
 *
 * Shared Lua: a line `--#include <name>` in a script is replaced by lua/lib/<name>.lua, so code
 * several scripts need (the event log) is written once. Only whole lines are replaced, and a
 * library uses no KEYS or ARGV itself, so each script's header still states all it takes.
 *
 * Where the .lua files are: always in lua/ beside this module. tsc does not copy them, so the
 * server package's build copies src/engine/redis/lua/ to dist/engine/redis/lua/
 * (src/scripts/copy-lua.ts); dist/ alone is then a complete server, as the container image ships it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';

/**
 * Every script with the number(s) of keys it is called with: a call with another count is a
 * caller bug, refused before anything is sent.
 */
const SCRIPT_KEY_COUNTS = {
  'api-key-create': [2],
  'api-key-get': [2],
  'api-key-list': [3],
  'api-key-revoke': [3],
  'api-key-touch': [2],
  'conversation-create': [5],
  'conversation-get': [5],
  'conversation-update': [3],
  'direct-claim': [4],
  'event-read': [1],
  'identity-provider-delete': [4],
  'identity-provider-put': [4],
  'inbox-append': [2],
  'member-add': [6],
  'member-page': [2],
  'member-remove': [5, 7],
  'member-set-role': [4],
  'message-append': [8, 9, 10],
  'message-delete': [6],
  'message-edit': [6],
  'message-get': [3],
  'message-history': [3],
  'presence-connect': [1],
  'presence-disconnect': [1],
  'presence-drop-node': [1],
  'presence-node-claim': [1],
  'rate-limit-consume': [1],
  'rate-limit-refund': [1],
  'reaction-set': [7],
  'moderation-page': [2],
  'moderation-set': [3, 4],
  'read-mark': [4],
  'refresh-create': [1],
  'refresh-index-add': [1],
  'refresh-index-touch': [1],
  'refresh-rotate': [1],
  'signing-issuer-ensure': [1],
  'signing-key-ensure': [2],
  'signing-key-rotate': [3],
  'signing-keys-list': [3],
  'tenant-create': [2],
  'user-conversations-add': [2],
  'user-conversations-page': [2],
  'user-delete': [4],
  'user-password-replace': [1],
  'user-ensure-external': [3],
  'user-register': [2],
  'user-update': [1],
  'user-upsert': [1],
  'webhook-backlog': [11],
  'webhook-create': [11],
  'webhook-delete': [11],
  'webhook-deliveries': [11],
  'webhook-enqueue': [11],
  'webhook-lease': [11],
  'webhook-reclaim': [11],
  'webhook-release': [11],
  'webhook-outbox-ack': [1],
  'webhook-outbox-lock': [1],
  'webhook-retry': [11],
  'webhook-route': [1],
  'webhook-settle': [11],
  'webhook-take': [11],
  'webhook-update': [11],
} as const satisfies Record<string, readonly number[]>;

export const SCRIPT_NAMES = Object.keys(SCRIPT_KEY_COUNTS) as readonly ScriptName[];

export type ScriptName = keyof typeof SCRIPT_KEY_COUNTS;

/** What a script may answer, as ioredis hands it over (Lua false/nil arrive as null). */
export type Reply = string | number | null | Reply[];

const LUA_DIRECTORY = new URL('./lua/', import.meta.url);

function luaDirectory(): URL {
  if (existsSync(new URL('message-append.lua', LUA_DIRECTORY))) return LUA_DIRECTORY;
  throw new Error(
    `Parley's Redis Lua scripts were not found in ${fileURLToPath(LUA_DIRECTORY)}: build with \`npm run build\`, which copies them there`,
  );
}

let cachedSources: ReadonlyMap<ScriptName, string> | undefined;

const INCLUDE_LINE = /^--#include ([a-z-]+)$/gm;

/** Pastes each `--#include <lib>` (libraries may include others); a library already pasted is not pasted again. */
function expandIncludes(source: string, directory: URL, included = new Set<string>()): string {
  return source.replace(INCLUDE_LINE, (_, library: string) => {
    if (included.has(library)) return `-- (${library} included above)`;
    included.add(library);
    return expandIncludes(readFileSync(new URL(`lib/${library}.lua`, directory), 'utf8').trimEnd(), directory, included);
  });
}

/** The script sources, includes expanded, read once per process. */
export function loadScriptSources(): ReadonlyMap<ScriptName, string> {
  if (!cachedSources) {
    const directory = luaDirectory();
    cachedSources = new Map(SCRIPT_NAMES.map((name) => [name, expandIncludes(readFileSync(new URL(`${name}.lua`, directory), 'utf8'), directory)]));
  }
  return cachedSources;
}

interface LoadedScript {
  lua: string;
  sha: string;
  keyCounts: readonly number[];
}

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith('NOSCRIPT');

export class Scripts {
  private readonly scripts = new Map<ScriptName, LoadedScript>();

  constructor(private readonly client: Redis | Cluster) {
    const sources = loadScriptSources();
    for (const name of SCRIPT_NAMES) {
      const lua = sources.get(name);
      if (lua === undefined) throw new Error(`missing script ${name}`);
      this.scripts.set(name, { lua, sha: createHash('sha1').update(lua).digest('hex'), keyCounts: SCRIPT_KEY_COUNTS[name] });
    }
  }

  /** Runs the script; every key must share one hash tag (one Cluster slot). */
  async run(name: ScriptName, keys: readonly string[], args: readonly (string | number)[] = []): Promise<Reply> {
    const script = this.scripts.get(name);
    if (!script || !script.keyCounts.includes(keys.length)) throw new Error(`script ${name} is not called with ${keys.length} keys`);
    try {
      return (await this.client.evalsha(script.sha, keys.length, ...keys, ...args)) as Reply;
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return (await this.client.eval(script.lua, keys.length, ...keys, ...args)) as Reply;
    }
  }
}
