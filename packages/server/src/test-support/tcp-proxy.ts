/**
 * A TCP proxy for fault-injection tests (node:net): put between Parley and Redis (REDIS_URL names
 * the proxy) or between clients and a node, it adds latency with jitter in each direction, can
 * black-hole traffic (connections stay open, nothing arrives: a partition) and can reset every
 * connection at once (RST, as a restarted load balancer or a lost NAT entry does).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface Latency {
  /** Added to each chunk in each direction: uniformly between the two bounds. */
  minMs: number;
  maxMs: number;
}

/**
 * A running proxy. Guarantees: bytes of one connection arrive in the order they were sent, in each
 * direction, whatever the latency's jitter (a chunk never overtakes an earlier one); a side's
 * normal close (FIN) reaches the other side after every byte sent before it, with the same delay
 * (half-closes are passed on); nothing is dropped except by `resetAll` (held and delayed bytes of
 * the reset connections are discarded) or an error on one side (the other is destroyed at once).
 */
export interface TcpProxy {
  readonly port: number;
  /** `scheme://127.0.0.1:port` (e.g. `redis` for a REDIS_URL, `http` for a node's clients). */
  url(scheme: string): string;
  /** Adds latency to every chunk from now on (null: none). */
  setLatency(latency: Latency | null): void;
  /**
   * On: every chunk (and a close) is held, on open and new connections (which are accepted and
   * connected upstream), in both directions or only in the answers' (`from-target`: requests
   * arrive and are acted upon, their answers are lost); off: what was held goes on, in order, as
   * after a healed partition.
   */
  setBlackHole(on: boolean, direction?: 'both' | 'from-target'): void;
  /** Resets (RST) both sides of every open connection; returns how many there were. */
  resetAll(): number;
  /** Connections open through the proxy right now (either side still open). */
  openConnections(): number;
  /** Stops accepting and resets every connection. */
  close(): Promise<void>;
}

interface Relay {
  /** Queues a chunk for the far side, behind every earlier one. */
  push(chunk: Buffer): void;
  /** The near side closed normally: ends the far side once every queued chunk is written. */
  end(): void;
  /** Lets what the black hole held go on. */
  release(): void;
  /** Drops everything queued and stops the timer. */
  discard(): void;
}

/** One direction of one connection: a FIFO of chunks, each written once its due time has come. */
function createRelay(to: Socket, delay: () => number, blackHoled: () => boolean): Relay {
  const queue: { due: number; chunk: Buffer | 'end' }[] = [];
  const held: (Buffer | 'end')[] = [];
  let timer: NodeJS.Timeout | undefined;
  let lastDue = 0;
  const pump = () => {
    timer = undefined;
    const now = Date.now();
    while (queue.length > 0 && queue[0]!.due <= now) {
      const { chunk } = queue.shift()!;
      if (to.destroyed) continue;
      if (chunk === 'end') to.end();
      else to.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(pump, queue[0]!.due - now);
  };
  const enqueue = (chunk: Buffer | 'end') => {
    // Never before the previous chunk: jitter must not reorder a byte stream (nor a close).
    const due = Math.max(lastDue, Date.now() + delay());
    lastDue = due;
    queue.push({ due, chunk });
    if (timer === undefined) timer = setTimeout(pump, Math.max(0, due - Date.now()));
  };
  const push = (chunk: Buffer | 'end') => {
    if (blackHoled()) held.push(chunk);
    else enqueue(chunk);
  };
  return {
    push,
    end: () => push('end'),
    release() {
      for (const chunk of held.splice(0)) enqueue(chunk);
    },
    discard() {
      held.length = 0;
      queue.length = 0;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** Starts a proxy on a free loopback port forwarding to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let latency: Latency | null = null;
  let blackHole: 'off' | 'both' | 'from-target' = 'off';
  const delay = () => (latency === null ? 0 : latency.minMs + Math.random() * (latency.maxMs - latency.minMs));
  const pairs = new Set<{ client: Socket; upstream: Socket; relays: Relay[] }>();

  // Half-open allowed on both sides: a side that sent FIN can still receive what is on its way.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ port: target.port, host: target.host, allowHalfOpen: true });
    const toUpstream = createRelay(upstream, delay, () => blackHole === 'both');
    const toClient = createRelay(client, delay, () => blackHole !== 'off');
    const pair = { client, upstream, relays: [toUpstream, toClient] };
    pairs.add(pair);
    // Pure pass-through: no Nagle delay added on top of the latency asked for.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => toUpstream.push(chunk));
    upstream.on('data', (chunk: Buffer) => toClient.push(chunk));
    // A normal close (FIN) goes on after the bytes before it.
    client.on('end', () => toUpstream.end());
    upstream.on('end', () => toClient.end());
    // An error on one side (a reset, a refused upstream) destroys the other at once.
    const fail = () => {
      if (!pairs.delete(pair)) return;
      for (const relay of pair.relays) relay.discard();
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', fail);
      socket.on('close', () => {
        if (client.destroyed && upstream.destroyed) pairs.delete(pair);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy: no port');

  const resetAll = () => {
    const count = pairs.size;
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      for (const relay of pair.relays) relay.discard();
      for (const socket of [pair.client, pair.upstream]) if (!socket.destroyed) socket.resetAndDestroy();
    }
    return count;
  };
  return {
    port: address.port,
    url: (scheme) => `${scheme}://127.0.0.1:${address.port}`,
    setLatency(next) {
      latency = next;
    },
    setBlackHole(on, direction = 'both') {
      blackHole = on ? direction : 'off';
      if (!on) for (const pair of pairs) for (const relay of pair.relays) relay.release();
    },
    resetAll,
    openConnections: () => pairs.size,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      resetAll();
      await closed;
    },
  };
}
