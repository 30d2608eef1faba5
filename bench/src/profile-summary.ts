/**
 * Summarises V8 CPU profiles (`.cpuprofile`, as written by `node --cpu-prof`, e.g. by
 * `npm run bench -- --profile DIR`): where the sampled time went, by self time.
 *
 *   npm run bench:profile-summary -- DIR [--top N]
 *
 * For every profile under DIR (searched recursively), prints the share of samples by area — GC,
 * idle, native/Node internals, each npm package, each Parley source folder — and the N functions
 * with the most self time. Shares are of the non-idle samples, so profiles of runs with different
 * loads compare.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function profilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return profilesUnder(path);
    return name.endsWith('.cpuprofile') ? [path] : [];
  });
}

/** Which part of the program a frame belongs to. */
function areaOf(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  if (functionName === '(idle)' || functionName === '(program)' || functionName === '(garbage collector)') return functionName;
  if (url === '') return '(native)';
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (packageMatch) return `npm:${packageMatch[1]}`;
  if (url.startsWith('node:')) return 'node:internals';
  const parley = /packages\/server\/dist\/(.+)\/[^/]+\.js$/.exec(url) ?? /packages\/server\/dist\/([^/]+)\.js$/.exec(url);
  if (parley) return `parley:${parley[1]}`;
  return url;
}

function summarise(path: string, top: number): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const area = areaOf(node);
    if (area === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*\/(node_modules|packages)\//, '$1/')}:${lineNumber + 1}` : '';
    const label = `${functionName || '(anonymous)'} ${where}`.trim();
    functions.set(label, (functions.get(label) ?? 0) + us);
  }
  const share = (us: number) => `${((100 * us) / Math.max(1, busyUs)).toFixed(1).padStart(5)}%`;
  const lines = [`${path}: busy ${(busyUs / 1e6).toFixed(2)} s, idle ${(idleUs / 1e6).toFixed(2)} s`, '  by area (self time, % of busy):'];
  for (const [area, us] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, 25)) lines.push(`    ${share(us)}  ${area}`);
  lines.push(`  top ${top} functions by self time:`);
  for (const [label, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`    ${share(us)}  ${label}`);
  return lines.join('\n');
}

const { values, positionals } = parseArgs({ args: process.argv.slice(2), options: { top: { type: 'string', default: '30' } }, allowPositionals: true });
if (positionals.length !== 1) {
  process.stderr.write('Usage: npm run bench:profile-summary -- DIR [--top N]\n');
  process.exit(2);
}
const dir = positionals[0]!;
const paths = profilesUnder(dir);
if (paths.length === 0) {
  process.stderr.write(`no .cpuprofile under ${dir}\n`);
  process.exit(1);
}
for (const path of paths) process.stdout.write(`${summarise(path, Number(values.top)).replace(path, relative(process.cwd(), path))}\n\n`);
