/**
 * The benchmark harness, end to end, so it never rots: `tsc -p bench`, then `node
 * bench/dist/main.js --smoke` exactly as `npm run bench -- --smoke` runs it — every workload and
 * every target once at tiny sizes, on the harness's own private redis-server and Parley processes
 * (it stops them itself; the test stops the harness if it overruns). What is checked is what a
 * reader of its output relies on: one result line per workload, target and run, every figure a
 * real number. The figures themselves mean nothing at these sizes and are not compared.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNode, stopChildren, type Finished } from './run-node.js';

const TSC = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
const HARNESS = fileURLToPath(new URL('./dist/main.js', import.meta.url));
const CHARTS = fileURLToPath(new URL('./dist/charts.js', import.meta.url));
const SERVER = fileURLToPath(new URL('../packages/server/dist/main.js', import.meta.url));


/** A figure a reader of the results can use: a number (NaN is written as null in JSON) and finite. */
function expectFigure(line: Record<string, unknown>, field: string, { positive }: { positive: boolean }): void {
  const value = line[field];
  const where = `${String(line.workload)} ${String(line.kind)} ${String(line.target)}: ${field} = ${JSON.stringify(value)}`;
  expect(typeof value === 'number' && Number.isFinite(value), where).toBe(true);
  // CPU figures come from clock ticks of 10 ms: over a window this short they may be 0, never negative.
  expect(positive ? (value as number) > 0 : (value as number) >= 0, where).toBe(true);
}

describe('npm run bench -- --smoke', () => {
  let lines: Record<string, unknown>[] = [];
  let finished: Finished;

  beforeAll(async () => {
    if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run \`npm run build\` first (npm test does)`);
    const compiled = await runNode([TSC, '-p', 'bench'], 30_000);
    if (compiled.code !== 0) throw new Error(`tsc -p bench failed:\n${compiled.stdout}${compiled.stderr}`);
    finished = await runNode([HARNESS, '--smoke'], 105_000);
    lines = finished.stdout
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }, 125_000);

  const scratch = mkdtempSync(join(tmpdir(), 'parley-bench-smoke-'));

  afterAll(() => {
    stopChildren();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('exits 0 after a machine line', () => {
    expect(finished.code, finished.stderr).toBe(0);
    expect(lines[0]).toMatchObject({ kind: 'machine', smoke: true, runs: 1 });
  });

  it('send: one run line per target with requests accepted and none failed, and a summary with ratios', () => {
    for (const target of ['parley', 'bare-fastify']) {
      const runs = lines.filter((line) => line.workload === 'send' && line.kind === 'run' && line.target === target);
      expect(runs, target).toHaveLength(1);
      const run = runs[0]!;
      for (const field of ['acceptedPerSec', 'accepted', 'p50Ms', 'p99Ms', 'maxMs', 'seconds']) expectFigure(run, field, { positive: true });
      for (const field of ['serverCpuUsPerMsg', 'harnessCpuUsPerMsg', 'otherCpuCores']) expectFigure(run, field, { positive: false });
      expect(run.failed, JSON.stringify(run.statuses)).toBe(0);
    }
    const summary = lines.find((line) => line.workload === 'send' && line.kind === 'summary') as any;
    expect(summary).toBeDefined();
    expect(summary.ratio.acceptedPerSec.median).toBeGreaterThan(0);
    expect(summary.ratio.p99Ms.median).toBeGreaterThan(0);
  });

  it('fanout: every target connects all members and delivers every message to each, without duplicates', () => {
    for (const target of ['parley', 'bare-ws', 'socket.io']) {
      const connect = lines.filter((line) => line.workload === 'fanout' && line.kind === 'connect' && line.target === target);
      expect(connect, target).toHaveLength(1);
      expect(connect[0]).toMatchObject({ members: 5, settled: true });
      const steps = lines.filter((line) => line.workload === 'fanout' && line.kind === 'step' && line.target === target);
      expect(steps, target).toHaveLength(1);
      const step = steps[0]!;
      expect(step).toMatchObject({ members: 5, rate: 10, scheduled: 10, sent: 10, accepted: 10, duplicates: 0 });
      for (const field of ['deliveredPerSec', 'deliveredPct', 'p50Ms', 'p99Ms', 'maxMs', 'sendP50Ms', 'sendP99Ms']) {
        expectFigure(step, field, { positive: true });
      }
      for (const field of ['serverCpuUsPerDelivery', 'redisCpuUsPerDelivery', 'harnessCpuUsPerDelivery', 'otherCpuCores', 'senderMaxLagMs']) {
        expectFigure(step, field, { positive: false });
      }
    }
    const summary = lines.find((line) => line.workload === 'fanout' && line.kind === 'summary') as any;
    expect(summary).toMatchObject({ members: 5, runs: 1 });
    expect(lines.filter((line) => line.workload === 'fanout' && line.kind === 'step-summary')).toHaveLength(1);
  });

  it('connections: every target holds all its idle connections and reports memory, rate and idle CPU, with a summary and ratios', () => {
    for (const target of ['parley', 'bare-ws']) {
      const steps = lines.filter((line) => line.workload === 'connections' && line.kind === 'step' && line.target === target);
      expect(steps, target).toHaveLength(1);
      const step = steps[0]!;
      expect(step).toMatchObject({ connections: 20, added: 20 });
      for (const field of ['connectMs', 'connectsPerSec', 'processRssBytes', 'frames']) expectFigure(step, field, { positive: true });
      // Memory per connection at 20 connections is within the noise of a process's own allocations: a number, any sign.
      for (const field of ['rssBytesPerConn', 'heapBytesPerConn', 'rssBytesPerConnAfterGc', 'heapBytesPerConnAfterGc']) {
        expect(Number.isFinite(step[field]), `${target} ${field}`).toBe(true);
      }
      for (const field of ['idleCpuPct', 'idleRedisCpuPct', 'otherCpuCores']) expectFigure(step, field, { positive: false });
    }
    const summary = lines.find((line) => line.workload === 'connections' && line.kind === 'summary') as any;
    expect(summary).toMatchObject({ connections: 20, runs: 1 });
    expect(summary.ratio['parley/bare-ws'].connectsPerSec.median).toBeGreaterThan(0);
  });

  it('charts: npm run bench:charts writes well-formed SVG charts from these lines, with a series per target', async () => {
    const results = join(scratch, 'results.jsonl');
    writeFileSync(results, finished.stdout);
    const out = join(scratch, 'charts');
    const charted = await runNode([CHARTS, results, out], 15_000);
    expect(charted.code, charted.stderr).toBe(0);
    const expected: Record<string, string[]> = {
      'fanout-5-p99.svg': ['parley', 'bare-ws', 'socket.io'],
      'fanout-5-cpu.svg': ['parley', 'bare-ws', 'socket.io'],
      'connections-rss.svg': ['parley', 'bare-ws', 'parley after GC', 'bare-ws after GC'],
    };
    expect(charted.stdout.trim().split('\n').map((path) => path.slice(out.length + 1)).sort()).toEqual(Object.keys(expected).sort());
    for (const [file, series] of Object.entries(expected)) {
      const svg = readFileSync(join(out, file), 'utf8');
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), file).toBe(true);
      // Well-formed: every element opened is closed, in order (no attribute value holds a '<' or '>').
      const open: string[] = [];
      for (const [, closing, name, selfClosing] of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
        if (closing) expect(open.pop(), file).toBe(name);
        else if (!selfClosing) open.push(name!);
      }
      expect(open, file).toEqual([]);
      const drawn = [...svg.matchAll(/<g data-series="([^"]+)"/g)].map((match) => match[1]);
      expect(drawn, file).toEqual(series);
      // One marker per point: the smoke run has one fan-out step and one connection count per target.
      expect(svg.match(/<circle /g)?.length, file).toBe(series.length);
    }
  });

  it('mix: every user connects, every message reaches every member of its conversation, typing and read receipts go through', () => {
    const connect = lines.filter((line) => line.workload === 'mix' && line.kind === 'connect');
    expect(connect).toHaveLength(1);
    expect(connect[0]).toMatchObject({ users: 20, connected: 20, settled: true });
    const steps = lines.filter((line) => line.workload === 'mix' && line.kind === 'step');
    expect(steps).toHaveLength(1);
    const step = steps[0]!;
    expect(step).toMatchObject({ target: 'parley', users: 20, groupSize: 5, rate: 20, scheduled: 20, sent: 20, accepted: 20, deliveredPct: 100, readsFailed: 0 });
    for (const field of ['deliveredPerSec', 'expectedDeliveries', 'groupMessages', 'p50Ms', 'p99Ms', 'maxMs', 'sendP50Ms', 'sendP99Ms', 'typingSent', 'readsPosted']) {
      expectFigure(step, field, { positive: true });
    }
    for (const field of ['serverCpuSecPer1000Msgs', 'redisCpuSecPer1000Msgs', 'serverCpuUsPerDelivery', 'harnessCpuSecPer1000Msgs', 'otherCpuCores', 'senderMaxLagMs']) {
      expectFigure(step, field, { positive: false });
    }
    const summary = lines.find((line) => line.workload === 'mix' && line.kind === 'summary') as any;
    expect(summary).toMatchObject({ users: 20, groupSize: 5, runs: 1 });
    expect(summary.maxSustainableRate.median).toBe(20);
  });

  it('webhooks: at each concurrency, Parley and the bare sender deliver every message to the receiver, none lost or duplicated, bodies of one size', () => {
    for (const concurrency of [4, 16]) {
      const bodyBytes: number[] = [];
      for (const target of ['parley', 'bare-http']) {
        const where = `${target} c${concurrency}`;
        const steps = lines.filter((line) => line.workload === 'webhooks' && line.kind === 'step' && line.target === target && line.concurrency === concurrency);
        expect(steps, where).toHaveLength(1);
        const step = steps[0]!;
        expect(step, where).toMatchObject({ rate: 10, scheduled: 10, sent: 10, accepted: 10, deliveredPct: 100, pendingAtEnd: 0, duplicates: 0, attemptsFailed: 0, saturated: false });
        for (const field of ['deliveredPerSec', 'p50Ms', 'p99Ms', 'maxMs', 'sendP50Ms', 'sendP99Ms', 'meanBodyBytes']) expectFigure(step, field, { positive: true });
        for (const field of ['serverCpuUsPerDelivery', 'receiverCpuUsPerDelivery', 'harnessCpuUsPerDelivery', 'otherCpuCores', 'senderMaxLagMs']) {
          expectFigure(step, field, { positive: false });
        }
        if (target === 'parley') expectFigure(step, 'redisCpuUsPerDelivery', { positive: false });
        else expect(step.redisCpuUsPerDelivery, where).toBeNull();
        bodyBytes.push(step.meanBodyBytes as number);
        // The warm-up's 3 messages and the step's 10, every one received once after the drain.
        const runs = lines.filter((line) => line.workload === 'webhooks' && line.kind === 'run' && line.target === target && line.concurrency === concurrency);
        expect(runs, where).toHaveLength(1);
        expect(runs[0], where).toMatchObject({ accepted: 13, delivered: 13, lost: 0, duplicates: 0, maxSustainedRate: 10, saturatedAt: null });
      }
      // The baseline moves the bytes Parley does (its body mirrors Parley's).
      expect(Math.abs(bodyBytes[0]! / bodyBytes[1]! - 1), `body bytes ${bodyBytes.join(' vs ')}`).toBeLessThan(0.05);
      expect(lines.filter((line) => line.workload === 'webhooks' && line.kind === 'step-summary' && line.concurrency === concurrency)).toHaveLength(1);
      const summary = lines.find((line) => line.workload === 'webhooks' && line.kind === 'summary' && line.concurrency === concurrency) as any;
      expect(summary).toMatchObject({ concurrency, runs: 1, parley: { lost: [0], duplicates: [0] }, 'bare-http': { lost: [0], duplicates: [0] } });
      expect(summary.ratio['parley/bare-http'].maxSustainedRate.median).toBe(1);
    }
  });

  it('resume: every client of the killed node reconnects to the survivor and catches up, nothing lost, duplicated or resynced', () => {
    for (const target of ['parley', 'bare-ws']) {
      const runs = lines.filter((line) => line.workload === 'resume' && line.kind === 'run' && line.target === target);
      expect(runs, target).toHaveLength(1);
      const run = runs[0]!;
      expect(run).toMatchObject({ clients: 20, caughtUp: 20, connectFailed: 0, lost: 0, clientsWithLoss: 0, duplicates: 0, unexpected: 0, resyncs: 0 });
      for (const field of ['reconnectMs', 'caughtUpMs']) expectFigure(run, field, { positive: true });
      for (const field of ['serverCpuMs', 'redisCpuMs', 'harnessCpuMs', 'otherCpuCores']) expectFigure(run, field, { positive: false });
    }
    expect(lines.find((line) => line.workload === 'resume' && line.kind === 'run' && line.target === 'parley')).toMatchObject({ missedPerClient: 10 });
    const summary = lines.find((line) => line.workload === 'resume' && line.kind === 'summary') as any;
    expect(summary).toMatchObject({ clients: 20, runs: 1 });
    expect(summary.ratio.caughtUpMs.median).toBeGreaterThan(0);
  });
});
