/**
 * Runs one fault FAULT_ROUNDS times in a fresh fault world, with traffic in between, then checks
 * every guarantee once (history, followers, send answers, leaks against a snapshot taken after the
 * warm-up) and prints the run's figures.
 */
import { FAULT_ROUNDS, SENDS_BETWEEN_FAULTS, startFaultWorld, type FaultWorld } from './fault-world.js';

/** Time each round may take in a test's timeout, beyond the world's start and the checks. */
export const ROUND_BUDGET_MS = 25_000;
/** A test's timeout for `FAULT_ROUNDS` rounds. */
export const faultTimeout = (roundMs = ROUND_BUDGET_MS) => 60_000 + FAULT_ROUNDS * roundMs;

export async function runFault(
  label: string,
  options: Parameters<typeof startFaultWorld>[0],
  fault: (world: FaultWorld, round: number) => Promise<void>,
): Promise<void> {
  const world = await startFaultWorld(options);
  try {
    await world.moreAcked(SENDS_BETWEEN_FAULTS);
    const before = await world.snapshot();
    for (let round = 1; round <= FAULT_ROUNDS; round++) {
      await fault(world, round);
      await world.moreAcked(SENDS_BETWEEN_FAULTS);
    }
    const run = await world.verify(before);
    console.info(
      'fault run',
      JSON.stringify({
        fault: label,
        engine: options.engine,
        rounds: FAULT_ROUNDS,
        acknowledged: run.acknowledged,
        sendAttempts: run.sendAttempts,
        failedAttempts: run.failedAttempts,
        slowestRefusalMs: run.slowestRefusalMs,
        reconnections: run.reconnections,
        before: run.before,
        after: run.after,
      }),
    );
  } finally {
    await world.close();
  }
}
