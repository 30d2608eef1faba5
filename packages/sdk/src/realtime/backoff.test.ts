/**
 * Reconnection policy without timing: the backoff's windows (full jitter, doubling, capped,
 * reset), and the delays the connection schedules after failures, a stable connection, a
 * server restart (1012, jittered) and a refused token; one socket however often `start()` is
 * called; a token that cannot be obtained for now (retried) versus refused (offline until
 * `reconnectNow()`); a hanging handshake replaced; close 4009 stopping instead of evicting in a
 * loop; the cursor adopted after a REST catch-up — with an injected scheduler, random source and
 * a scripted WebSocket, so nothing waits on real time.
 */
import { describe, expect, it } from 'vitest';
import { ParleyError, ParleyNetworkError } from '../errors.js';
import { createBackoff } from './backoff.js';
import { createRealtimeConnection, type RealtimeConnectionOptions, type RealtimeError } from './connection.js';
import type { Scheduler, WebSocketLike } from './deps.js';

describe('createBackoff', () => {
  it('draws each delay uniformly below a window that doubles from baseMs up to capMs', () => {
    const top = createBackoff({ baseMs: 100, capMs: 3000, random: () => 0.999_999 });
    const delays = Array.from({ length: 8 }, () => top.next());
    expect(delays).toEqual([99, 199, 399, 799, 1599, 2999, 2999, 2999]);
    const bottom = createBackoff({ baseMs: 100, capMs: 3000, random: () => 0 });
    expect(Array.from({ length: 8 }, () => bottom.next())).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('stays finite and capped after very many attempts, and reset starts over', () => {
    const backoff = createBackoff({ baseMs: 500, capMs: 30_000, random: () => 0.5 });
    for (let i = 0; i < 5000; i++) expect(backoff.next()).toBeLessThanOrEqual(15_000);
    expect(backoff.attempts).toBe(5000);
    backoff.reset();
    expect(backoff.next()).toBe(250);
  });
});

/** Timers that run only when the test says so; the clock moves only when the test moves it. */
function manualScheduler(random = () => 0.999_999) {
  const timers = new Map<number, { callback: () => void; ms: number }>();
  let nextId = 0;
  const scheduler: Scheduler & { time: number } = {
    time: 0,
    setTimeout(callback, ms) {
      timers.set(++nextId, { callback, ms });
      return nextId;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    now: () => scheduler.time,
    random,
  };
  return {
    scheduler,
    /** Delays of the pending reconnect timers (heartbeat ticks are 10^6 ms and longer here). */
    reconnectDelays: () => [...timers.values()].filter((timer) => timer.ms < 1_000_000).map((timer) => timer.ms),
    /** Runs the pending heartbeat tick. */
    fireHeartbeat() {
      const entry = [...timers].find(([, timer]) => timer.ms >= 1_000_000);
      if (!entry) throw new Error('no heartbeat scheduled');
      timers.delete(entry[0]);
      entry[1].callback();
    },
    /** Runs the pending reconnect timer. */
    fireReconnect() {
      const entry = [...timers].find(([, timer]) => timer.ms < 1_000_000);
      if (!entry) throw new Error('no reconnect scheduled');
      timers.delete(entry[0]);
      entry[1].callback();
    },
  };
}

/** A WebSocket the test drives: it opens, delivers frames and closes when told to. */
class ScriptedWebSocket implements WebSocketLike {
  static instances: ScriptedWebSocket[] = [];
  readyState = 0;
  readonly sent: string[] = [];
  private readonly listeners = new Map<string, ((event: never) => void)[]>();
  constructor(readonly url: string) {
    ScriptedWebSocket.instances.push(this);
  }
  addEventListener(type: string, listener: (event: never) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
  }
  private fire(type: string, event: unknown) {
    for (const listener of this.listeners.get(type) ?? []) (listener as (event: unknown) => void)(event);
  }
  open() {
    this.readyState = 1;
    this.fire('open', {});
  }
  frame(frame: object) {
    this.fire('message', { data: JSON.stringify(frame) });
  }
  ready(cursor = 'c1') {
    this.open();
    this.frame({ type: 'ready', userId: 'bob', cursor });
  }
  closeWith(code: number, reason = '') {
    this.readyState = 3;
    this.fire('close', { code, reason });
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('reconnection policy (scripted WebSocket, manual timers)', () => {
  const setup = (extra: Partial<RealtimeConnectionOptions> = {}) => {
    ScriptedWebSocket.instances = [];
    const timers = manualScheduler();
    const tokenRequests: ({ refused?: string } | undefined)[] = [];
    const errors: RealtimeError[] = [];
    const connection = createRealtimeConnection({
      baseUrl: 'http://parley.test',
      getToken: async (request) => {
        tokenRequests.push(request);
        return `token${tokenRequests.length}`;
      },
      WebSocket: ScriptedWebSocket,
      rest: { listConversations: async () => [], messagesAfter: async () => ({ items: [], hasMore: false }) },
      transport: 'websocket',
      backoff: { baseMs: 100, capMs: 1000 },
      stableAfterMs: 10_000,
      pingAfterMs: 3_000_000,
      idleTimeoutMs: 3_000_000,
      scheduler: timers.scheduler,
      // Above the heartbeat threshold of the manual scheduler: not counted as a reconnect delay.
      connectTimeoutMs: 5_000_000,
      ...extra,
    });
    connection.on('error', (error) => errors.push(error));
    const latest = () => ScriptedWebSocket.instances.at(-1)!;
    return { connection, timers, tokenRequests, errors, latest };
  };

  it('failed attempts wait within doubling windows up to the cap; a stable connection resets them', async () => {
    const { connection, timers, latest } = setup();
    await settle();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      latest().closeWith(1006);
      delays.push(...timers.reconnectDelays());
      timers.fireReconnect();
      await settle();
    }
    // random is just under 1: each delay sits at the top of its window.
    expect(delays).toEqual([99, 199, 399, 799, 999, 999]);
    expect(connection.state).toBe('connecting');

    // Live for longer than stableAfterMs: the next loss starts from the first window again.
    latest().ready();
    expect(connection.state).toBe('live');
    timers.scheduler.time += 10_000;
    latest().closeWith(1006);
    expect(connection.state).toBe('reconnecting');
    expect(timers.reconnectDelays()).toEqual([99]);
    timers.fireReconnect();
    await settle();

    // Live only briefly (a server accepting then dropping at once): the windows keep growing.
    latest().ready();
    latest().closeWith(1006);
    expect(timers.reconnectDelays()).toEqual([199]);
    connection.close();
    expect(connection.state).toBe('offline');
    expect(timers.reconnectDelays()).toEqual([]);
  });

  it('a server restarting (1012) after being live is reconnected to within a random window below restartJitterMs, with the cursor', async () => {
    const { timers, latest } = setup({ restartJitterMs: 2000 });
    await settle();
    latest().ready('cursor-1');
    latest().frame({ type: 'read', cursor: 'cursor-2', conversationId: 'c', userId: 'alice', seq: 1 });
    latest().closeWith(1012, 'server shutting down');
    // random is just under 1: the top of the window, not the same instant as every other client.
    expect(timers.reconnectDelays()).toEqual([1999]);
    timers.fireReconnect();
    await settle();
    expect(new URL(latest().url).searchParams.get('cursor')).toBe('cursor-2');
  });

  it('a refused token is refreshed once; refused again, the connection goes offline instead of looping', async () => {
    const { connection, timers, tokenRequests, errors, latest } = setup();
    await settle();
    latest().ready();
    latest().closeWith(4001, 'token expired');
    timers.fireReconnect();
    await settle();
    expect(tokenRequests).toEqual([undefined, { refused: 'token1' }]);
    expect(new URL(latest().url).searchParams.get('access_token')).toBe('token2');
    // The fresh token works: refreshing is not needed on later reconnects.
    latest().ready();
    latest().closeWith(1006);
    timers.fireReconnect();
    await settle();
    expect(tokenRequests.at(-1)).toBeUndefined();

    // Account deleted: refused, refreshed, refused again → offline, told once, nothing scheduled.
    latest().ready();
    latest().closeWith(4001, 'account deleted');
    timers.fireReconnect();
    await settle();
    latest().closeWith(4001, 'account deleted');
    expect(connection.state).toBe('offline');
    expect(errors.map((error) => error.kind)).toEqual(['unauthorized']);
    expect(timers.reconnectDelays()).toEqual([]);
  });

  it('a token provider that answers a refusal with the same token gives up: offline at once', async () => {
    const { connection, timers, errors, latest } = setup({ getToken: async () => 'the only token' });
    await settle();
    latest().ready();
    latest().closeWith(4001, 'token expired');
    timers.fireReconnect();
    await settle();
    expect(connection.state).toBe('offline');
    expect(errors.map((error) => error.kind)).toEqual(['unauthorized']);
    expect(ScriptedWebSocket.instances).toHaveLength(1);
  });

  it('a refused token request (not signed in) → offline with an unauthorized error, nothing scheduled; reconnectNow() tries again', async () => {
    let signedIn = false;
    const { connection, timers, errors, latest } = setup({
      getToken: async () => {
        if (!signedIn) throw new ParleyError({ status: 401, code: 'not_signed_in', title: 'Not signed in' });
        return 'token';
      },
    });
    await settle();
    expect(connection.state).toBe('offline');
    expect(errors.map((error) => error.kind)).toEqual(['unauthorized']);
    expect(timers.reconnectDelays()).toEqual([]);
    expect(ScriptedWebSocket.instances).toHaveLength(0);

    signedIn = true;
    connection.reconnectNow();
    expect(connection.state).toBe('connecting');
    await settle();
    latest().ready();
    expect(connection.state).toBe('live');
  });

  it('a token that cannot be obtained for now (network error) is asked for again with backoff: never offline', async () => {
    let failures = 3;
    const { connection, timers, errors, latest } = setup({
      getToken: async () => {
        if (failures-- > 0) throw new ParleyNetworkError(new TypeError('fetch failed'), 'POST /v1/auth/refresh');
        return 'token';
      },
    });
    const states: string[] = [];
    connection.on('state', ({ state }) => states.push(state));
    await settle();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      expect(connection.state).toBe('connecting');
      delays.push(...timers.reconnectDelays());
      timers.fireReconnect();
      await settle();
    }
    expect(delays).toEqual([99, 199, 399]);
    expect(errors.map((error) => error.kind)).toEqual(['token', 'token', 'token']);
    latest().ready();
    expect(states).toEqual(['live']);
    expect(ScriptedWebSocket.instances).toHaveLength(1);
  });

  it('start() again, reconnectNow() and a second start while the token is awaited or live open no second socket', async () => {
    // A slow token (a refresh in flight): every request waits until the test answers them all.
    const pending: ((token: string) => void)[] = [];
    const { connection, latest } = setup({ getToken: () => new Promise<string>((resolve) => pending.push(resolve)) });
    // createRealtimeConnection started it; the app starts it again (as the review's repro did).
    connection.start();
    connection.reconnectNow();
    await settle();
    pending.forEach((resolve) => resolve('token'));
    await settle();
    expect(ScriptedWebSocket.instances).toHaveLength(1);
    latest().ready();
    connection.start();
    connection.reconnectNow();
    await settle();
    expect(ScriptedWebSocket.instances).toHaveLength(1);
    expect(connection.state).toBe('live');
  });

  it('a handshake that hangs is replaced after connectTimeoutMs; reconnectNow() replaces it at once', async () => {
    const { connection, timers, latest } = setup({ connectTimeoutMs: 15_000 });
    await settle();
    const hanging = latest();
    // The connect timer is the only timer: fire it.
    expect(timers.reconnectDelays()).toEqual([15_000]);
    timers.fireReconnect();
    expect(hanging.readyState).toBe(3);
    expect(timers.reconnectDelays()).toEqual([99]);
    timers.fireReconnect();
    await settle();
    const second = latest();
    expect(second).not.toBe(hanging);
    // The browser says it is online again while this one hangs too: replaced now, not in 15 s.
    connection.reconnectNow();
    await settle();
    expect(second.readyState).toBe(3);
    expect(ScriptedWebSocket.instances).toHaveLength(3);
    latest().ready();
    expect(connection.state).toBe('live');
    // Live: the connect timer is gone.
    expect(timers.reconnectDelays()).toEqual([]);
  });

  it('close 4009 (too many connections of the user) stops with its own error instead of evicting another in a loop', async () => {
    const { connection, timers, errors, latest } = setup();
    await settle();
    latest().ready();
    latest().closeWith(4009, 'too many connections');
    expect(connection.state).toBe('offline');
    expect(errors.map((error) => error.kind)).toEqual(['too-many-connections']);
    expect(timers.reconnectDelays()).toEqual([]);
    expect(ScriptedWebSocket.instances).toHaveLength(1);
  });

  it('after a resync catch-up the ready cursor is adopted: the next reconnect does not ask for a full catch-up again', async () => {
    let lists = 0;
    const { timers, latest } = setup({
      cursor: 'saved-cursor',
      rest: {
        listConversations: async () => {
          lists += 1;
          return [];
        },
        messagesAfter: async () => ({ items: [], hasMore: false }),
      },
    });
    await settle();
    expect(new URL(latest().url).searchParams.get('cursor')).toBe('saved-cursor');
    latest().ready('ready-cursor');
    latest().frame({ type: 'resync.required' });
    await settle();
    expect(lists).toBe(1);
    latest().closeWith(1006);
    timers.fireReconnect();
    await settle();
    expect(new URL(latest().url).searchParams.get('cursor')).toBe('ready-cursor');
  });

  it('a silent connection is pinged, then replaced once idle past idleTimeoutMs', async () => {
    const { connection, timers, latest } = setup({ pingAfterMs: 3_000_000, idleTimeoutMs: 6_000_000 });
    await settle();
    const socket = latest();
    socket.ready();
    timers.scheduler.time += 3_000_000;
    timers.fireHeartbeat();
    expect(socket.sent).toEqual(['{"type":"ping"}']);
    // The pong (any frame) proves it alive: idle time counts from it.
    socket.frame({ type: 'pong' });
    timers.scheduler.time += 3_000_000;
    timers.fireHeartbeat();
    expect(connection.state).toBe('live');
    timers.scheduler.time += 3_000_000;
    timers.fireHeartbeat();
    expect(connection.state).toBe('reconnecting');
    expect(socket.readyState).toBe(3);
    expect(timers.reconnectDelays()).toHaveLength(1);
  });
});
