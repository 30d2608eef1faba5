/**
 * Runs command sequences through the model and the real system, for the generated test and the
 * regression tests alike: a fresh tenant per sequence, every command checked against the model as
 * it runs, and the whole state compared after the last one.
 */
import fc from 'fast-check';
import { afterAll, beforeAll } from 'vitest';
import type { DeliveryCommand } from './delivery-commands.js';
import { DeliveryModel } from './delivery-model.js';
import { DeliveryCluster, DeliverySystem, type Flavour } from './delivery-system.js';

/** The two ways Parley runs: three processes on the test Redis (with faults injected), or one embedded process. */
export const FLAVOURS: readonly { flavour: Flavour; nodes: number; runs: number }[] = [
  { flavour: 'embedded', nodes: 1, runs: 50 },
  { flavour: 'redis', nodes: 3, runs: 10 },
];

/** Runs per flavour (MODEL_RUNS, else the flavour's short-run default) and the seed (MODEL_SEED, else random). */
export function runSettings(defaultRuns: number): { runs: number; seed: number } {
  const runs = process.env.MODEL_RUNS !== undefined ? Number(process.env.MODEL_RUNS) : defaultRuns;
  const seed = process.env.MODEL_SEED !== undefined ? Number(process.env.MODEL_SEED) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isSafeInteger(runs) || runs < 1 || !Number.isSafeInteger(seed)) throw new Error('MODEL_RUNS and MODEL_SEED must be integers (runs ≥ 1)');
  return { runs, seed };
}

/** The cluster of a describe block: started in beforeAll, stopped (and its Redis keys deleted) in afterAll. */
export function useDeliveryCluster(flavour: Flavour, nodes: number): () => DeliveryCluster {
  let cluster: DeliveryCluster | undefined;
  beforeAll(async () => {
    cluster = new DeliveryCluster(flavour, nodes);
    await cluster.start();
  }, 60_000);
  afterAll(() => cluster?.close());
  return () => {
    if (!cluster) throw new Error('the cluster starts in beforeAll');
    return cluster;
  };
}

/** How many commands of each kind ran (their check passed), for the summary a run prints: a fault that never ran tested nothing. */
export class CommandTally {
  readonly counts = new Map<string, number>();
  sequences = 0;

  /** The commands, each counted by its name when it runs. */
  counting(commands: Iterable<DeliveryCommand>): DeliveryCommand[] {
    return [...commands].map((command) => ({
      check: (model) => command.check(model),
      run: async (model, real) => {
        const name = command.toString().slice(0, command.toString().indexOf('('));
        this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
        await command.run(model, real);
      },
      toString: () => command.toString(),
    }));
  }

  toString(): string {
    const total = [...this.counts.values()].reduce((sum, count) => sum + count, 0);
    return `${this.sequences} sequences, ${total} commands (${[...this.counts].sort(([a], [b]) => a.localeCompare(b)).map(([name, count]) => `${name} ${count}`).join(', ')})`;
  }
}

/** One sequence: a fresh tenant, the commands (those whose check passes), then the full comparison. */
export async function runSequence(cluster: DeliveryCluster, commands: Iterable<DeliveryCommand>, tally?: CommandTally): Promise<void> {
  const real = await DeliverySystem.create(cluster);
  const model = new DeliveryModel(cluster.nodeCount, cluster.flavour === 'redis');
  try {
    if (tally) tally.sequences += 1;
    await fc.asyncModelRun(() => ({ model, real }), tally ? tally.counting(commands) : commands);
    await real.check(model);
  } finally {
    await real.close();
  }
}
