/**
 * Command-line options. The defaults run every workload exactly as bench/README.md specifies except
 * for shorter measurement windows (a full run fits in a few minutes on a 2-core machine);
 * `--full` uses the specified durations (send 20 s, each fan-out step 10 s).
 */
import { parseArgs } from 'node:util';

export type WorkloadId = 'send' | 'fanout';

export interface SendSettings {
  users: number;
  conversations: number;
  connections: number;
  textBytes: number;
  warmupMs: number;
  durationMs: number;
}

export interface FanoutSettings {
  /** Group sizes to run, each with its own rate steps. */
  members: number[];
  rates: Record<number, number[]>;
  stepMs: number;
  /** Sending at the first rate before the first step, not measured. */
  warmupMs: number;
  /** A message counts as delivered to a member only within this time after its send started. */
  deliveryWindowMs: number;
  /** Saturation: p99 above this… */
  maxP99Ms: number;
  /** …or fewer deliveries than this fraction within the window. */
  minDeliveredFraction: number;
  textBytes: number;
  /** Also run the Socket.IO peer (two processes with its Redis adapter). */
  peer: boolean;
}

export interface BenchOptions {
  full: boolean;
  runs: number;
  workloads: WorkloadId[];
  logLevel: string;
  send: SendSettings;
  fanout: FanoutSettings;
}

/** The steps of the specification (bench/README.md); other group sizes get steps scaled from the 1,000-member ones. */
const SPECIFIED_RATES: Record<number, number[]> = {
  1000: [25, 50, 75, 100, 125],
  100: [250, 500, 1000, 1500, 2000],
};

export const USAGE = `Usage: npm run bench -- [options]

  --full              the specified durations: send 20 s, fan-out steps of 10 s (default 5 s and 3 s)
  --runs N            runs per workload (default 3; the report is the median with min–max)
  --workload LIST     send,fanout (default both)
  --members LIST      fan-out group sizes (default 1000,100)
  --no-peer           fan-out without the Socket.IO peer (Parley and the bare ws baseline only)
  --log-level LEVEL   LOG_LEVEL of the Parley processes (default warn: no per-request logging,
                      like the baselines; "info" measures Parley as configured by default)
  --help              this text

Results: one JSON line per run, step and summary on stdout; progress on stderr.`;

export function parseOptions(argv: string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      full: { type: 'boolean', default: false },
      runs: { type: 'string', default: '3' },
      workload: { type: 'string', default: 'send,fanout' },
      members: { type: 'string', default: '1000,100' },
      'log-level': { type: 'string', default: 'warn' },
      'no-peer': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error(`--runs must be an integer 1..20, got ${values.runs}`);
  const workloads = values.workload.split(',').map((w) => w.trim());
  for (const workload of workloads) if (workload !== 'send' && workload !== 'fanout') throw new Error(`unknown workload ${workload}`);
  const members = values.members.split(',').map(Number);
  for (const size of members) if (!Number.isInteger(size) || size < 2 || size > 10_000) throw new Error(`--members: group sizes are 2..10000, got ${size}`);
  const rates: Record<number, number[]> = {};
  for (const size of members) rates[size] = SPECIFIED_RATES[size] ?? SPECIFIED_RATES[1000]!.map((rate) => Math.max(1, Math.round((rate * 1000) / size)));
  const full = values.full;
  return {
    full,
    runs,
    workloads: workloads as WorkloadId[],
    logLevel: values['log-level'],
    send: { users: 1000, conversations: 500, connections: 64, textBytes: 64, warmupMs: full ? 2000 : 1000, durationMs: full ? 20_000 : 5000 },
    fanout: {
      members,
      rates,
      stepMs: full ? 10_000 : 3000,
      warmupMs: full ? 5000 : 2000,
      deliveryWindowMs: 2000,
      maxP99Ms: 100,
      minDeliveredFraction: 0.99,
      textBytes: 64,
      peer: !values['no-peer'],
    },
  };
}
