/**
 * The fast receiver of the `webhooks` workload, its own process (so that neither Parley nor the
 * harness shares its event loop): a bare node:http server on 127.0.0.1:$PORT that reads each POST's
 * body, answers 204 at once and records, per event, the time it arrived — found by the marker
 * `"text":"wh:<step>:<index>:` in the body (one byte search, no JSON parsing). It neither verifies
 * signatures nor keeps bodies: it stands for a receiver that costs next to nothing. The harness
 * drives it over IPC (protocol.ts).
 */
import { createServer } from 'node:http';
import { monoMs } from '../clock.js';
import { readMarked } from '../marked-text.js';
import { WEBHOOK_MARKER, type ReceiverCount, type ReceiverReport, type ReceiverRequest } from './protocol.js';
import { serveIpc } from '../ipc-process.js';

interface StepRecord {
  /** First arrival per event index (NaN: not yet). */
  arrivals: Float64Array;
  received: number;
  duplicates: number;
  bodyBytes: number;
  requests: number;
}

const steps = new Map<number, StepRecord>();
let unmarked = 0;

function record(body: Buffer, at: number): void {
  const marked = readMarked(body, WEBHOOK_MARKER);
  const step = marked === null ? undefined : steps.get(marked[0]);
  if (marked === null || step === undefined || marked[1] >= step.arrivals.length) {
    unmarked += 1;
    return;
  }
  step.requests += 1;
  step.bodyBytes += body.length;
  const index = marked[1];
  if (Number.isNaN(step.arrivals[index]!)) {
    step.arrivals[index] = at;
    step.received += 1;
  } else {
    step.duplicates += 1;
  }
}

const server = createServer((request, response) => {
  if (request.method !== 'POST') {
    // GET /health/ready: the harness waits for it before using the receiver.
    request.resume();
    response.writeHead(200).end();
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    // Stamped once the whole body is in: the event has been delivered.
    record(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), monoMs());
    response.writeHead(204).end();
  });
});
// Parley opens a connection per attempt: a deep accept queue so that bursts are not dropped.
server.listen({ host: '127.0.0.1', port: Number(process.env.PORT), backlog: 4096 });

function count(ids: readonly number[]): ReceiverCount {
  let received = 0;
  let duplicates = 0;
  for (const id of ids) {
    const step = steps.get(id);
    received += step?.received ?? 0;
    duplicates += step?.duplicates ?? 0;
  }
  return { received, duplicates };
}

function report(id: number): ReceiverReport {
  const step = steps.get(id);
  if (step === undefined) throw new Error(`step ${id} was never begun`);
  return {
    received: step.received,
    duplicates: step.duplicates,
    arrivals: Array.from(step.arrivals, (at) => (Number.isNaN(at) ? null : at)),
    meanBodyBytes: step.requests > 0 ? step.bodyBytes / step.requests : null,
    unmarked,
  };
}

serveIpc<ReceiverRequest>((request) => {
  switch (request.op) {
    case 'begin':
      steps.set(request.step, { arrivals: new Float64Array(request.total).fill(Number.NaN), received: 0, duplicates: 0, bodyBytes: 0, requests: 0 });
      return {};
    case 'count':
      return count(request.steps);
    case 'report':
      return report(request.step);
    case 'forget':
      for (const id of request.steps) steps.delete(id);
      return {};
  }
});
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
