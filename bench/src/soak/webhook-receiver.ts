/**
 * The soak's webhook receiver, in the script's own process (the soak's webhook traffic is a
 * trickle, unlike the `webhooks` workload's): a node:http server on a free loopback port that
 * answers 204 at once and counts `message.created` deliveries by message id, so that what the
 * tenant's endpoint got can be set against the sends acknowledged. Webhooks are delivered at least
 * once: a repeat is counted, not an error.
 */
import { createServer, type Server } from 'node:http';
import { freePort } from '../ports.js';

export interface WebhookCounts {
  /** Distinct messages delivered. */
  delivered: number;
  /** Deliveries of a message already delivered. */
  repeats: number;
  /** Bodies that were not a `message.created` event. */
  other: number;
}

export interface SoakWebhookReceiver {
  readonly url: string;
  counts(): WebhookCounts;
  /** Whether the message with this id was delivered. */
  has(messageId: string): boolean;
  stop(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<SoakWebhookReceiver> {
  const seen = new Set<string>();
  const counts: WebhookCounts = { delivered: 0, repeats: 0, other: 0 };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        const event = JSON.parse(Buffer.concat(chunks).toString()) as { type?: string; data?: { message?: { id?: string } } };
        const id = event.type === 'message.created' ? event.data?.message?.id : undefined;
        if (id === undefined) counts.other += 1;
        else if (seen.has(id)) counts.repeats += 1;
        else {
          seen.add(id);
          counts.delivered += 1;
        }
      } catch {
        counts.other += 1;
      }
      response.writeHead(204).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port }, resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    has: (messageId) => seen.has(messageId),
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
