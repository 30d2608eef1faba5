/**
 * Command-line options. The defaults run every workload exactly as bench/README.md specifies except
 * for shorter measurement windows (a full run fits in a few minutes on a 2-core machine);
 * `--full` uses the specified durations (send 20 s, each fan-out step 10 s). `--smoke` runs every
 * workload and target once at tiny sizes, in seconds: it proves the harness still works end to end
 * (`npm test` runs it) and measures nothing worth comparing.
 */
import { parseArgs } from 'node:util';

export type WorkloadId = 'send' | 'fanout' | 'connections' | 'resume' | 'mix' | 'webhooks';
const WORKLOADS: readonly WorkloadId[] = ['send', 'fanout', 'connections', 'resume', 'mix', 'webhooks'];

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
  /** Members are connected once no frame arrived for this long (presence events have settled). */
  settleQuietMs: number;
  /** Also run the Socket.IO peer (two processes with its Redis adapter). */
  peer: boolean;
}

export interface ConnectionsSettings {
  /** Open connections to measure at, ascending: each step opens the ones missing up to it. */
  counts: number[];
  /** Connected means: no client received a frame for this long (presence has settled)… */
  quietMs: number;
  /** …then this long before the memory is read (and before the first reading). */
  settleMs: number;
  /** Protocol ping interval of both servers (Parley's REALTIME_HEARTBEAT_MS). */
  heartbeatMs: number;
  /** The idle window over which server CPU is measured: whole heartbeat intervals. */
  idleMs: number;
}

export interface ResumeSettings {
  /** Users, each with one client. */
  clients: number;
  /** Users per group; every user is in exactly one. */
  groupSize: number;
  /** Messages sent to every group while its members are away (each client misses this many). */
  missed: number;
  /** Worker threads holding the clients. */
  threads: number;
  /** Handshakes in flight at once when the clients first connect (the reconnect is all at once). */
  firstConnectConcurrency: number;
  /** How long the reconnected clients may take to catch up before the run counts what they lack as lost. */
  catchUpTimeoutMs: number;
}

export interface MixSettings {
  /** Users u0…, each with one WebSocket on node i mod 2; pairs (u2k, u2k+1) share a direct conversation. */
  users: number;
  /** Users 0…groupedUsers-1 are also in consecutive groups of `groupSize`. */
  groupedUsers: number;
  groupSize: number;
  /** Messages per second of each step, ascending, until the first saturated one. */
  rates: number[];
  stepMs: number;
  /** Sending at the first rate before the first step, not measured. */
  warmupMs: number;
  /** The fraction of sends preceded by a `typing` frame from the sender's socket. */
  typingFraction: number;
  /** The fraction of messages that get a read receipt from one recipient once received. */
  readFraction: number;
  /** Idle window after connecting, over which the servers' CPU at rest is measured. */
  idleMs: number;
  /** Read receipts in flight at once per client worker. */
  readConcurrency: number;
  /** REST sends in flight at once (open loop: the schedule does not wait for answers below this). */
  maxInFlight: number;
  textBytes: number;
  /** A delivery counts only within this time after its send started. */
  deliveryWindowMs: number;
  /** Saturation: p99 above this, or fewer deliveries than `minDeliveredFraction` within the window. */
  maxP99Ms: number;
  minDeliveredFraction: number;
  /** Handshakes in flight at once per node when the users connect (not measured). */
  connectConcurrency: number;
  settleQuietMs: number;
}

export interface WebhooksSettings {
  /** Users u0…; pairs (u2k, u2k+1) share a direct conversation, the first `conversations` of which get the sends. */
  users: number;
  conversations: number;
  /** WEBHOOK_CONCURRENCY of each variant (and the bare sender's requests in flight): a Parley node and a baseline per value. */
  concurrencies: number[];
  /** Messages per second of each step, ascending, until the first saturated one. */
  rates: number[];
  stepMs: number;
  /** Sending at the first rate before the first step, not measured. */
  warmupMs: number;
  /** A delivery counts only within this time after its send started. */
  deliveryWindowMs: number;
  /** Saturation: p99 above this, or fewer deliveries than `minDeliveredFraction` within the window. */
  maxP99Ms: number;
  minDeliveredFraction: number;
  /** After the last step, how long to wait at most for every accepted message's delivery (then the rest is lost). */
  drainTimeoutMs: number;
  /** REST sends in flight at most (Parley). */
  maxInFlight: number;
  textBytes: number;
}

export interface BenchOptions {
  full: boolean;
  /** Tiny sizes and windows, one run: checks that the harness works, not how fast Parley is. */
  smoke: boolean;
  runs: number;
  workloads: WorkloadId[];
  logLevel: string;
  /** `--profile DIR`: Parley processes write CPU profiles there (null: not profiled). */
  profileDir: string | null;
  send: SendSettings;
  fanout: FanoutSettings;
  connections: ConnectionsSettings;
  resume: ResumeSettings;
  mix: MixSettings;
  webhooks: WebhooksSettings;
}

/** `--smoke`: a few users, one fan-out step of 10 messages to 5 members, windows of a fraction of a second. */
const SMOKE_MEMBERS = 5;
const SMOKE_RATE = 10;
const SMOKE_CONNECTIONS = 20;
/** One process holds at most 20,000 open files here: a few are the server's own. */
const MAX_CONNECTIONS = 19_500;
/** `--smoke`: 20 resume clients in groups of 5. */
const SMOKE_CLIENTS = 20;
/** `--smoke`: 20 mix users (10 pairs, 2 groups of 5), one step of 20 messages at 20 msgs/s. */
const SMOKE_MIX_USERS = 20;
const SMOKE_MIX_RATE = 20;
/** `--smoke`: webhooks with 10 users (5 conversations), one step of 10 messages at 10 msgs/s. */
const SMOKE_WEBHOOK_RATE = 10;
/** Webhook steps (msgs/s), until saturation: the baseline goes on past Parley's limit. */
const WEBHOOK_RATES = [100, 250, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 10_000];
/** Mix steps (msgs/s): the specified 1,000, then stepped up until saturation. */
const MIX_RATES = [1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000, 10_000];

/**
 * The steps of the specification (bench/README.md), continued until saturation: a target that
 * still keeps up at the last specified step goes on to the extra ones, so the baseline's limit —
 * which the targets are ratios of — is measured rather than bounded. Other group sizes get steps
 * scaled from the 1,000-member ones.
 */
const SPECIFIED_RATES: Record<number, number[]> = {
  1000: [25, 50, 75, 100, 125, 150, 175, 200, 250],
  100: [250, 500, 1000, 1500, 2000, 2500, 3000],
};

export const USAGE = `Usage: npm run bench -- [options]

  --full              the specified durations: send 20 s, fan-out steps of 10 s (default 5 s and 3 s)
  --smoke             a few seconds at tiny sizes, one run (${SMOKE_MEMBERS} members, ${SMOKE_RATE} messages per fan-out step):
                      checks that the harness works end to end; its figures mean nothing
  --runs N            runs per workload (default 3, or 1 with --smoke; the report is the median with min–max)
  --workload LIST     send,fanout,connections,resume,mix,webhooks (default send,fanout,resume; all six with --smoke)
  --members LIST      fan-out group sizes (default 1000,100; steps continue past the specified ones
                      until each target saturates)
  --connections LIST  idle connection counts of the connections workload (default 10000,19000;
                      at most ${MAX_CONNECTIONS}; ${SMOKE_CONNECTIONS} with --smoke)
  --clients N         resume: clients reconnecting at once (default 10000, in groups of 20; 20 in groups of 5 with --smoke)
                      mix: 10,000 users on 2 nodes, 5,000 direct conversations and 100 groups of 50,
                      steps of ${MIX_RATES.join(', ')} msgs/s until saturation (run it on purpose)
  --webhook-concurrency LIST
                      webhooks: WEBHOOK_CONCURRENCY of each variant, 1..64 (default 4,16); each is run against
                      a bare sender making the same HTTP calls at the same concurrency. webhooks: one node, 200 direct
                      conversations, one webhook to a local receiver, steps of ${WEBHOOK_RATES.join(', ')} msgs/s
                      until saturation (not part of a plain run)
  --no-peer           fan-out without the Socket.IO peer (Parley and the bare ws baseline only)
  --log-level LEVEL   LOG_LEVEL of the Parley processes (default warn: no per-request logging,
                      like the baselines; "info" measures Parley as configured by default)
  --profile DIR       Parley processes write V8 CPU profiles (--cpu-prof) into DIR/<process>/;
                      summarise them with npm run bench:profile-summary -- DIR
  --help              this text

Results: one JSON line per run, step and summary on stdout; progress on stderr.`;

export function parseOptions(argv: string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      full: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      runs: { type: 'string' },
      workload: { type: 'string' },
      members: { type: 'string' },
      connections: { type: 'string' },
      clients: { type: 'string' },
      'webhook-concurrency': { type: 'string' },
      'log-level': { type: 'string', default: 'warn' },
      'no-peer': { type: 'boolean', default: false },
      profile: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  const smoke = values.smoke;
  if (smoke && values.full) throw new Error('--smoke and --full exclude each other');
  if (smoke && (values.members !== undefined || values.clients !== undefined || values['webhook-concurrency'] !== undefined)) {
    throw new Error('--smoke sets its own sizes; leave out --members, --clients and --webhook-concurrency');
  }
  const clients = smoke ? SMOKE_CLIENTS : Number(values.clients ?? 10_000);
  if (!Number.isInteger(clients) || clients < 2 || clients > 19_000) throw new Error(`--clients must be an integer 2..19000, got ${values.clients}`);
  const runs = Number(values.runs ?? (smoke ? 1 : 3));
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error(`--runs must be an integer 1..20, got ${values.runs}`);
  // --smoke covers every workload; a plain run leaves out `connections` (19,000 sockets), `mix` (10,000) and `webhooks`: run them on purpose.
  const workloads = (values.workload ?? (smoke ? WORKLOADS.join(',') : 'send,fanout,resume')).split(',').map((w) => w.trim());
  for (const workload of workloads) if (!WORKLOADS.includes(workload as WorkloadId)) throw new Error(`unknown workload ${workload}`);
  if (smoke && values.connections !== undefined) throw new Error('--smoke sets its own connection count; leave out --connections');
  const counts = smoke ? [SMOKE_CONNECTIONS] : (values.connections ?? '10000,19000').split(',').map(Number).sort((a, b) => a - b);
  for (const count of counts) if (!Number.isInteger(count) || count < 1 || count > MAX_CONNECTIONS) throw new Error(`--connections: counts are 1..${MAX_CONNECTIONS}, got ${count}`);
  const members = smoke ? [SMOKE_MEMBERS] : (values.members ?? '1000,100').split(',').map(Number);
  for (const size of members) if (!Number.isInteger(size) || size < 2 || size > 10_000) throw new Error(`--members: group sizes are 2..10000, got ${size}`);
  const rates: Record<number, number[]> = {};
  for (const size of members) rates[size] = smoke ? [SMOKE_RATE] : SPECIFIED_RATES[size] ?? SPECIFIED_RATES[1000]!.map((rate) => Math.max(1, Math.round((rate * 1000) / size)));
  const concurrencies = (values['webhook-concurrency'] ?? '4,16').split(',').map(Number);
  for (const value of concurrencies) if (!Number.isInteger(value) || value < 1 || value > 64) throw new Error(`--webhook-concurrency: values are 1..64, got ${value}`);
  const full = values.full;
  return {
    full,
    smoke,
    runs,
    workloads: workloads as WorkloadId[],
    logLevel: values['log-level'],
    profileDir: values.profile ?? null,
    send: smoke
      ? { users: 10, conversations: 5, connections: 4, textBytes: 64, warmupMs: 200, durationMs: 500 }
      : { users: 1000, conversations: 500, connections: 64, textBytes: 64, warmupMs: full ? 2000 : 1000, durationMs: full ? 20_000 : 5000 },
    fanout: {
      members,
      rates,
      // Smoke: one step of 10 messages after a warm-up of 3.
      stepMs: smoke ? 1000 : full ? 10_000 : 3000,
      warmupMs: smoke ? 300 : full ? 5000 : 2000,
      deliveryWindowMs: 2000,
      maxP99Ms: 100,
      minDeliveredFraction: 0.99,
      textBytes: 64,
      settleQuietMs: smoke ? 200 : 1000,
      peer: !values['no-peer'],
    },
    connections: {
      counts,
      quietMs: smoke ? 200 : 1000,
      settleMs: smoke ? 200 : 5000,
      // --full: Parley's default interval (30 s); otherwise 10 s, so each step idles for 10 s, not 30.
      heartbeatMs: smoke ? 200 : full ? 30_000 : 10_000,
      idleMs: smoke ? 400 : full ? 30_000 : 10_000,
    },
    resume: {
      clients,
      groupSize: smoke ? 5 : 20,
      missed: 10,
      threads: 2,
      firstConnectConcurrency: 200,
      catchUpTimeoutMs: smoke ? 10_000 : 120_000,
    },
    mix: {
      users: smoke ? SMOKE_MIX_USERS : 10_000,
      groupedUsers: smoke ? SMOKE_MIX_USERS / 2 : 5000,
      groupSize: smoke ? 5 : 50,
      rates: smoke ? [SMOKE_MIX_RATE] : MIX_RATES,
      stepMs: smoke ? 1000 : full ? 10_000 : 3000,
      // Longer than fan-out's: the first seconds of 10,000 users' traffic still pay for JIT and the setup's garbage.
      warmupMs: smoke ? 300 : full ? 10_000 : 5000,
      typingFraction: 0.1,
      readFraction: 0.1,
      idleMs: smoke ? 200 : 2000,
      readConcurrency: 64,
      maxInFlight: 512,
      textBytes: 64,
      deliveryWindowMs: 2000,
      maxP99Ms: 100,
      minDeliveredFraction: 0.99,
      connectConcurrency: 100,
      settleQuietMs: smoke ? 200 : 1000,
    },
    webhooks: {
      users: smoke ? 10 : 400,
      conversations: smoke ? 5 : 200,
      concurrencies,
      rates: smoke ? [SMOKE_WEBHOOK_RATE] : WEBHOOK_RATES,
      stepMs: smoke ? 1000 : full ? 10_000 : 5000,
      warmupMs: smoke ? 300 : full ? 5000 : 2000,
      deliveryWindowMs: 5000,
      maxP99Ms: 1000,
      minDeliveredFraction: 0.99,
      drainTimeoutMs: smoke ? 10_000 : 60_000,
      maxInFlight: 256,
      textBytes: 64,
    },
  };
}
