/**
 * Command-line options of the soak script (`npm run soak -- …`, bench/README.md *Soak*). The
 * defaults are the run: 30 minutes of a steady, moderate load on two nodes, the first 5
 * minutes a warm-up left out of the growth figures. `--smoke` runs the same thing for about 40 s at
 * a tiny size: it proves the script works end to end (`npm test` runs it) and measures nothing.
 */
import { parseArgs } from 'node:util';

export interface SoakOptions {
  /** Load duration (ms), warm-up included. */
  durationMs: number;
  /** Samples before this (ms after the load started) are drawn but left out of the growth fit. */
  warmupMs: number;
  /** Users, one WebSocket each, split over the two nodes; an even number (direct pairs). */
  users: number;
  /** Users per small group: every user is in one direct conversation and one group. */
  groupSize: number;
  /** REST sends per second, open loop. */
  rate: number;
  /** Sends in flight at most; a send due while this many are unanswered is skipped (counted). */
  maxInFlight: number;
  /** Every this many ms, `resumeBatch` clients drop their socket and resume on the other node. */
  resumeEveryMs: number;
  resumeBatch: number;
  /** How long a dropped client stays away before it resumes with its last cursor (ms, at most). */
  awayMs: number;
  /** Every this many ms, one JSON line of resource figures. */
  sampleEveryMs: number;
  /** After the load: how long to wait for every acknowledged message to reach its members. */
  drainMs: number;
  /** The SVG chart's path, or null for none. */
  chart: string | null;
  logLevel: string;
  smoke: boolean;
}

export const SOAK_USAGE = `Usage: npm run soak -- [options]   (JSON lines on stdout, progress on stderr; see bench/README.md)

  --minutes N          load duration, warm-up included (default 30; fractions allowed; at most 1380)
  --warmup-minutes N   left out of the growth fit (default: a third of --minutes, at most 5)
  --users N            WebSocket users over the two nodes, even (default 300)
  --rate N             messages per second (default 20)
  --chart FILE         write an SVG chart of RSS, heap and Redis memory over time
  --sample-seconds N   seconds between resource samples (default 5)
  --log-level L        LOG_LEVEL of the Parley processes (default warn)
  --smoke              about 40 s at a tiny size (20 users, 10 msgs/s): does the script still work?
  --help`;

function positive(name: string, text: string | undefined, fallback: number, { integer = false } = {}): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${text}`);
  return value;
}

/** The options, or null for `--help`; throws on anything invalid. */
export function parseSoakOptions(argv: string[]): SoakOptions | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      minutes: { type: 'string' },
      'warmup-minutes': { type: 'string' },
      users: { type: 'string' },
      rate: { type: 'string' },
      chart: { type: 'string' },
      'sample-seconds': { type: 'string' },
      'log-level': { type: 'string', default: 'warn' },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return null;
  const smoke = values.smoke;
  if (smoke && (values.minutes !== undefined || values['warmup-minutes'] !== undefined)) throw new Error('--smoke has its own duration: drop --minutes and --warmup-minutes');
  const minutes = smoke ? 0.5 : positive('minutes', values.minutes, 30);
  // Access tokens are minted for the whole run; Parley mints them for 24 h at most.
  if (minutes > 1380) throw new Error(`--minutes ${minutes}: at most 1380 (the users' tokens last 24 h)`);
  const warmupMinutes = smoke ? 0.1 : values['warmup-minutes'] === undefined ? Math.min(5, minutes / 3) : Number(values['warmup-minutes']);
  if (!Number.isFinite(warmupMinutes) || warmupMinutes < 0 || warmupMinutes >= minutes) {
    throw new Error(`--warmup-minutes must be at least 0 and less than --minutes, got ${values['warmup-minutes']}`);
  }
  const users = positive('users', values.users, smoke ? 20 : 300, { integer: true });
  if (users % 2 !== 0 || users < 4) throw new Error(`--users must be even and at least 4, got ${users}`);
  const rate = positive('rate', values.rate, smoke ? 10 : 20);
  return {
    durationMs: minutes * 60_000,
    warmupMs: warmupMinutes * 60_000,
    users,
    groupSize: 5,
    rate,
    maxInFlight: 64,
    resumeEveryMs: smoke ? 1000 : 2000,
    resumeBatch: Math.max(1, Math.round(users / 100)),
    awayMs: smoke ? 500 : 1500,
    sampleEveryMs: positive('sample-seconds', values['sample-seconds'], smoke ? 1 : 5) * 1000,
    drainMs: 15_000,
    chart: values.chart ?? null,
    logLevel: values['log-level'],
    smoke,
  };
}
