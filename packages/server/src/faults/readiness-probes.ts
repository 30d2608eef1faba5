/**
 * Readiness probes for the fault world: one loop per node, every 150 ms with a 1 s timeout (a
 * kubelet's default), and the assertions a fault makes on what they saw.
 */
import { expect } from 'vitest';
import { sleep, until } from '../test-support/node-scenarios.js';

/** A node as the probes see it. */
export interface ProbedNode {
  name: string;
  process: { url: string };
}

export interface ReadinessSample {
  node: string;
  startedAt: number;
  endedAt: number;
  /** The answer's status; 0 when none came within the probe's timeout. */
  status: number;
}

/** How long a probe waits for an answer: a kubelet's default. */
const PROBE_TIMEOUT_MS = 1000;

export interface ReadinessProbes {
  /** Every sample so far, in the order they ended. */
  readonly samples: ReadinessSample[];
  /** Resolves once every node has a not-ready readiness sample that started at or after `since`. */
  notReadyEverywhere(nodes: ProbedNode[], since: number, timeoutMs?: number): Promise<void>;
  /** Resolves once every probed node answers its readiness probe 200 again. */
  readyEverywhere(timeoutMs?: number): Promise<void>;
  /** The samples of `node` that started within [from, to]. */
  samplesBetween(node: ProbedNode, from: number, to: number): ReadinessSample[];
  /**
   * Asserts that every readiness probe of the nodes that started at or after `from` (the fault in
   * place) and ended by `to` (before it was undone) failed, and that there was at least one each.
   */
  expectNotReadyThroughout(nodes: ProbedNode[], from: number, to: number): void;
  /**
   * Asserts that every readiness probe of the nodes that started within [from, to] and got an
   * answer was answered 200, and that there was one at least. Not counted, as possibly the test
   * machine's own slowness rather than the node's state: a probe without an answer within its
   * second, and a 503 that took the whole second (the node's own 1 s ping timed out, which on a
   * starved machine is load). A node unready throughout still fails: none of its probes is 200.
   */
  expectReadyThroughout(nodes: ProbedNode[], from: number, to: number): void;
  /** Stops probing; resolves once the loops have ended. */
  stop(): Promise<void>;
}

export function startReadinessProbes(nodes: ProbedNode[]): ReadinessProbes {
  const samples: ReadinessSample[] = [];
  let stopped = false;
  const loops = Promise.all(
    nodes.map(async (node) => {
      while (!stopped) {
        const startedAt = Date.now();
        let status = 0;
        try {
          status = (await fetch(`${node.process.url}/health/ready`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })).status;
        } catch {
          // No answer within the probe's timeout: not ready, as a kubelet counts it.
        }
        samples.push({ node: node.name, startedAt, endedAt: Date.now(), status });
        await sleep(150);
      }
    }),
  );
  const samplesBetween = (node: ProbedNode, from: number, to: number) =>
    samples.filter((sample) => sample.node === node.name && sample.startedAt >= from && sample.startedAt <= to);
  return {
    samples,
    async notReadyEverywhere(which, since, timeoutMs = 15_000) {
      await until(
        'readiness to report the outage on every node',
        () => which.every((node) => samples.some((sample) => sample.node === node.name && sample.startedAt >= since && sample.status !== 200)),
        timeoutMs,
      );
    },
    async readyEverywhere(timeoutMs = 30_000) {
      const since = Date.now();
      await until(
        'readiness 200 on every node',
        () => nodes.every((node) => samples.some((sample) => sample.node === node.name && sample.startedAt >= since && sample.status === 200)),
        timeoutMs,
      );
    },
    samplesBetween,
    expectReadyThroughout(which, from, to) {
      for (const node of which) {
        const answered = samplesBetween(node, from, to).filter(
          (sample) => sample.status !== 0 && !(sample.status === 503 && sample.endedAt - sample.startedAt >= PROBE_TIMEOUT_MS - 100),
        );
        expect(answered.length, `answered readiness probes of ${node.name}`).toBeGreaterThan(0);
        expect(answered.filter((sample) => sample.status !== 200), `readiness of ${node.name}`).toEqual([]);
      }
    },
    expectNotReadyThroughout(which, from, to) {
      for (const node of which) {
        const within = samples.filter((sample) => sample.node === node.name && sample.startedAt >= from && sample.endedAt <= to);
        expect(within.length, `readiness probes of ${node.name} during the outage`).toBeGreaterThan(0);
        expect(within.filter((sample) => sample.status === 200), `probes of ${node.name} answered ready during the outage`).toEqual([]);
      }
    },
    async stop() {
      stopped = true;
      await loops;
    },
  };
}
