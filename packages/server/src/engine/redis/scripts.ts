/**
 * Loads the Lua scripts of lua/ and runs them by name.
 *
 * Each script is registered with ioredis `defineCommand`, which sends EVALSHA and falls back to
 * EVAL on NOSCRIPT, so scripts survive SCRIPT FLUSH, restarts and failovers without a load step.
 *
 * Where the .lua files are: tsc compiles src/ to dist/ but does not copy them, so from
 * dist/engine/redis/ the scripts are read from the package's src/engine/redis/lua/. A runtime
 * image must therefore ship that folder (or a copy at dist/engine/redis/lua/, which wins).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';

export const SCRIPT_NAMES = [
  'conversation-create',
  'conversation-get',
  'conversation-update',
  'direct-claim',
  'member-add',
  'member-page',
  'member-remove',
  'member-set-role',
  'message-append',
  'message-delete',
  'message-edit',
  'message-get',
  'message-history',
  'reaction-set',
  'read-mark',
  'refresh-create',
  'refresh-rotate',
  'signing-key-ensure',
  'user-conversations-add',
  'user-conversations-page',
  'user-register',
  'user-update',
  'user-upsert',
] as const;

export type ScriptName = (typeof SCRIPT_NAMES)[number];

/** What a script may answer, as ioredis hands it over (Lua false/nil arrive as null). */
export type Reply = string | number | null | Reply[];

type ScriptCommand = (...args: (string | number)[]) => Promise<Reply>;

const LUA_DIRECTORY_CANDIDATES = [
  new URL('./lua/', import.meta.url), // running from src (vitest), or dist with copied scripts
  new URL('../../../src/engine/redis/lua/', import.meta.url), // running from dist
];

function luaDirectory(): URL {
  for (const candidate of LUA_DIRECTORY_CANDIDATES) {
    if (existsSync(new URL('message-append.lua', candidate))) return candidate;
  }
  const tried = LUA_DIRECTORY_CANDIDATES.map((candidate) => fileURLToPath(candidate)).join(', ');
  throw new Error(`Parley's Redis Lua scripts were not found (looked in ${tried})`);
}

let cachedSources: ReadonlyMap<ScriptName, string> | undefined;

/** The script sources, read once per process. */
export function loadScriptSources(): ReadonlyMap<ScriptName, string> {
  if (!cachedSources) {
    const directory = luaDirectory();
    cachedSources = new Map(SCRIPT_NAMES.map((name) => [name, readFileSync(new URL(`${name}.lua`, directory), 'utf8')]));
  }
  return cachedSources;
}

export class Scripts {
  private readonly sources = loadScriptSources();
  private readonly commands = new Map<string, ScriptCommand>();

  constructor(private readonly client: Redis | Cluster) {}

  /** Runs the script; every key must share one hash tag (one Cluster slot). */
  run(name: ScriptName, keys: readonly string[], args: readonly (string | number)[] = []): Promise<Reply> {
    return this.command(name, keys.length)(...keys, ...args);
  }

  /**
   * One ioredis command per (script, key count), defined on first use with a fixed numberOfKeys.
   * Why not one command with the key count as its first argument: ioredis auto-pipelining on
   * Cluster picks a command's node from its first argument, which must then be the first key.
   */
  private command(name: ScriptName, keyCount: number): ScriptCommand {
    const commandName = `parley:${name}:${keyCount}`;
    let command = this.commands.get(commandName);
    if (!command) {
      const lua = this.sources.get(name);
      if (lua === undefined) throw new Error(`unknown script ${name}`);
      this.client.defineCommand(commandName, { lua, numberOfKeys: keyCount });
      const defined = (this.client as unknown as Record<string, ScriptCommand | undefined>)[commandName];
      if (!defined) throw new Error(`ioredis did not define the script command ${commandName}`);
      command = defined.bind(this.client);
      this.commands.set(commandName, command);
    }
    return command;
  }
}
