/**
 * The model-based test of Parley's delivery guarantees (see delivery-model.ts for the model,
 * delivery-commands.ts for the commands, delivery-system.ts for the properties checked after
 * every sequence). fast-check generates command sequences — sends with and without
 * clientMessageId, retries through another node, edits, deletes, reactions, reads, members added
 * and removed (online or not), clients disconnecting and resuming anywhere with their cursor and,
 * on Redis, nodes killed or drained and restarted and their Redis subscription cut — runs each
 * against a fresh tenant and shrinks any failure to a minimal sequence.
 *
 * Short by default (`npm test`); MODEL_RUNS and MODEL_SEED (or `npm run test:model -- --runs N
 * [--seed S]`) run longer or replay a failure, whose seed fast-check prints.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { commandArbitrary } from './delivery-commands.js';
import { CommandTally, FLAVOURS, runSequence, runSettings, useDeliveryCluster } from './delivery-run.js';

/** Long enough for one sequence with a few node restarts on a loaded 2-core machine. */
const MAX_RUN_MS = 120_000;

describe.each(FLAVOURS)('delivery guarantees against the model ($flavour, $nodes node(s))', ({ flavour, nodes, runs: defaultRuns }) => {
  const cluster = useDeliveryCluster(flavour, nodes);
  const { runs, seed } = runSettings(defaultRuns);

  it(
    `holds for ${runs} generated command sequences`,
    async () => {
      console.log(`model test (${flavour}): ${runs} runs, seed ${seed}`);
      const started = Date.now();
      const tally = new CommandTally();
      await fc.assert(
        fc.asyncProperty(fc.commands([commandArbitrary(flavour === 'redis')], { maxCommands: 50, size: 'max' }), (commands) => runSequence(cluster(), commands, tally)),
        { numRuns: runs, seed, timeout: MAX_RUN_MS },
      );
      console.log(`model test (${flavour}): ${runs} runs passed in ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${seed}): ${tally}`);
    },
    runs * MAX_RUN_MS,
  );
});
