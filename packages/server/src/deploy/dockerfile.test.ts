/**
 * The container image, checked without a Docker engine: the Dockerfile read instruction by
 * instruction (stages, non-root numeric user, HOST, port, stop signal, exec-form CMD and health
 * check), what it copies (present in the build context, not dropped by .dockerignore, and, from
 * the build stage, present after `npm run build`, Lua scripts included), and the runtime layout
 * itself: dist/ copied without src/, started from another directory, serving Redis-backed
 * requests, and stopping cleanly on the image's stop signal. The health check command is run
 * against a live server.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../config.js';
import { createParley, type Parley } from '../parley.js';
import { SCRIPT_NAMES } from '../engine/redis/scripts.js';
import { TEST_REDIS_URL, createTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from '../test-support/redis.js';
import { startServerProcess } from '../test-support/server-process.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
/** The image's WORKDIR holds what the repository root holds. */
const WORKDIR = '/app';

interface Instruction {
  keyword: string;
  args: string;
  stage: string;
}

/** The Dockerfile's instructions, continuation lines joined, comments and the parser directive dropped. */
function readDockerfile(): Instruction[] {
  const lines = readFileSync(join(REPO, 'Dockerfile'), 'utf8')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  const instructions: Instruction[] = [];
  let stage = '';
  for (const line of joined.split('\n')) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const keyword = match[1]!.toUpperCase();
    const args = match[2]!.trim();
    if (keyword === 'FROM') stage = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? `stage${instructions.length}`;
    instructions.push({ keyword, args, stage });
  }
  return instructions;
}

/** .dockerignore as Docker applies it to a path of the context (no `!` exceptions are used). */
function dockerIgnored(path: string): boolean {
  const patterns = readFileSync(join(REPO, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  expect(patterns.some((pattern) => pattern.startsWith('!'))).toBe(false);
  const regexes = patterns.map(
    (pattern) =>
      new RegExp(
        `^${pattern
          .replace(/[.+^${}()|[\]]/g, '\\$&')
          .replace(/\*\*\//g, '\0')
          .replace(/\*/g, '[^/]*')
          .replace(/\0/g, '(.*/)?')}(/.*)?$`,
      ),
  );
  const clean = path.replace(/^\.\//, '').replace(/\/$/, '');
  return regexes.some((regex) => regex.test(clean));
}

const instructions = readDockerfile();
const stages = [...new Set(instructions.map((instruction) => instruction.stage))];
const runtime = instructions.filter((instruction) => instruction.stage === stages.at(-1));
const inRuntime = (keyword: string) => runtime.filter((instruction) => instruction.keyword === keyword);

describe('Dockerfile', () => {
  it('builds in a stage with dev dependencies and runs in one with production dependencies only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = instructions.filter((instruction) => instruction.stage === 'build');
    expect(build.some((i) => i.keyword === 'RUN' && /npm ci\b/.test(i.args) && !/--omit/.test(i.args))).toBe(true);
    expect(build.some((i) => i.keyword === 'RUN' && /npm run build\b/.test(i.args))).toBe(true);
    expect(inRuntime('RUN').some((i) => /npm ci\b.*--omit=dev/.test(i.args))).toBe(true);
    expect(inRuntime('RUN').some((i) => /npm run build|tsc/.test(i.args))).toBe(false);
  });

  it('runs as a numeric non-root user, the one the Kubernetes Deployment names', () => {
    const user = inRuntime('USER').at(-1)?.args ?? '';
    const [uid, gid] = user.split(':').map(Number);
    expect(uid, `USER ${user}`).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    const deployment = parse(readFileSync(join(REPO, 'deploy/k8s/base/deployment.yaml'), 'utf8'));
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsUser: uid, runAsGroup: gid, runAsNonRoot: true });
  });

  it('listens on all interfaces at the port it exposes, and stops on SIGTERM as node itself (exec-form CMD)', () => {
    const env = inRuntime('ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
    const port = Number(/\bPORT=(\d+)/.exec(env)?.[1] ?? loadConfig({}).port);
    expect(inRuntime('EXPOSE').map((i) => i.args)).toEqual([String(port)]);
    expect(inRuntime('STOPSIGNAL').map((i) => i.args)).toEqual(['SIGTERM']);
    const cmd = JSON.parse(inRuntime('CMD').at(-1)!.args) as string[];
    expect(cmd[0]).toBe('node');
    expect(inRuntime('ENTRYPOINT')).toEqual([]);
    const workdir = inRuntime('WORKDIR').at(-1)!.args;
    expect(workdir).toBe(WORKDIR);
    expect(existsSync(join(REPO, cmd[1]!)), `${cmd[1]} after the build`).toBe(true);
  });

  it('copies from the build context only files that are there and that .dockerignore keeps', () => {
    const fromContext = instructions.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'));
    expect(fromContext.length).toBeGreaterThan(3);
    for (const copy of fromContext) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) {
        expect(existsSync(join(REPO, source)), source).toBe(true);
        expect(dockerIgnored(source), source).toBe(false);
      }
    }
    for (const ignored of ['node_modules', 'packages/server/dist', 'packages/server/node_modules', '.git', '.env']) {
      expect(dockerIgnored(ignored), ignored).toBe(true);
    }
    expect(dockerIgnored('packages/server/src/engine/redis/lua/message-append.lua')).toBe(false);
  });

  it('ships the compiled server with its Lua scripts and the built web client from the build stage', () => {
    const fromBuild = runtime.filter((i) => i.keyword === 'COPY' && i.args.startsWith('--from=build'));
    const sources = fromBuild.map((copy) => copy.args.split(/\s+/)[1]!);
    expect(sources.sort()).toEqual([`${WORKDIR}/apps/web/dist/`, `${WORKDIR}/packages/protocol/dist/`, `${WORKDIR}/packages/server/dist/`]);
    // Each lands where it was built: the server finds the web client beside itself (WEB_APP_DIR's default).
    for (const copy of fromBuild) expect(copy.args.split(/\s+/)[2], copy.args).toBe(copy.args.split(/\s+/)[1]!.slice(WORKDIR.length + 1));
    for (const source of sources) expect(existsSync(join(REPO, source.slice(WORKDIR.length))), source).toBe(true);
    // `npm run build` (the build stage's) copies the scripts into dist; every script is there.
    const server = JSON.parse(readFileSync(join(REPO, 'packages/server/package.json'), 'utf8')) as { scripts: { build: string } };
    expect(server.scripts.build).toMatch(/copy-lua/);
    const lua = join(REPO, 'packages/server/dist/engine/redis/lua');
    for (const name of SCRIPT_NAMES) expect(existsSync(join(lua, `${name}.lua`)), name).toBe(true);
  });

  describe('the HEALTHCHECK command', () => {
    let parley: Parley;
    let port: number;
    const healthcheck = () => {
      const check = inRuntime('HEALTHCHECK').at(-1)!.args;
      const command = JSON.parse(/\bCMD\s+(\[.*\])$/.exec(check)![1]!) as string[];
      expect(command.slice(0, 2)).toEqual(['node', '-e']);
      expect(command[2]).toContain('/health/live');
      return command;
    };
    const run = (envPort: number) =>
      promisify(execFile)(process.execPath, healthcheck().slice(1), { env: { PATH: process.env.PATH ?? '', PORT: String(envPort) } }).then(
        () => 0,
        (error: { code?: number }) => error.code ?? -1,
      );

    beforeAll(async () => {
      parley = await createParley(loadConfig({ LOG_LEVEL: 'silent' }), { passwordCost: 'test' });
      port = Number(new URL(await parley.listen(0, '127.0.0.1')).port);
    });
    afterAll(async () => {
      await parley.shutdown();
    });

    it('passes against a live server and fails where none listens', async () => {
      expect(await run(port)).toBe(0);
      await parley.shutdown();
      expect(await run(port)).toBe(1);
    });
  });
});

describe('the runtime layout (dist without src, started elsewhere)', () => {
  const keyPrefix = uniqueKeyPrefix();
  let folder: string;

  beforeAll(() => {
    // What the runtime stage holds: package manifests, dist/ folders and node_modules, no src/.
    folder = mkdtempSync(join(tmpdir(), 'parley-image-'));
    for (const name of ['protocol', 'server']) {
      cpSync(join(REPO, `packages/${name}/package.json`), join(folder, `packages/${name}/package.json`));
      cpSync(join(REPO, `packages/${name}/dist`), join(folder, `packages/${name}/dist`), { recursive: true });
    }
    cpSync(join(REPO, 'apps/web/dist'), join(folder, 'apps/web/dist'), { recursive: true });
    symlinkSync(join(REPO, 'node_modules'), join(folder, 'node_modules'), 'dir');
  });
  afterAll(async () => {
    rmSync(folder, { recursive: true, force: true });
    const redis = createTestRedis();
    await deleteKeysWithPrefix(redis, keyPrefix);
    await redis.quit();
  });

  it('serves Redis-backed requests with the Lua scripts of its dist/, and exits 0 on SIGTERM', async () => {
    expect(existsSync(join(folder, 'packages/server/src'))).toBe(false);
    const server = await startServerProcess(
      { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: keyPrefix, HOST: '127.0.0.1', PUBLIC_URL: 'http://parley.test' },
      20_000,
      { mainJs: join(folder, 'packages/server/dist/main.js'), cwd: tmpdir() },
    );
    try {
      expect((await fetch(`${server.url}/health/ready`)).status).toBe(200);
      // The web client beside it is served at /.
      const page = await fetch(`${server.url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="app">');
      // Registration runs the user-register script: it must come from the copied dist/.
      const registered = await fetch(`${server.url}/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'imagecheck', password: 'correct horse battery' }),
      });
      expect(registered.status).toBe(201);
      const info = (await (await fetch(`${server.url}/info`)).json()) as { engine: string; version: string };
      expect(info.engine).toBe('redis');
      expect(info.version).toBe(JSON.parse(readFileSync(join(REPO, 'packages/server/package.json'), 'utf8')).version);
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }
  });
});
