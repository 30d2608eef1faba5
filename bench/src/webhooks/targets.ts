/**
 * The two systems the `webhooks` workload measures, behind one interface: Parley (one node on the
 * private Redis, a tenant whose users post over REST into direct conversations, one webhook on
 * `message.created` pointing at the receiver) and the bare sender (bare-sender.ts: the same HTTP
 * calls to the same receiver, nothing else). Either way an event's start is stamped into `starts`
 * before it exists anywhere, and the receiver stamps its arrival.
 */
import { Agent } from 'node:http';
import { fileURLToPath } from 'node:url';
import { runPaced } from '../fanout/paced-sender.js';
import { IpcProcess } from '../ipc-process.js';
import { loopbackEndpoint, sendRequest, type RequestSpec } from '../load/http-send.js';
import { createTenantWithUsers, createWebhook, newAdminKey, openDirectPairs } from '../parley-api.js';
import { startParley, type ParleyNode } from '../parley-server.js';
import { startProcess } from '../processes.js';
import type { BenchRedis } from '../redis-server.js';
import { percentile } from '../stats.js';
import { webhookText, type SenderRequest, type SenderStats, type SenderStepReply } from './protocol.js';

export type WebhookTargetName = 'parley' | 'bare-http';

export interface SendPlan {
  step: number;
  rate: number;
  total: number;
  /** Filled with each event's start (monoMs) before the event is created; NaN for events never started. */
  starts: Float64Array;
  /** Set to 1 for each event the target accepted (Parley: 201; bare: queued): the events owed to the receiver. */
  accepted: Uint8Array;
  /** A send not started within this time of the step's start is not sent at all (Parley). */
  hardStopMs: number;
  label: string;
}

export interface SendOutcome {
  /** Events started, and accepted (see SendPlan.accepted). */
  sent: number;
  accepted: number;
  /** monoMs of the last start. */
  lastStartAt: number;
  /** How late the latest event started after its due time. */
  maxLagMs: number;
}

/** The sending side's view of a step, read once its delivery window closed. */
export interface SenderView {
  /** Parley: send start → 201; bare: POST written → the receiver's answer (ms; NaN when none). */
  sendP50Ms: number;
  sendP99Ms: number;
  /** Delivery attempts that failed (no 2xx, timeout, error): Parley's retries from /metrics, the bare sender's failures. */
  attemptsFailed: number;
}

export interface WebhookTarget {
  readonly name: WebhookTargetName;
  /** Delivery attempts at once (Parley's WEBHOOK_CONCURRENCY; the bare sender's requests in flight). */
  readonly concurrency: number;
  /** Processes whose CPU is the target's: `server` (Parley or the bare sender) and `redis` (Parley only). */
  readonly pids: { server: number[]; redis: number[] };
  /**
   * Creates the plan's events at its rate, open loop (Parley: REST sends; bare: events queued in
   * memory); resolves once every event was started and, for Parley, answered.
   */
  send(plan: SendPlan): Promise<SendOutcome>;
  /** Called once per step, after its delivery window closed, before the next step starts. */
  view(step: number): Promise<SenderView>;
  /** Resolves once the target has nothing left of its own to send (bare: its queue is empty; Parley's queue is in Redis). */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export interface WebhookTargetSettings {
  users: number;
  conversations: number;
  textBytes: number;
  /** REST sends in flight at most (Parley). */
  maxInFlight: number;
}

const SENDER_SCRIPT = fileURLToPath(new URL('./bare-sender.js', import.meta.url));

/** The sum of a counter's series with these labels in a Prometheus text exposition (0 when absent). */
function counter(text: string, name: string, labels: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(labels)) total += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return total;
}

async function failedAttempts(node: ParleyNode): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  return counter(text, 'parley_webhook_deliveries_total', 'outcome="retry"') + counter(text, 'parley_webhook_deliveries_total', 'outcome="failed"');
}

export async function startParleyWebhookTarget(
  redis: BenchRedis,
  receiverUrl: string,
  concurrency: number,
  settings: WebhookTargetSettings,
  logLevel: string,
): Promise<WebhookTarget & { setupMs: number }> {
  const setupStarted = Date.now();
  const adminKey = newAdminKey();
  const node = await startParley('parley', {
    redisUrl: redis.url,
    adminKey,
    logLevel,
    // Lets Parley call http://127.0.0.1 (the receiver); every other rule of the outbound policy stays on.
    env: { OUTBOUND_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_CONCURRENCY: String(concurrency) },
  });
  try {
    const tenant = await createTenantWithUsers(node.url, adminKey, settings.users);
    const conversations = (await openDirectPairs(node.url, tenant.users)).slice(0, settings.conversations);
    // After the setup: the conversations' own events are not queued for it.
    await createWebhook(node.url, tenant.apiKey, `${receiverUrl}/webhooks/parley`, ['message.created']);
    const endpoint = loopbackEndpoint(node.url);
    const agent = new Agent({ keepAlive: true, maxSockets: settings.maxInFlight });
    const heads = conversations.flatMap((conversation) =>
      conversation.members.map((member) => ({
        path: `/v1/conversations/${conversation.id}/messages`,
        headers: { authorization: `Bearer ${member.token}`, 'content-type': 'application/json' },
      })),
    );
    const sendLatencies = new Map<number, Float64Array>();
    // Read between steps (after a step's view), never while a step's CPU is measured.
    let failedBefore = await failedAttempts(node);
    return {
      name: 'parley',
      concurrency,
      pids: { server: [node.pid], redis: [redis.pid] },
      setupMs: Date.now() - setupStarted,
      async send(plan) {
        const paced = await runPaced({
          rate: plan.rate,
          total: plan.total,
          starts: plan.starts,
          maxInFlight: settings.maxInFlight,
          hardStopMs: plan.hardStopMs,
          label: plan.label,
          // Conversation i mod C, its two members taking turns (as in `send`): ordering per
          // conversation never serialises more than one event in C.
          send: async (index) => {
            const conversation = index % conversations.length;
            const turn = Math.floor(index / conversations.length) % 2;
            const head = heads[conversation * 2 + turn]!;
            const spec: RequestSpec = { method: 'POST', ...head, body: Buffer.from(JSON.stringify({ text: webhookText(plan.step, index, settings.textBytes) })) };
            const ok = (await sendRequest(agent, endpoint, spec)) === 201;
            if (ok) plan.accepted[index] = 1;
            return ok;
          },
        });
        sendLatencies.set(plan.step, paced.sendLatencies);
        return { sent: paced.sent, accepted: paced.accepted, lastStartAt: paced.lastStartAt, maxLagMs: paced.maxLagMs };
      },
      async view(step) {
        const latencies = sendLatencies.get(step) ?? new Float64Array(0);
        sendLatencies.delete(step);
        const failed = await failedAttempts(node);
        const attemptsFailed = failed - failedBefore;
        failedBefore = failed;
        return { sendP50Ms: percentile(latencies, 50), sendP99Ms: percentile(latencies, 99), attemptsFailed };
      },
      drain: () => Promise.resolve(),
      async stop() {
        agent.destroy();
        await node.stop();
      },
    } satisfies WebhookTarget & { setupMs: number };
  } catch (error) {
    await node.stop();
    throw error;
  }
}

export function startBareWebhookTarget(receiverUrl: string, concurrency: number, settings: WebhookTargetSettings): WebhookTarget {
  const sender = new IpcProcess<SenderRequest>(startProcess('bare-webhook-sender', process.execPath, [SENDER_SCRIPT], {}, { ipc: true }));
  const url = `${receiverUrl}/webhooks/bare`;
  return {
    name: 'bare-http',
    concurrency,
    pids: { server: [sender.managed.pid], redis: [] },
    async send(plan) {
      const reply = await sender.call<SenderStepReply>({ op: 'step', step: plan.step, rate: plan.rate, total: plan.total, url, concurrency, textBytes: settings.textBytes });
      reply.starts.forEach((at, index) => (plan.starts[index] = at));
      plan.accepted.fill(1);
      return { sent: plan.total, accepted: plan.total, lastStartAt: reply.starts[reply.starts.length - 1] ?? 0, maxLagMs: reply.maxLagMs };
    },
    async view(step) {
      const stats = await sender.call<SenderStats>({ op: 'stats', step });
      return { sendP50Ms: stats.p50Ms ?? Number.NaN, sendP99Ms: stats.p99Ms ?? Number.NaN, attemptsFailed: stats.failed };
    },
    async drain() {
      await sender.call({ op: 'drain' });
    },
    stop: () => sender.managed.stop(),
  };
}
