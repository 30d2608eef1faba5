/** The soak's chart: each node's RSS and heap used and Redis's used_memory over the run, in MB. */
import { renderChart, type ChartSeries } from '../svg-chart.js';

export interface ChartSample {
  atMs: number;
  nodes: Record<string, { rssBytes: number; heapUsedBytes: number }>;
  redisUsedMemoryBytes: number;
}

const MB = 1024 * 1024;

export function soakChart(samples: readonly ChartSample[], title: string, warmupMs: number): string {
  const names = Object.keys(samples[0]?.nodes ?? {});
  const series = (name: string, value: (sample: ChartSample) => number, dashed = false): ChartSeries => ({
    name,
    dashed,
    points: samples.map((sample) => {
      const y = value(sample) / MB;
      return { x: sample.atMs / 60_000, median: y, min: y, max: y };
    }),
  });
  return renderChart({
    title,
    xLabel: 'minutes since the load started',
    yLabel: 'MB',
    series: [
      ...names.map((name) => series(`${name} RSS`, (sample) => sample.nodes[name]!.rssBytes)),
      ...names.map((name) => series(`${name} heap used`, (sample) => sample.nodes[name]!.heapUsedBytes, true)),
      series('Redis used_memory', (sample) => sample.redisUsedMemoryBytes),
    ],
    notes: ['one dot per sample', `growth fitted after ${Math.round((warmupMs / 60_000) * 10) / 10} min`],
  });
}
