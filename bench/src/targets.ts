/**
 * Judges a results file against Parley's performance targets (bench/README.md "Targets"):
 *
 *   npm run -s bench:targets -- results.jsonl
 *
 * Reads the summary lines the harness printed and writes one Markdown table row per target:
 * the measured figure (median of the runs, min–max, ratios taken run by run against the baseline
 * of the same run), the goal, and met / not met / not measured. A target whose baseline never
 * saturated within the steps run is judged against what was measured and says so.
 */
import { readFileSync } from 'node:fs';

interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}
type Line = Record<string, unknown> & { workload?: string; kind?: string };

export interface TargetVerdict {
  target: string;
  measured: string;
  goal: string;
  verdict: 'met' | 'not met' | 'not measured';
}

const isSpread = (value: unknown): value is Spread =>
  typeof value === 'object' && value !== null && typeof (value as Spread).median === 'number';

const formatNumber = (value: number) => (Math.abs(value) >= 100 ? String(Math.round(value)) : String(Number(value.toPrecision(3))));
export const formatSpread = (spread: Spread) =>
  spread.min !== spread.max ? `${formatNumber(spread.median)} (${formatNumber(spread.min)}–${formatNumber(spread.max)})` : formatNumber(spread.median);

const verdictOf = (ok: boolean): TargetVerdict['verdict'] => (ok ? 'met' : 'not met');

function at(object: unknown, ...path: string[]): unknown {
  let value = object;
  for (const key of path) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

function sendTargets(lines: Line[]): TargetVerdict[] {
  const summary = lines.find((line) => line.workload === 'send' && line.kind === 'summary');
  const goal = '≥ 0.5× bare Fastify, p99 ≤ 20 ms';
  if (!summary) return [{ target: 'send: rate and p99', measured: '—', goal, verdict: 'not measured' }];
  const ratio = at(summary, 'ratio', 'acceptedPerSec');
  const p99 = at(summary, 'parley', 'p99Ms');
  if (!isSpread(ratio) || !isSpread(p99)) return [{ target: 'send: rate and p99', measured: 'summary incomplete', goal, verdict: 'not measured' }];
  return [
    {
      target: 'send: accepted msgs/s ÷ bare Fastify; p99',
      measured: `${formatSpread(ratio)}; p99 ${formatSpread(p99)} ms`,
      goal,
      verdict: verdictOf(ratio.median >= 0.5 && p99.median <= 20),
    },
  ];
}

/** The rate steps' summaries of one group size, by rate. */
function fanoutSteps(lines: Line[], members: number): Map<number, Line> {
  const steps = new Map<number, Line>();
  for (const line of lines) if (line.workload === 'fanout' && line.kind === 'step-summary' && line.members === members) steps.set(line.rate as number, line);
  return steps;
}

function fanoutTargets(lines: Line[]): TargetVerdict[] {
  const summaries = lines.filter((line) => line.workload === 'fanout' && line.kind === 'summary');
  if (summaries.length === 0) return [{ target: 'fan-out', measured: '—', goal: 'see README', verdict: 'not measured' }];
  return summaries.flatMap((summary) => {
    const members = summary.members as number;
    const name = `fan-out ${members}`;
    const rates = summary.rates as number[];
    const bareRate = at(summary, 'bare-ws', 'maxSustainedRate');
    const bareSaturatedAt = (at(summary, 'bare-ws', 'saturatedAt') as (number | null)[] | undefined) ?? [];
    const rateRatio = at(summary, 'ratio', 'parley/bare-ws', 'maxSustainedRate');
    if (!isSpread(bareRate) || !isSpread(rateRatio)) return [{ target: name, measured: 'no bare-ws baseline in this run', goal: '', verdict: 'not measured' as const }];
    const bareNeverSaturated = bareSaturatedAt.some((rate) => rate === null);
    const bound = bareNeverSaturated ? ` (bare ws did not saturate by ${rates[rates.length - 1]} msgs/s in some run: a bound)` : '';
    // The load at 75% of the baseline's saturation: the highest step at or below it.
    const quarterOff = 0.75 * bareRate.median;
    const steps = fanoutSteps(lines, members);
    const loadRate = [...steps.keys()].filter((rate) => rate <= quarterOff).sort((a, b) => b - a)[0];
    const step = loadRate === undefined ? undefined : steps.get(loadRate);
    const p99 = at(step, 'parley', 'p99Ms');
    const cpuRatio = at(step, 'ratio', 'parley/bare-ws', 'serverCpuUsPerDelivery');
    const verdicts: TargetVerdict[] = [
      {
        target: `${name}: highest rate with p99 ≤ 100 ms, Parley ÷ bare ws`,
        measured: `${formatSpread(rateRatio)}${bound}`,
        goal: '≥ 0.9',
        verdict: verdictOf(rateRatio.median >= 0.9),
      },
    ];
    if (!step || !isSpread(p99) || !isSpread(cpuRatio)) {
      verdicts.push({ target: `${name}: at 75% of bare ws's saturation`, measured: 'no step measured there', goal: '', verdict: 'not measured' });
      return verdicts;
    }
    verdicts.push(
      {
        target: `${name}: server CPU per delivery ÷ bare ws at ${loadRate} msgs/s`,
        measured: formatSpread(cpuRatio),
        goal: '≤ 1.2',
        verdict: verdictOf(cpuRatio.median <= 1.2),
      },
      {
        target: `${name}: p99 at ${loadRate} msgs/s (≤ 75% of bare ws's ${bareRate.median})`,
        measured: `${formatSpread(p99)} ms`,
        goal: '≤ 25 ms',
        verdict: verdictOf(p99.median <= 25),
      },
    );
    return verdicts;
  });
}

function connectionsTargets(lines: Line[]): TargetVerdict[] {
  const summaries = lines.filter((line) => line.workload === 'connections' && line.kind === 'summary');
  const goal = '≤ 1.3× bare ws';
  if (summaries.length === 0) return [{ target: 'idle connections: RSS per connection ÷ bare ws', measured: '—', goal, verdict: 'not measured' }];
  return summaries.map((summary) => {
    const target = `idle connections, ${summary.connections as number}: RSS per connection after GC ÷ bare ws`;
    const ratio = at(summary, 'ratio', 'parley/bare-ws', 'rssBytesPerConnAfterGc');
    const asIs = at(summary, 'ratio', 'parley/bare-ws', 'rssBytesPerConn');
    const parley = at(summary, 'parley', 'rssBytesPerConnAfterGc');
    if (!isSpread(ratio) || !isSpread(parley)) return { target, measured: 'summary incomplete', goal, verdict: 'not measured' as const };
    const asIsText = isSpread(asIs) ? `; as is ${formatSpread(asIs)}` : '';
    return { target, measured: `${formatSpread(ratio)} (Parley ${formatSpread(parley)} B${asIsText})`, goal, verdict: verdictOf(ratio.median <= 1.3) };
  });
}

function resumeTargets(lines: Line[]): TargetVerdict[] {
  const summary = lines.find((line) => line.workload === 'resume' && line.kind === 'summary');
  const goal = '0 lost, 0 duplicated, 0 resync.required; time ≤ 2× bare reconnect';
  if (!summary) return [{ target: 'resume storm', measured: '—', goal, verdict: 'not measured' }];
  const counts = (field: string) => (at(summary, 'parley', field) as number[] | undefined) ?? [];
  const total = (field: string) => counts(field).reduce((sum, value) => sum + value, 0);
  const ratio = at(summary, 'ratio', 'caughtUpMs');
  const clean = counts('lost').length > 0 && total('lost') === 0 && total('duplicates') === 0 && total('resyncs') === 0;
  return [
    {
      target: `resume storm, ${summary.clients as number} clients: lost / duplicated / resync.required, all runs`,
      measured: `${total('lost')} / ${total('duplicates')} / ${total('resyncs')}`,
      goal: '0 / 0 / 0',
      verdict: counts('lost').length > 0 ? verdictOf(clean) : 'not measured',
    },
    {
      target: `resume storm, ${summary.clients as number} clients: time to all caught up ÷ bare reconnect`,
      measured: isSpread(ratio) ? formatSpread(ratio) : '—',
      goal: '≤ 2',
      verdict: isSpread(ratio) ? verdictOf(ratio.median <= 2) : 'not measured',
    },
  ];
}

export function judge(lines: Line[]): TargetVerdict[] {
  return [...sendTargets(lines), ...fanoutTargets(lines), ...connectionsTargets(lines), ...resumeTargets(lines)];
}

export function verdictTable(verdicts: TargetVerdict[]): string {
  const rows = verdicts.map((v) => `| ${v.target} | ${v.measured} | ${v.goal} | ${v.verdict} |`);
  return ['| target | measured: median (min–max) | goal | verdict |', '|---|---|---|---|', ...rows].join('\n');
}

export function readResultLines(path: string): Line[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((text) => text.startsWith('{'))
    .map((text) => JSON.parse(text) as Line);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const paths = process.argv.slice(2);
  if (paths.length === 0) {
    process.stderr.write('Usage: npm run -s bench:targets -- results.jsonl [more.jsonl...]\n');
    process.exit(2);
  }
  process.stdout.write(`${verdictTable(judge(paths.flatMap(readResultLines)))}\n`);
}
