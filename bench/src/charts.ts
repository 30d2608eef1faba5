/**
 * `npm run bench:charts -- <results.jsonl> <out-dir>`: SVG charts from the harness's JSON lines
 * (the stdout of `npm run -s bench`), each point the median over the runs in the file with its
 * min–max: per fan-out group size, p99 latency and server CPU µs per delivery against the send
 * rate for every target; for `connections`, RSS per connection against the connection count.
 * Prints the files it wrote.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spread } from './stats.js';
import { renderChart, type ChartPoint, type ChartSeries } from './svg-chart.js';

type Line = Record<string, unknown>;

/** One series per target: the points of `lines` grouped by x, each the median and min–max of y. */
function seriesByTarget(lines: Line[], x: string, y: string, suffix = ''): ChartSeries[] {
  const targets = [...new Set(lines.map((line) => String(line.target)))];
  return targets.map((target) => {
    const byX = new Map<number, number[]>();
    for (const line of lines) {
      if (line.target !== target || typeof line[x] !== 'number' || typeof line[y] !== 'number') continue;
      byX.set(line[x], [...(byX.get(line[x]) ?? []), line[y]]);
    }
    const points: ChartPoint[] = [...byX].flatMap(([at, values]) => {
      const s = spread(values);
      return s ? [{ x: at, median: s.median, min: s.min, max: s.max }] : [];
    });
    return { name: `${target}${suffix}`, points, dashed: suffix !== '' };
  });
}

function chartsOf(lines: Line[]): Map<string, string> {
  const files = new Map<string, string>();
  const fanout = lines.filter((line) => line.workload === 'fanout' && line.kind === 'step');
  for (const members of [...new Set(fanout.map((line) => Number(line.members)))].sort((a, b) => b - a)) {
    const steps = fanout.filter((line) => line.members === members);
    const xLabel = 'send rate (messages/s)';
    files.set(`fanout-${members}-p99.svg`, renderChart({
      title: `Fan-out to ${members} members: p99 end-to-end latency`, xLabel, yLabel: 'p99 latency (ms)', series: seriesByTarget(steps, 'rate', 'p99Ms'),
    }));
    files.set(`fanout-${members}-cpu.svg`, renderChart({
      title: `Fan-out to ${members} members: server CPU per delivery`, xLabel, yLabel: 'server CPU per delivery (µs)', series: seriesByTarget(steps, 'rate', 'serverCpuUsPerDelivery'),
    }));
  }
  const connections = lines
    .filter((line) => line.workload === 'connections' && line.kind === 'step')
    .map((line) => ({ ...line, rssKb: Number(line.rssBytesPerConn) / 1024, rssKbAfterGc: Number(line.rssBytesPerConnAfterGc) / 1024 }));
  if (connections.length > 0) {
    files.set('connections-rss.svg', renderChart({
      title: 'Idle WebSocket connections: RSS per connection',
      xLabel: 'open connections',
      yLabel: 'RSS per connection (KB)',
      series: [...seriesByTarget(connections, 'connections', 'rssKb'), ...seriesByTarget(connections, 'connections', 'rssKbAfterGc', ' after GC')],
    }));
  }
  return files;
}

function main(): void {
  const [input, outDir] = process.argv.slice(2);
  if (input === undefined || outDir === undefined) {
    process.stderr.write('Usage: npm run bench:charts -- <results.jsonl> <out-dir>\n');
    process.exit(2);
  }
  const lines = readFileSync(input, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Line);
  const files = chartsOf(lines);
  if (files.size === 0) throw new Error(`${input}: no fanout or connections step lines`);
  mkdirSync(outDir, { recursive: true });
  for (const [name, svg] of files) {
    writeFileSync(join(outDir, name), svg);
    process.stdout.write(`${join(outDir, name)}\n`);
  }
}

main();
