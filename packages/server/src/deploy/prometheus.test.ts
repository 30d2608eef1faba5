/**
 * deploy/prometheus and deploy/grafana checked against the real thing:
 *   1. `promtool check rules` and `promtool test rules` (the alerts' unit tests);
 *   2. a real Prometheus (started here on a loopback port, scraping every second, with rules.yml
 *      loaded) scrapes two `node dist/main.js` processes on one Redis under a little traffic
 *      (sends, a WebSocket and an SSE client on different nodes, a resume, refused credentials,
 *      readiness probes), and then every PromQL expression of the dashboard and of the rules is
 *      evaluated through its HTTP API (/api/v1/query): each must parse and return at least one
 *      series, and so must every metric name they mention. A metric renamed in code fails here.
 *
 * How expressions are evaluated: the dashboard's Grafana variables are substituted (`$job` and
 * `$instance` by `.*` — their "All" value — and `$__rate_interval` by 15s, which holds many
 * samples at a 1 s scrape); a template variable's `label_values(<selector>, <label>)` is checked
 * as the query `<selector>`. A recording rule is evaluated as written, and its recorded series
 * must exist too (Prometheus evaluated it). An alert must parse as written (firing is not
 * expected here), and its expression without the final threshold comparison must return a series.
 * The rules' 5-minute windows need no change: rate() needs only two samples inside its window.
 *
 * Needs Debian's `prometheus` package (`prometheus` and `promtool`; `.ci/run` installs it when
 * missing) and the build (`npm test` runs it first); without the tools the suite is skipped and
 * its name says why.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../test-support/ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createApiClient } from '../test-support/api-client.js';
import { createTestTenant, openDirect, sendMessage } from '../test-support/conversations.js';
import { connectRealtime, type RealtimeClient } from '../test-support/realtime-client.js';
import { connectSse, type SseClient } from '../test-support/realtime-fixtures.js';
import { TEST_REDIS_URL, createTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from '../test-support/redis.js';
import { startServerProcess, type ServerProcess } from '../test-support/server-process.js';
import { ADMIN_KEY } from '../test-support/server.js';

const PROMETHEUS_DIR = fileURLToPath(new URL('../../../../deploy/prometheus/', import.meta.url));
const RULES = join(PROMETHEUS_DIR, 'rules.yml');
const DASHBOARD = fileURLToPath(new URL('../../../../deploy/grafana/parley.json', import.meta.url));

/** Why the suite cannot run here, or null when promtool and prometheus are installed. */
function missingTools(): string | null {
  for (const tool of ['promtool', 'prometheus']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (apt-get install prometheus)`;
    }
  }
  return null;
}
const missing = missingTools();

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
}

function rulesOf(): Rule[] {
  const document = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] };
  return document.groups.flatMap((group) => group.rules);
}

/** The dashboard's queries as Prometheus can run them (see the header for the substitutions). */
function dashboardQueries(): { where: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
    templating: { list: { name: string; type: string; query: string | { query: string } }[] };
  };
  const substitute = (expr: string) => expr.replaceAll('$__rate_interval', '15s').replaceAll('$job', '.*').replaceAll('$instance', '.*');
  const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: substitute(target.expr) })));
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'query') continue;
    const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
    const selector = /^label_values\((.*),\s*[a-zA-Z_]+\)$/.exec(query)?.[1];
    if (!selector) throw new Error(`variable ${variable.name}: not label_values(<selector>, <label>): ${query}`);
    queries.push({ where: `variable $${variable.name}`, expr: substitute(selector) });
  }
  return queries;
}

/** Metric names an expression mentions: Parley's (`parley_...`) and recorded ones (`job:parley_...`). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/(?<![a-zA-Z0-9_:"])((?:[a-z_]+:)?parley_[a-zA-Z0-9_]+(?::[a-zA-Z0-9_]+)*)/g)].map((match) => match[1]!);
}

/** Polls `check` every 250 ms until it holds; throws after `timeoutMs`. */
async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe.skipIf(missing !== null)(`Prometheus rules and Grafana dashboard${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('promtool accepts the rules and their unit tests pass', () => {
    expect(execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' })).toMatch(/SUCCESS: \d+ rules found/);
    expect(execFileSync('promtool', ['test', 'rules', 'rules.test.yml'], { cwd: PROMETHEUS_DIR, encoding: 'utf8' })).toContain('SUCCESS');
    // Every alert has a unit test.
    const tested = readFileSync(join(PROMETHEUS_DIR, 'rules.test.yml'), 'utf8');
    for (const rule of rulesOf()) if (rule.alert) expect(tested, `a unit test of ${rule.alert}`).toContain(`alertname: ${rule.alert}`);
  });

  describe('against a real Prometheus scraping two Parley processes', () => {
    const keyPrefix = uniqueKeyPrefix();
    const nodes: ServerProcess[] = [];
    const sockets: RealtimeClient[] = [];
    let stream: SseClient | undefined;
    let prometheus: ChildProcess | undefined;
    let prometheusUrl = '';
    let dataDir = '';
    let traffic: NodeJS.Timeout | undefined;
    process.once('exit', () => {
      for (const node of nodes) node.child.kill('SIGKILL');
      prometheus?.kill('SIGKILL');
    });

    const query = async (expr: string): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> => {
      const response = await fetch(`${prometheusUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      return (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    };
    const seriesOf = async (expr: string) => (await query(expr)).data?.result.length ?? 0;

    beforeAll(async () => {
      const env = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: keyPrefix, PUBLIC_URL: 'http://parley.test', PARLEY_ADMIN_KEY: ADMIN_KEY };
      nodes.push(...(await Promise.all([startServerProcess(env), startServerProcess(env)])));
      const [nodeA, nodeB] = nodes as [ServerProcess, ServerProcess];

      dataDir = mkdtempSync(join(tmpdir(), 'parley-prometheus-'));
      const port = await freePort();
      prometheusUrl = `http://127.0.0.1:${port}`;
      const config = join(dataDir, 'prometheus.yml');
      writeFileSync(
        config,
        JSON.stringify({
          global: { scrape_interval: '1s', evaluation_interval: '1s' },
          rule_files: [RULES],
          scrape_configs: [{ job_name: 'parley', static_configs: [{ targets: nodes.map((node) => new URL(node.url).host) }] }],
        }),
      );
      prometheus = spawn(
        'prometheus',
        [`--config.file=${config}`, `--storage.tsdb.path=${join(dataDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
        { stdio: 'ignore' },
      );

      // A little traffic: users on node A, a WebSocket on node B and SSE on node A, sends through A.
      const apiA = createApiClient(nodeA.url);
      const apiB = createApiClient(nodeB.url);
      const tenant = await createTestTenant(apiA);
      const [alice, bob] = await tenant.users(['prom-alice', 'prom-bob']);
      const bobSocket = await connectRealtime(nodeB.url, { token: bob!.token });
      sockets.push(bobSocket);
      await bobSocket.waitFor((frame) => frame.type === 'ready');
      stream = await connectSse(nodeA.url, { token: alice!.token });
      await stream.waitFor((event) => event.data?.type === 'ready');
      const conversation = await openDirect(apiA, alice!.token, bob!.id);
      const message = await sendMessage(apiA, alice!.token, conversation.id, 'first');
      await bobSocket.waitFor((frame) => frame.type === 'message.created' && frame.message?.id === message.id);
      const resumed = await connectRealtime(nodeA.url, { token: bob!.token, cursor: 'not-a-cursor' });
      sockets.push(resumed);
      await resumed.waitFor((frame) => frame.type === 'resync.required');
      const refused = await apiB.get('/v1/users/me', 'not-a-token');
      if (refused.status !== 401) throw new Error(`a bad token got ${refused.status}`);
      // Until the end: a send and readiness probes every 300 ms, so every rate has something to count.
      let sent = 0;
      traffic = setInterval(() => {
        void sendMessage(apiA, alice!.token, conversation.id, `tick ${++sent}`).catch(() => undefined);
        for (const api of [apiA, apiB]) void api.get('/health/ready').catch(() => undefined);
      }, 300);

      // Samples from both processes, and the rules evaluated over them.
      await waitUntil('Prometheus ready', async () => (await fetch(`${prometheusUrl}/-/ready`).catch(() => null))?.status === 200);
      await waitUntil('both processes scraped', async () => (await seriesOf('parley_messages_accepted_total')) === 2);
      await waitUntil('the rules evaluated', async () => (await seriesOf('job:parley_delivery_latency_seconds:p99_5m')) === 1);
      // A 15 s window holding several samples of every series.
      await new Promise((resolve) => setTimeout(resolve, 4000));
    }, 60_000);

    afterAll(async () => {
      clearInterval(traffic);
      for (const socket of sockets) socket.socket.terminate();
      await stream?.close();
      prometheus?.kill('SIGTERM');
      await Promise.all(nodes.map((node) => node.stop('SIGTERM')));
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      const redis = createTestRedis();
      try {
        await deleteKeysWithPrefix(redis, keyPrefix);
      } finally {
        redis.disconnect();
      }
    });

    it('scrapes both processes', async () => {
      expect(await seriesOf('up{job="parley"} == 1')).toBe(2);
    });

    it('answers every dashboard query with at least one series', async () => {
      const empty: string[] = [];
      for (const { where, expr } of dashboardQueries()) {
        const answer = await query(expr);
        expect(answer.status, `${where}: ${expr}: ${answer.error ?? ''}`).toBe('success');
        if ((answer.data?.result.length ?? 0) === 0) empty.push(`${where}: ${expr}`);
        for (const name of metricNames(expr)) if ((await seriesOf(name)) === 0) empty.push(`${where}: metric ${name}`);
      }
      expect(empty).toEqual([]);
    });

    it('answers every rule expression with at least one series', async () => {
      const empty: string[] = [];
      for (const rule of rulesOf()) {
        const name = rule.record ?? rule.alert!;
        const answer = await query(rule.expr);
        expect(answer.status, `${name}: ${answer.error ?? ''}`).toBe('success');
        // An alert without its threshold (`<expr> > 0.05`): the quantity it watches.
        const watched = rule.alert ? rule.expr.replace(/\s*(?:>=|<=|==|!=|>|<)\s*[0-9.e+-]+\s*$/, '') : rule.expr;
        if (rule.alert) expect(watched, `${name} ends with a threshold`).not.toBe(rule.expr);
        if ((await seriesOf(watched)) === 0) empty.push(`${name}: ${watched}`);
        if (rule.record && (await seriesOf(rule.record)) === 0) empty.push(`recorded series ${rule.record}`);
        for (const metric of metricNames(rule.expr)) if ((await seriesOf(metric)) === 0) empty.push(`${name}: metric ${metric}`);
      }
      expect(empty).toEqual([]);
    });
  });
});
