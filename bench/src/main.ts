/**
 * Parley's benchmark harness: `npm run bench [-- options]` (see bench/README.md). Runs the
 * requested workloads (bench/README.md) against processes it starts itself on 127.0.0.1 and stops
 * afterwards, printing one JSON line per run, step and summary.
 */
import { machineInfo } from './machine.js';
import { parseOptions, USAGE } from './options.js';
import { profileParleyInto } from './parley-server.js';
import { progress, result } from './report.js';
import { runConnectionsWorkload } from './workloads/connections.js';
import { runFanoutWorkload } from './workloads/fanout.js';
import { runMixWorkload } from './workloads/mix.js';
import { runResumeWorkload } from './workloads/resume.js';
import { runSendWorkload } from './workloads/send.js';
import { runWebhooksWorkload } from './workloads/webhooks.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options = parseOptions(argv);
  if (options === null) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (options.runs < 3 && !options.smoke) progress(`warning: --runs ${options.runs}; the specification asks for the median of at least 3`);
  result({ kind: 'machine', ...machineInfo(argv), full: options.full, smoke: options.smoke, runs: options.runs, logLevel: options.logLevel });
  if (options.profileDir !== null) profileParleyInto(options.profileDir);
  const started = Date.now();
  for (const workload of options.workloads) {
    progress(`workload ${workload}: ${options.runs} runs${options.full ? ' (full durations)' : options.smoke ? ' (smoke: tiny sizes)' : ''}`);
    if (workload === 'send') await runSendWorkload(options);
    else if (workload === 'fanout') await runFanoutWorkload(options);
    else if (workload === 'connections') await runConnectionsWorkload(options);
    else if (workload === 'mix') await runMixWorkload(options);
    else if (workload === 'webhooks') await runWebhooksWorkload(options);
    else await runResumeWorkload(options);
  }
  progress(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
