/**
 * `npm run bench:targets`: the verdicts a reader of bench/RESULTS.md relies on, from summary
 * lines shaped as the harness prints them.
 */
import { describe, expect, it } from 'vitest';
import { judge, verdictTable } from './src/targets.js';

const spread = (median: number, min = median, max = median, n = 3) => ({ median, min, max, n });

const sendSummary = (ratio: number, p99: number) => ({
  workload: 'send',
  kind: 'summary',
  parley: { p99Ms: spread(p99) },
  ratio: { acceptedPerSec: spread(ratio, ratio - 0.02, ratio + 0.03) },
});

function fanout(members: number, bareRate: number, parleyRate: number, steps: { rate: number; p99: number; cpuRatio: number }[], bareSaturated = true) {
  return [
    {
      workload: 'fanout',
      kind: 'summary',
      members,
      rates: [25, 50, 75, 100, 125, 150],
      parley: { maxSustainedRate: spread(parleyRate), saturatedAt: [parleyRate + 25] },
      'bare-ws': { maxSustainedRate: spread(bareRate), saturatedAt: [bareSaturated ? bareRate + 25 : null] },
      ratio: { 'parley/bare-ws': { maxSustainedRate: spread(parleyRate / bareRate) } },
    },
    ...steps.map((step) => ({
      workload: 'fanout',
      kind: 'step-summary',
      members,
      rate: step.rate,
      parley: { p99Ms: spread(step.p99) },
      ratio: { 'parley/bare-ws': { serverCpuUsPerDelivery: spread(step.cpuRatio) } },
    })),
  ];
}

describe('bench targets', () => {
  it('send: met only when both the ratio and the p99 are', () => {
    expect(judge([sendSummary(0.55, 18)])[0]).toMatchObject({ verdict: 'met', measured: '0.55 (0.53–0.58); p99 18 ms' });
    expect(judge([sendSummary(0.55, 21)])[0]!.verdict).toBe('not met');
    expect(judge([sendSummary(0.45, 10)])[0]!.verdict).toBe('not met');
    expect(judge([])[0]!.verdict).toBe('not measured');
  });

  it('fan-out: judges CPU and p99 at the highest step at or below 75% of bare ws’s saturation rate', () => {
    // Bare ws sustains 150: 75% is 112.5, so the step judged is 100 (not 125).
    const lines = fanout(1000, 150, 125, [
      { rate: 75, p99: 12, cpuRatio: 1.1 },
      { rate: 100, p99: 30, cpuRatio: 1.3 },
      { rate: 125, p99: 10, cpuRatio: 1.0 },
    ]);
    const verdicts = judge(lines).filter((v) => v.target.startsWith('fan-out 1000'));
    expect(verdicts.map((v) => v.verdict)).toEqual(['not met', 'not met', 'not met']);
    expect(verdicts[1]!.target).toContain('at 100 msgs/s');
    expect(verdicts[0]!.measured).toBe('0.833');
    const better = judge(fanout(1000, 100, 100, [{ rate: 75, p99: 20, cpuRatio: 1.15 }])).filter((v) => v.target.startsWith('fan-out'));
    expect(better.map((v) => v.verdict)).toEqual(['met', 'met', 'met']);
  });

  it('fan-out: a baseline that never saturated makes the rate ratio a bound, and says so', () => {
    const verdicts = judge(fanout(100, 150, 150, [{ rate: 100, p99: 5, cpuRatio: 1 }], false));
    expect(verdicts.find((v) => v.target.includes('highest rate'))!.measured).toContain('a bound');
  });

  it('connections: judged on RSS per connection after GC, per count', () => {
    const summary = (count: number, ratio: number) => ({
      workload: 'connections',
      kind: 'summary',
      connections: count,
      parley: { rssBytesPerConnAfterGc: spread(5200) },
      ratio: { 'parley/bare-ws': { rssBytesPerConnAfterGc: spread(ratio), rssBytesPerConn: spread(2.5) } },
    });
    const verdicts = judge([summary(10_000, 1.25), summary(19_000, 1.4)]).filter((v) => v.target.startsWith('idle'));
    expect(verdicts.map((v) => v.verdict)).toEqual(['met', 'not met']);
    expect(verdicts[0]!.measured).toBe('1.25 (Parley 5200 B; as is 2.5)');
  });

  it('resume: any loss, duplicate or resync in any run fails the first target; the time ratio the second', () => {
    const summary = (lost: number[], ratio: number) => ({
      workload: 'resume',
      kind: 'summary',
      clients: 10_000,
      parley: { lost, duplicates: [0, 0, 0], resyncs: [0, 0, 0] },
      ratio: { caughtUpMs: spread(ratio) },
    });
    expect(judge([summary([0, 0, 0], 1.8)]).filter((v) => v.target.startsWith('resume')).map((v) => v.verdict)).toEqual(['met', 'met']);
    expect(judge([summary([0, 3, 0], 2.5)]).filter((v) => v.target.startsWith('resume')).map((v) => v.verdict)).toEqual(['not met', 'not met']);
  });

  it('prints a Markdown table with one row per verdict', () => {
    const verdicts = judge([sendSummary(0.6, 10)]);
    const table = verdictTable(verdicts);
    // Header, separator, a row per verdict: the targets not in the file say "not measured".
    expect(table.split('\n')).toHaveLength(2 + verdicts.length);
    expect(verdicts.filter((v) => v.verdict === 'not measured')).toHaveLength(verdicts.length - 1);
    expect(table).toContain('| send: accepted msgs/s ÷ bare Fastify; p99 | 0.6 (0.58–0.63); p99 10 ms |');
  });
});
