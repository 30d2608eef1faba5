/**
 * The traffic of the fault world, through each node's client proxy:
 * - three senders send a steady stream to one group: two give each message its own
 *   clientMessageId and retry it with the same id (through the next node) until acknowledged, as
 *   an SDK does; the third sends without one and gives up on a failure;
 * - followers (spread over the nodes) follow the group over WebSockets and, whenever a socket
 *   closes or cannot open, reconnect to their node with the cursor of the last frame they got.
 */
import { COMMAND_TIMEOUT_MS } from '../engine/redis/redis-connection.js';
import type { TenantUser } from '../test-support/conversations.js';
import { send, sleep, until } from '../test-support/node-scenarios.js';
import { connectRealtime, type RealtimeClient } from '../test-support/realtime-client.js';

/**
 * A send attempt gets this long for an answer: a send that meets an unreachable or stalled Redis
 * is answered 503 within the command timeout (3 s), plus room for a loaded machine. No answer by
 * then is a hang (fault-checks.ts fails it).
 */
export const SEND_ATTEMPT_TIMEOUT_MS = COMMAND_TIMEOUT_MS + 3000;

/** A node as the traffic sees it: clients reach it at `clientUrl`. */
export interface TrafficNode {
  name: string;
  clientUrl: string;
}

/** One attempt of a sender, as the client saw it. */
export interface SendAttempt {
  node: string;
  /** The answer's status; 0 when there was no complete answer. */
  status: number;
  code?: string;
  /** Without a complete answer: the connection failed (cut, reset), or none came in time. */
  failure?: 'network' | 'timeout';
  elapsedMs: number;
}

export interface Follower {
  user: TenantUser;
  home: TrafficNode;
  /** Every connection it opened, in order. */
  connections: RealtimeClient[];
  /** The open connection, once ready; undefined while reconnecting. */
  open: RealtimeClient | undefined;
}

export interface FaultTraffic {
  /** Acknowledged messages by text (a send's clientMessageId, when it has one). */
  readonly acked: Map<string, { id: string; seq: number }>;
  /** Texts of sends without a clientMessageId that failed and were given up: stored once or not at all. */
  readonly givenUp: Set<string>;
  readonly attempts: SendAttempt[];
  readonly followers: Follower[];
  /** Starts no new send; resolves once the sends in progress are done (a retried one once acknowledged). */
  finishSending(): Promise<void>;
  /** Closes each follower's socket normally `times` times, waiting for it to be back each time. */
  churnFollowers(times: number): Promise<void>;
  /** Resolves once every follower is connected and ready. */
  followersConnected(timeoutMs: number): Promise<void>;
  /** Follower connections opened after the first ones. */
  reconnections(): number;
  /**
   * Stops everything at once: senders abandon their retries (no retries into stopped nodes),
   * follower sockets are terminated; resolves once the loops have ended, or after `graceMs`.
   */
  stop(graceMs: number): Promise<void>;
}

export async function startFaultTraffic(options: {
  nodes: TrafficNode[];
  conversationId: string;
  /** The first two retry with a clientMessageId; the third does not. */
  senders: [TenantUser, TenantUser, TenantUser];
  /** Each follows from node `index % nodes.length`. */
  followers: TenantUser[];
}): Promise<FaultTraffic> {
  const { nodes, conversationId } = options;
  /** The follower loops, and the senders' retries, run until `stopped`; new sends until `sending` is false. */
  let stopped = false;
  let sending = true;

  const followers: Follower[] = options.followers.map((user, i) => ({ user, home: nodes[i % nodes.length]!, connections: [], open: undefined }));
  const followerLoops = Promise.all(
    followers.map(async (follower) => {
      let cursor: string | undefined;
      while (!stopped) {
        try {
          const client = await connectRealtime(follower.home.clientUrl, { token: follower.user.token, ...(cursor ? { cursor } : {}) });
          if (stopped) {
            // Connected while the world was closing: nobody would terminate it.
            client.socket.terminate();
            break;
          }
          follower.connections.push(client);
          client.waitFor((frame) => frame.type === 'ready', 60_000).then(
            () => (follower.open = client),
            () => undefined,
          );
          await client.closed;
          follower.open = undefined;
          cursor = client.lastCursor() ?? cursor;
        } catch {
          // Refused (503 while storage is unreachable) or cut before the upgrade: try again.
        }
        if (!stopped) await sleep(100);
      }
    }),
  );
  const followersConnected = (timeoutMs: number) => until('every follower to be connected', () => followers.every((follower) => follower.open !== undefined), timeoutMs);
  try {
    await followersConnected(15_000);
  } catch (error) {
    stopped = true;
    for (const follower of followers) for (const client of follower.connections) client.socket.terminate();
    throw error;
  }

  // s3 sends without a clientMessageId, as an app that does not retry: a failed send of s3 is
  // given up, and may or may not be stored, but never twice (each of its texts is unique).
  const acked = new Map<string, { id: string; seq: number }>();
  const givenUp = new Set<string>();
  const attempts: SendAttempt[] = [];
  const sendLoops = Promise.all(
    options.senders.map(async (sender, senderIndex) => {
      const retries = senderIndex < 2;
      for (let i = 1; sending; i++) {
        const text = retries ? `${sender.id}-${i}` : `${sender.id}-once-${i}`;
        for (let attempt = 0; ; attempt++) {
          // The world is closing (a test failed, or is over): no retries into stopped nodes.
          if (stopped) return;
          // Each retry goes through the next node, as behind a load balancer.
          const node = nodes[(senderIndex + i + attempt) % nodes.length]!;
          const startedAt = Date.now();
          const result = await send({ url: node.clientUrl }, sender.token, conversationId, text, {
            timeoutMs: SEND_ATTEMPT_TIMEOUT_MS,
            ...(retries ? { clientMessageId: text } : {}),
          });
          attempts.push({
            node: node.name,
            status: result.status,
            elapsedMs: Date.now() - startedAt,
            ...(typeof result.body?.code === 'string' ? { code: result.body.code } : {}),
            ...(result.failure ? { failure: result.failure } : {}),
          });
          if (result.status === 200 || result.status === 201) {
            acked.set(text, { id: result.body.id as string, seq: result.body.seq as number });
            break;
          }
          if (!retries) {
            givenUp.add(text);
            break;
          }
          await sleep(100);
        }
        await sleep(20);
      }
    }),
  );

  return {
    acked,
    givenUp,
    attempts,
    followers,
    async finishSending() {
      sending = false;
      await sendLoops;
    },
    async churnFollowers(times) {
      await Promise.all(
        followers.map(async (follower) => {
          for (let churn = 0; churn < times; churn++) {
            const current = follower.open;
            if (!current) throw new Error(`${follower.user.id} is not connected`);
            current.socket.close();
            await until(`${follower.user.id} to reconnect`, () => follower.open !== undefined && follower.open !== current, 10_000);
          }
        }),
      );
    },
    followersConnected,
    reconnections: () => followers.reduce((total, follower) => total + follower.connections.length - 1, 0),
    async stop(graceMs) {
      sending = false;
      stopped = true;
      for (const follower of followers) for (const client of follower.connections) client.socket.terminate();
      await Promise.race([Promise.all([sendLoops, followerLoops]), sleep(graceMs)]);
    },
  };
}
