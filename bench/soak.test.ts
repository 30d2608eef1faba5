/**
 * The soak script, end to end, so it never rots: `node …/soak/main.js --smoke --chart FILE` as
 * `npm run soak -- --smoke` runs it — two Parley nodes on a private redis-server under the mixed
 * load for 30 s (sends, typing, read receipts, drops and resumes on the other node, a webhook), on
 * processes it starts and stops itself. Checked is what a reader of its output relies on: sample
 * lines with a reading of every node and of Redis, a summary whose growth figures are numbers and
 * whose correctness counters add up (every acknowledged message delivered once to each member, no
 * gap after a resume), and a well-formed chart. The figures themselves mean nothing at this length.
 *
 * The script is compiled into its own directory (two levels below the repository root, as
 * bench/dist is, so its paths to the server hold): `bench/smoke.test.ts` recompiles bench/dist at
 * the same time, and a module read while tsc rewrites it would fail the run for no reason.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runNode, stopChildren, type Finished } from './run-node.js';

const TSC = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
const OUT = join(ROOT, 'node_modules', '.parley-soak-test');
const SERVER = fileURLToPath(new URL('../packages/server/dist/main.js', import.meta.url));


const NODES = ['parley-a', 'parley-b'];

describe('npm run soak -- --smoke', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'parley-soak-smoke-'));
  const chart = join(scratch, 'soak.svg');
  let lines: Record<string, any>[] = [];
  let finished: Finished;

  beforeAll(async () => {
    if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run \`npm run build\` first (npm test does)`);
    const compiled = await runNode([TSC, '-p', 'bench', '--outDir', OUT], 60_000);
    if (compiled.code !== 0) throw new Error(`tsc -p bench failed:\n${compiled.stdout}${compiled.stderr}`);
    finished = await runNode([join(OUT, 'soak', 'main.js'), '--smoke', '--chart', chart], 100_000);
    lines = finished.stdout
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Record<string, any>);
  }, 170_000);

  afterAll(() => {
    stopChildren();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(OUT, { recursive: true, force: true });
  });

  it('exits 0 after a start line', () => {
    expect(finished.code, finished.stderr).toBe(0);
    expect(lines[0]).toMatchObject({ kind: 'soak-start', smoke: true, users: 20, rate: 10, minutes: 0.5 });
  });

  it('writes a sample line about every second with a reading of each node and of Redis', () => {
    const samples = lines.filter((line) => line.kind === 'sample');
    // 30 s at one a second, the first at 0 s; a loaded machine may miss one.
    expect(samples.length).toBeGreaterThanOrEqual(25);
    for (const sample of samples) {
      for (const name of NODES) {
        const node = sample.nodes[name];
        for (const field of ['rssBytes', 'heapUsedBytes', 'openFds']) expect(node[field], `${name} ${field}`).toBeGreaterThan(0);
        for (const field of ['eventLoopLagP99Ms', 'realtimeConnections']) expect(node[field], `${name} ${field}`).toBeGreaterThanOrEqual(0);
      }
      expect(sample.redisUsedMemoryBytes).toBeGreaterThan(0);
      expect(sample.counters.acknowledged).toBeLessThanOrEqual(sample.counters.sent);
    }
    // The clients are split over the nodes: every one is open on one of them at the start.
    expect(NODES.reduce((sum, name) => sum + samples[0]!.nodes[name].realtimeConnections, 0)).toBe(20);
    const atS = samples.map((sample) => sample.atS as number);
    expect(atS).toEqual([...atS].sort((a, b) => a - b));
  });

  it('ends with a summary: growth per node as numbers, every guarantee held, the counters consistent', () => {
    const summaries = lines.filter((line) => line.kind === 'summary');
    expect(summaries).toHaveLength(1);
    const summary = summaries[0]!;
    expect(summary).toMatchObject({ ok: true, sampleFailures: 0 });
    expect(summary.samplesFitted).toBeGreaterThan(1);
    for (const name of NODES) {
      for (const field of ['rssGrowthPctPerHour', 'heapGrowthPctPerHour', 'rssBytesAfterWarmup', 'maxEventLoopLagP99Ms', 'maxOpenFds']) {
        expect(Number.isFinite(summary.nodes[name][field]), `${name} ${field}`).toBe(true);
      }
    }
    expect(Number.isFinite(summary.maxRssGrowthPctPerHour)).toBe(true);
    expect(Number.isFinite(summary.redis.usedMemoryGrowthPctPerHour)).toBe(true);
    const c = summary.correctness;
    // 10 msgs/s for about 30 s (the load stops after the last sample): each one sent, or skipped if
    // 64 were still unanswered (none on a sound machine).
    expect(c.sent + c.skippedSends).toBeGreaterThanOrEqual(295);
    expect(c.sent + c.skippedSends).toBeLessThanOrEqual(310);
    expect(c.sent).toBeGreaterThan(250);
    expect(c.acknowledged).toBe(c.sent);
    expect(c.failedSends).toEqual({});
    expect(c).toMatchObject({ missing: 0, unacknowledgedReceived: 0, duplicates: 0, gapsAfterResume: 0, outOfOrder: 0, foreign: 0, resyncs: 0, resumeFailures: 0, webhooksMissing: 0 });
    // Each message reaches its direct pair (2) or its group (5), the sender's own sockets included.
    expect(c.expectedDeliveries).toBeGreaterThanOrEqual(2 * c.acknowledged);
    expect(c.expectedDeliveries).toBeLessThanOrEqual(5 * c.acknowledged);
    expect(c.delivered).toBe(c.expectedDeliveries);
    expect(c.messageFrames).toBe(c.delivered);
    // Drops every second, each resumed on the other node with its cursor.
    expect(c.drops).toBeGreaterThan(10);
    expect(c.resumes).toBe(c.drops);
    expect(c.webhooksDelivered).toBe(c.acknowledged);
    expect(c.typingSent).toBeGreaterThan(0);
    expect(c.typingReceived).toBeGreaterThan(0);
    expect(c.readsPosted).toBeGreaterThan(0);
    expect(c.readsFailed).toBe(0);
  });

  it('draws the chart: well-formed SVG with RSS and heap of each node and Redis memory, a dot per sample', () => {
    const svg = readFileSync(chart, 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    const open: string[] = [];
    for (const [, closing, name, selfClosing] of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
      if (closing) expect(open.pop()).toBe(name);
      else if (!selfClosing) open.push(name!);
    }
    expect(open).toEqual([]);
    const series = ['parley-a RSS', 'parley-b RSS', 'parley-a heap used', 'parley-b heap used', 'Redis used_memory'];
    expect([...svg.matchAll(/<g data-series="([^"]+)"/g)].map((match) => match[1])).toEqual(series);
    const samples = lines.filter((line) => line.kind === 'sample').length;
    expect(svg.match(/<circle /g)?.length).toBe(series.length * samples);
  });
});
