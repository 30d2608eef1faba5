/**
 * One realtime client: what it follows, what it has been sent, and its cursor.
 *
 * Guarantees, for the events of the user's conversations and inbox:
 *   - in order within a conversation (log order), each event at most once per connection;
 *   - a resume from a cursor replays, before anything live, exactly the events the cursor has
 *     not seen, or sends resync.required (nothing replayed) when retention dropped some or when
 *     replaying them would hold more than `replayBudget` events at once;
 *   - a conversation the user joins is followed from the event that made them a member, and
 *     one they leave yields nothing after the event that removed them;
 *   - a client that lets more than `maxBufferedBytes` pile up is closed with 4008.
 * Membership events about the user themself (conversation.created, member.added/removed) reach
 * them through their inbox, never through the conversation's topic, so they arrive exactly once.
 */
import type { EventEnvelope, EventId } from '../domain/events.js';
import { compareEventIds, endOfMillisecond, parseEventId } from '../domain/events.js';
import type { ConversationId, TenantId, UserId } from '../domain/types.js';
import type { Membership, RealtimeService } from '../services/realtime-service.js';
import { MAX_CURSOR_POSITIONS, conversationTag, encodeCursorLike, encodeCursorOf, type Cursor } from './cursor.js';
import type { RealtimeObserver, TransportKind } from './realtime-observer.js';
import type { PresentedEvent } from './wire-events.js';
import { frameBytesOf, frameOf } from './wire-events.js';
import { CloseCodes, type Transport } from './transport.js';

export interface ConnectionSettings {
  /** How far behind the newest delivered event the watermark trails (ms): the cursor tracks this window exactly. */
  cursorWindowMs: number;
  maxBufferedBytes: number;
  /** Events older than this cannot be replayed (the logs' retention). */
  retentionMs: number;
  /** Live events held while a replay runs; more means the client is too far behind. */
  maxPendingEvents: number;
  /**
   * The most events a resuming connection holds at once (read, not yet sent): the inbox events
   * since the cursor plus one page of each conversation log owed, the pages sharing what the
   * inbox leaves. A resume that cannot fit (an inbox over the budget, or more owed logs than
   * pages of MIN_REPLAY_PAGE events fit) gets resync.required instead of a replay.
   */
  replayBudget: number;
}

/** What a connection needs from its node. */
export interface ConnectionHost {
  realtime: RealtimeService;
  clock: () => number;
  settings: ConnectionSettings;
  observer: RealtimeObserver;
  follow(connection: Connection, conversationIds: readonly ConversationId[]): Promise<void>;
  unfollow(connection: Connection, conversationId: ConversationId): void;
  /** Presents a replayed event the way live ones are (conversation events need their members). */
  present(tenantId: TenantId, envelope: EventEnvelope): Promise<PresentedEvent>;
}

type Source = { kind: 'conversation'; conversationId: ConversationId } | { kind: 'inbox' };
interface Pending {
  source: Source;
  presented: PresentedEvent;
}

/** One log a replay reads page by page, holding at most one page of it. */
interface ReplayStream {
  source: Source;
  page: EventEnvelope[];
  /** Index in `page` of the next event to send. */
  next: number;
  /** Where the next page starts (the last event read). */
  after: EventId;
  exhausted: boolean;
  /** Joined (and left) since the cursor: nothing of this log is the user's before their first addition. */
  skipUntilAdded: boolean;
  /** `at` of the last removal of the user sent from this log, to place the inbox's removal after it. */
  removedAt: number | null;
}

/** What a cursor has not seen: the inbox since it, and from where each conversation's log is owed. */
interface ReplayPlan {
  inboxEvents: EventEnvelope[];
  ranges: Map<ConversationId, EventId>;
  joinedSince: Set<ConversationId>;
}

const REPLAY_PAGE = 1000;
/**
 * The smallest page a replay reads from one log, which keeps its reads few per event it sends.
 * A resume owing more logs than the budget holds pages of this size gets resync.required.
 */
const MIN_REPLAY_PAGE = 10;
/** How many logs' first pages a replay reads at once (concurrent reads are pipelined to Redis). */
const FIRST_PAGES_AT_ONCE = 64;
const MAX_PRESENCE_REMEMBERED = 1000;
/** How long a replay waits for a client to read what it was sent before giving up on it. */
const DRAIN_GRACE_MS = 10_000;
let connectionCounter = 0;

/**
 * Most connections never catch up on a join, many never hear presence and an idle one's cursor
 * soon names no position: they share this one empty map until their first write (`own`) instead
 * of each holding an empty Map (~250 bytes).
 * Writes to it are a bug, so they throw; `delete` and `clear` on it are no-ops as on any empty map.
 */
class EmptyMap<K, V> extends Map<K, V> {
  override set(): this {
    throw new Error('write to the shared empty map; own() the field first');
  }
}
const NONE = new EmptyMap<never, never>();
/** `map` itself, or a new Map when it is still the shared empty one. */
const own = <K, V>(map: ReadonlyMap<K, V>): Map<K, V> => (map === NONE ? new Map<K, V>() : (map as Map<K, V>));

const isAboutSelfMembership = (envelope: EventEnvelope, userId: UserId) => {
  const { event } = envelope;
  return event.type === 'conversation.created' || ((event.type === 'member.added' || event.type === 'member.removed') && event.userId === userId);
};
/** Index of the user's first addition in a log's events; past the end when absent (nothing of it is theirs). */
const firstSelfAddition = (events: EventEnvelope[], userId: UserId) => {
  const index = events.findIndex(({ event }) => event.type === 'member.added' && event.userId === userId);
  return index < 0 ? events.length : index;
};
/** Where `positions` keeps a cursor position whose tag names none of the user's conversations: never a conversation id (ids have no '#'). */
const unresolvedKey = (tag: string) => `#${tag}` as ConversationId;
const maxId = (a: EventId, b: EventId) => (compareEventIds(a, b) >= 0 ? a : b);

/** Where a conversation's cursor position is: its last event delivered, its time and its tag (kept to spare parsing on every delivery). */
interface Position {
  id: EventId;
  at: number;
  tag: string;
}
/** Whether the event comes after the position; ids are parsed only for two events of one millisecond. */
const isAfter = (envelope: EventEnvelope, position: Position) =>
  envelope.at === position.at ? compareEventIds(envelope.id, position.id) > 0 : envelope.at > position.at;

export class Connection {
  readonly id = `${process.pid}-${++connectionCounter}`;
  /** Conversations this connection delivers; `false` while catching up after a join. */
  readonly following = new Map<ConversationId, boolean>();
  private watermark = 0;
  private newestAt = 0;
  /** The last inbox event delivered (what the inbox is deduplicated against), and its time: the cursor names it only above the watermark. */
  private inbox: EventId | null = null;
  private inboxAt = 0;
  /** Conversations left during the replay whose topics are let go once it ends (see stopFollowing). */
  private unfollowAfterReplay: Set<ConversationId> | null = null;
  /** Positions kept under unresolvedKey (see adopt): `place` looks for one to replace only while there are some. */
  private unresolvedPositions = 0;
  /** Conversations with a position in the cursor; the shared empty map while there is none (see `own`). */
  private positions: ReadonlyMap<ConversationId, Position> & Pick<Map<ConversationId, Position>, 'delete' | 'clear'> = NONE;
  private replaying = true;
  /** Events read from the logs by the running replay and not yet sent. */
  private replayHeld = 0;
  private pending: Pending[] = [];
  /** Read through the shared empty map until a join needs its own (see `own`). */
  private catchingUp: ReadonlyMap<ConversationId, Pending[]> & Pick<Map<ConversationId, Pending[]>, 'delete' | 'clear'> = NONE;
  private closed = false;
  private lastPresence: ReadonlyMap<UserId, string> = NONE;
  /** When `lastPresence` was last written (Date.now()). */
  private presenceAt = 0;

  constructor(
    readonly tenantId: TenantId,
    readonly userId: UserId,
    private readonly transport: Transport,
    private readonly host: ConnectionHost,
  ) {}

  get transportKind(): TransportKind {
    return this.transport.kind;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Events a running replay holds in memory (read from the inbox and logs, not yet sent): never more than `replayBudget`. */
  get heldReplayEvents(): number {
    return this.replayHeld;
  }

  cursor(): string {
    return encodeCursorOf(this.watermark, this.cursorInbox(), this.positions.values());
  }

  /**
   * The inbox as the cursor names it: null once its last event is at or below the watermark, as
   * positions are dropped. Safe: a resume then reads the inbox from the watermark on, and the
   * inbox log is in time order, so every inbox event after the watermark comes after this one.
   */
  private cursorInbox(): EventId | null {
    return this.inboxAt > this.watermark ? this.inbox : null;
  }

  private place(conversationId: ConversationId, position: Position) {
    const positions = (this.positions = own(this.positions));
    if (this.unresolvedPositions > 0 && positions.delete(unresolvedKey(position.tag))) this.unresolvedPositions -= 1;
    positions.set(conversationId, position);
  }

  /** Moves the conversation's position up to `id` unless it is there already, or the watermark covers it. */
  private placeAtLeast(conversationId: ConversationId, id: EventId) {
    const at = parseEventId(id)?.at;
    if (at === undefined || at <= this.watermark) return;
    const position = this.positions.get(conversationId);
    if (position && compareEventIds(position.id, id) >= 0) return;
    this.place(conversationId, { id, at, tag: position?.tag ?? conversationTag(conversationId) });
    this.boundPositions();
  }

  /**
   * Starts the connection (its inbox topic already followed, then `memberships` read): follows the user's conversations,
   * sends `ready`, replays what the cursor missed (nothing for a new client; resync.required for
   * a cursor too old or not ours), then goes live.
   */
  async start(resumeFrom: { cursor: Cursor; text: string } | 'invalid' | null, memberships: Membership[]): Promise<void> {
    await this.host.follow(this, memberships.map((m) => m.conversationId));
    for (const m of memberships) this.following.set(m.conversationId, true);
    const now = this.host.clock();
    if (resumeFrom === null || resumeFrom === 'invalid' || resumeFrom.cursor.watermark < now - this.host.settings.retentionMs) {
      await this.positionAtNow();
      this.transport.sendControl(JSON.stringify({ type: 'ready', userId: this.userId, cursor: this.cursor() }));
      if (resumeFrom !== null) {
        this.host.observer.resumed('resync');
        this.host.observer.resyncRequired();
        this.transport.sendControl(JSON.stringify({ type: 'resync.required' }));
      }
      this.goLive();
      return;
    }
    this.adopt(resumeFrom.cursor, memberships);
    // The client's own cursor: it names conversations this connection may not resolve (left since).
    this.transport.sendControl(JSON.stringify({ type: 'ready', userId: this.userId, cursor: resumeFrom.text }));
    const plan = await this.planReplay(resumeFrom.cursor, memberships);
    const outcome = plan === 'resync' ? 'resync' : await this.streamReplay(plan);
    this.replayHeld = 0;
    this.host.observer.resumed(outcome === 'resync' ? 'resync' : 'replayed');
    if (this.closed) return;
    if (outcome === 'resync') {
      await this.resync();
      return;
    }
    if (outcome === 'too slow') return this.close(CloseCodes.tooSlow, 'client too slow to replay');
    this.goLive();
  }

  /** Waits until the client has read most of what it was sent; false if it does not within the grace period. */
  private async drained(): Promise<boolean> {
    const deadline = Date.now() + DRAIN_GRACE_MS;
    while (!this.closed && this.transport.bufferedBytes() > this.host.settings.maxBufferedBytes / 4) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return !this.closed;
  }

  /** A durable event from the topic of a conversation this connection follows. */
  onConversationEvent(conversationId: ConversationId, presented: PresentedEvent): void {
    if (this.closed) return;
    const item: Pending = { source: { kind: 'conversation', conversationId }, presented };
    if (this.replaying) return this.hold(item);
    const held = this.catchingUp.get(conversationId);
    if (held) {
      held.push(item);
      if (held.length > this.host.settings.maxPendingEvents) this.close(CloseCodes.tooSlow, 'too far behind');
      return;
    }
    this.deliver(item.source, presented);
  }

  /** A durable event from the user's inbox: a change of their own membership. */
  onInboxEvent(presented: PresentedEvent): void {
    if (this.closed) return;
    const item: Pending = { source: { kind: 'inbox' }, presented };
    if (this.replaying) return this.hold(item);
    this.deliver(item.source, presented);
  }

  /** Typing and presence: sent as they come, never replayed. */
  sendEphemeral(frame: string): void {
    if (this.closed || this.replaying) return;
    this.transport.sendControl(frame);
    this.checkBuffer();
  }

  /**
   * A presence change. It comes once per shared conversation, so a repeat of the last state
   * sent for that user is dropped.
   */
  sendPresence(userId: UserId, frame: string): void {
    // Not sent (replaying or closed) is not remembered: a later copy of the change must go out.
    if (this.closed || this.replaying || this.lastPresence.get(userId) === frame) return;
    const lastPresence = (this.lastPresence = own(this.lastPresence));
    lastPresence.set(userId, frame);
    if (lastPresence.size > MAX_PRESENCE_REMEMBERED) lastPresence.delete(lastPresence.keys().next().value!);
    this.presenceAt = Date.now();
    this.sendEphemeral(frame);
  }

  /**
   * Forgets the presence states sent (what `sendPresence` de-duplicates against) unless one was
   * sent since `before`. The copies of one change (one per shared conversation) come within
   * moments of each other, so an idle connection need not hold its contacts' states; a copy
   * later than that goes out again, which repeats a state the client already has.
   */
  forgetPresenceBefore(before: number): void {
    if (this.presenceAt < before) this.lastPresence = NONE;
  }

  sendControl(frame: string): void {
    if (!this.closed) this.transport.sendControl(frame);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.catchingUp.clear();
    if (code === CloseCodes.tooSlow) this.host.observer.slowConsumerClosed(this.transport.kind);
    this.transport.close(code, reason);
  }

  /**
   * A cursor for "from now on" that does not depend on this node's clock agreeing with the
   * clocks that stamped events: the watermark sits a window in the past, and each conversation
   * with an event inside the window is positioned at its newest event (read after following its
   * topic, so anything later is heard live).
   */
  private async positionAtNow(): Promise<void> {
    this.watermark = Math.max(0, this.host.clock() - this.host.settings.cursorWindowMs);
    this.newestAt = 0;
    this.inbox = null;
    this.inboxAt = 0;
    this.positions.clear();
    this.unresolvedPositions = 0;
    // The inbox likewise: positioned at its newest entry within the window.
    let after: EventId = endOfMillisecond(this.watermark);
    for (;;) {
      const page = await this.host.realtime.readInbox(this.tenantId, this.userId, after, REPLAY_PAGE);
      const last = page.events[page.events.length - 1];
      if (last) {
        this.inbox = after = last.id;
        this.inboxAt = last.at;
      }
      if (page.events.length < REPLAY_PAGE) break;
    }
    const ids = [...this.following.keys()];
    const heads = ids.length > 0 ? await this.host.realtime.heads(this.tenantId, ids) : [];
    heads.forEach((head, index) => {
      const parsed = head ? parseEventId(head) : null;
      if (head && parsed && parsed.at > this.watermark) this.place(ids[index]!, { id: head, at: parsed.at, tag: conversationTag(ids[index]!) });
    });
    this.boundPositions();
  }

  /** The cursor could not be honoured: the client reloads over REST and continues from now. */
  private async resync(): Promise<void> {
    this.pending = [];
    await this.positionAtNow();
    this.host.observer.resyncRequired();
    this.transport.sendControl(JSON.stringify({ type: 'resync.required' }));
    this.goLive();
  }

  /**
   * Takes over the client's cursor, its tags resolved among the user's current conversations.
   * A tag of none of them (a conversation left) is kept as it is, under unresolvedKey: should the
   * user rejoin it and leave it again, a later resume must still know how far the client saw it.
   */
  private adopt(cursor: Cursor, memberships: Membership[]) {
    this.watermark = cursor.watermark;
    this.inbox = cursor.inbox;
    this.inboxAt = cursor.inbox ? (parseEventId(cursor.inbox)?.at ?? 0) : 0;
    const unresolved = new Map(cursor.positions);
    for (const { conversationId } of memberships) {
      const tag = conversationTag(conversationId);
      const id = cursor.positions.get(tag);
      unresolved.delete(tag);
      const parsed = id ? parseEventId(id) : null;
      if (id && parsed) this.place(conversationId, { id, at: parsed.at, tag });
    }
    for (const [tag, id] of unresolved) {
      const parsed = parseEventId(id);
      if (!parsed || parsed.at <= this.watermark) continue;
      (this.positions = own(this.positions)).set(unresolvedKey(tag), { id, at: parsed.at, tag });
      this.unresolvedPositions += 1;
    }
  }

  private goLive() {
    this.replaying = false;
    for (const conversationId of this.unfollowAfterReplay ?? []) if (!this.following.has(conversationId)) this.host.unfollow(this, conversationId);
    this.unfollowAfterReplay = null;
    const held = this.pending;
    this.pending = [];
    for (const item of held) {
      if (item.source.kind === 'conversation' && this.catchingUp.has(item.source.conversationId)) {
        this.catchingUp.get(item.source.conversationId)!.push(item);
      } else {
        this.deliver(item.source, item.presented);
      }
    }
  }

  private hold(item: Pending) {
    this.pending.push(item);
    if (this.pending.length > this.host.settings.maxPendingEvents) this.close(CloseCodes.tooSlow, 'too far behind');
  }

  /** Sends one event unless already sent, applying membership changes it carries. */
  private deliver(source: Source, presented: PresentedEvent, replayed = false): void {
    if (this.closed) return;
    const { envelope } = presented;
    const { event } = envelope;
    if (source.kind === 'conversation') {
      const conversationId = source.conversationId;
      if (!this.following.get(conversationId)) return;
      const position = this.positions.get(conversationId);
      if (position && !isAfter(envelope, position)) return;
      if (isAboutSelfMembership(envelope, this.userId)) {
        // Told through the inbox; a removal stops this conversation here, whatever comes after.
        if (event.type === 'member.removed') this.stopFollowing(conversationId);
        return;
      }
      this.place(conversationId, { id: envelope.id, at: envelope.at, tag: position?.tag ?? conversationTag(conversationId) });
    } else {
      if (this.inbox && compareEventIds(envelope.id, this.inbox) <= 0) return;
      this.inbox = envelope.id;
      this.inboxAt = envelope.at;
      if (event.type === 'member.removed' && event.userId === this.userId) this.stopFollowing(event.conversationId);
      if (event.type === 'conversation.created' || (event.type === 'member.added' && event.userId === this.userId)) {
        this.catchUp(event.conversationId).catch(() => this.close(CloseCodes.restart, 'could not follow a conversation; reconnect'));
      }
    }
    this.advanceWatermark(envelope.at);
    const encoded = (presented.lastCursor = encodeCursorLike(presented.lastCursor, this.watermark, this.cursorInbox(), this.positions));
    const cursor = encoded.text;
    if (this.transport.sendEventBytes) this.transport.sendEventBytes(frameBytesOf(presented, cursor), cursor);
    else this.transport.sendEvent(frameOf(presented, cursor), cursor);
    this.host.observer.delivered(this.transport.kind, replayed, envelope.at);
    this.checkBuffer();
  }

  /**
   * The position stays (until the watermark passes it): the cursor must still say how far the
   * client saw this conversation, or a resume owing it again (the user re-added, then removed
   * again) would replay it from the watermark, events already seen included.
   */
  private stopFollowing(conversationId: ConversationId) {
    this.following.delete(conversationId);
    this.catchingUp.delete(conversationId);
    // A replay may still pass the user's re-addition in this log (see streamReplay): the topic is
    // kept until it ends, so that nothing logged meanwhile goes unheard.
    if (this.replaying) (this.unfollowAfterReplay ??= new Set()).add(conversationId);
    else this.host.unfollow(this, conversationId);
  }

  /**
   * After joining: follow the conversation's topic, then send its log from the join on. Rejects
   * when the storage fails (the caller then closes the connection: the client resumes with its cursor).
   */
  private async catchUp(conversationId: ConversationId): Promise<void> {
    if (this.following.get(conversationId) || this.catchingUp.has(conversationId)) return;
    this.catchingUp = own(this.catchingUp).set(conversationId, []);
    this.following.set(conversationId, false);
    await this.host.follow(this, [conversationId]);
    const member = await this.host.realtime.membership(this.tenantId, conversationId, this.userId);
    if (this.closed || !this.catchingUp.has(conversationId)) return;
    if (!member) {
      this.stopFollowing(conversationId);
      return;
    }
    const start = maxId(member.joinedEventId, this.positions.get(conversationId)?.id ?? member.joinedEventId);
    const events = await this.readAll(conversationId, start);
    if (this.closed || !this.catchingUp.has(conversationId)) return;
    // Presented (a read for conversation events) while live events are still held: once the
    // conversation is followed, a live event delivered during an await would move the position
    // past the log's rest and the held events, which would then be dropped as already sent.
    const presented = events === 'trimmed' ? events : await Promise.all(events.map((envelope) => this.host.present(this.tenantId, envelope)));
    if (this.closed || !this.catchingUp.has(conversationId)) return;
    const held = this.catchingUp.get(conversationId) ?? [];
    this.catchingUp.delete(conversationId);
    this.following.set(conversationId, true);
    if (presented === 'trimmed') return this.resync();
    // The cursor names where the log is the user's from. Without it a rejoined conversation
    // (its position dropped at the removal) would be owed from the watermark by a later resume,
    // and the events the user saw before the removal would come again.
    this.placeAtLeast(conversationId, start);
    const source: Source = { kind: 'conversation', conversationId };
    for (const event of presented) this.deliver(source, event, true);
    for (const item of held) this.deliver(item.source, item.presented);
  }

  private async readAll(conversationId: ConversationId, after: EventId): Promise<EventEnvelope[] | 'trimmed'> {
    const found: EventEnvelope[] = [];
    let from = after;
    for (;;) {
      const page = await this.host.realtime.readLog(this.tenantId, conversationId, from, REPLAY_PAGE);
      if (page.trimmed) return 'trimmed';
      found.push(...page.events);
      if (page.events.length < REPLAY_PAGE) return found;
      from = page.events[page.events.length - 1]!.id;
    }
  }

  /**
   * What the cursor has not seen: the inbox since the cursor (read whole: it holds only the
   * user's own membership changes, and decides what else is owed), then for each conversation
   * the point of its log the replay starts after — the cursor's position (or the watermark, or
   * the join, whichever is later) — including conversations left since, up to their removal.
   * 'resync' when the inbox was trimmed or holds more events than the replay budget.
   */
  private async planReplay(cursor: Cursor, memberships: Membership[]): Promise<ReplayPlan | 'resync'> {
    const { realtime } = this.host;
    const { replayBudget } = this.host.settings;
    const sinceWatermark = endOfMillisecond(cursor.watermark);
    const inboxEvents: EventEnvelope[] = [];
    let inboxFrom: EventId = cursor.inbox ?? sinceWatermark;
    for (;;) {
      // One more than the budget has room for: an inbox over it is seen without reading it all.
      const limit = Math.min(REPLAY_PAGE, replayBudget - inboxEvents.length + 1);
      const page = await realtime.readInbox(this.tenantId, this.userId, inboxFrom, limit);
      if (page.trimmed && cursor.inbox !== null) return 'resync';
      inboxEvents.push(...page.events);
      if (inboxEvents.length > replayBudget) return 'resync';
      if (page.events.length < limit) break;
      inboxFrom = page.events[page.events.length - 1]!.id;
    }

    const startOf = (conversationId: ConversationId) => cursor.positions.get(conversationTag(conversationId)) ?? sinceWatermark;
    // A member at the cursor who was removed since (and maybe added back): their first membership
    // change since the cursor is a removal. Their log is replayed from the cursor, not from the
    // latest join, so what came before the removal is not lost; the removal stops the replay of
    // the conversation and the addition catches up from the join (see deliver).
    const firstChange = new Map<ConversationId, string>();
    for (const envelope of inboxEvents) {
      const { conversationId, type } = envelope.event;
      if (!firstChange.has(conversationId) && isAboutSelfMembership(envelope, this.userId)) firstChange.set(conversationId, type);
    }
    const removedSince = new Set<ConversationId>();
    for (const { event } of inboxEvents) if (event.type === 'member.removed' && event.userId === this.userId) removedSince.add(event.conversationId);
    const ranges = new Map<ConversationId, EventId>();
    // Joined and left since the cursor: its log is replayed from the user's addition, never from before.
    const joinedSince = new Set<ConversationId>();
    for (const m of memberships) {
      const first = firstChange.get(m.conversationId);
      // Joined (or created), left and joined again since the cursor: the first membership's events
      // are owed too, not only the current one's, so the log is replayed from the first addition.
      const rejoined = (first === 'member.added' || first === 'conversation.created') && removedSince.has(m.conversationId);
      if (rejoined && first === 'member.added') joinedSince.add(m.conversationId);
      const after = first === 'member.removed' || rejoined ? startOf(m.conversationId) : maxId(startOf(m.conversationId), m.joinedEventId);
      ranges.set(m.conversationId, after);
    }
    for (const envelope of inboxEvents) {
      const { event } = envelope;
      // Left since the cursor: its events up to the removal were still the user's to see.
      if (event.type === 'member.removed' && !ranges.has(event.conversationId)) {
        ranges.set(event.conversationId, startOf(event.conversationId));
        if (firstChange.get(event.conversationId) === 'member.added') joinedSince.add(event.conversationId);
      }
    }
    // Owed from the watermark (the cursor names no position in it) up to a removal since the
    // cursor: if the user was not yet a member at the watermark (they joined after it, and no event
    // of it reached them since), what came before their addition was never theirs.
    for (const [conversationId, after] of ranges) {
      if (after !== sinceWatermark || firstChange.get(conversationId) !== 'member.removed') continue;
      const start = await this.startOfMembership(conversationId, after);
      if (start === 'trimmed') return 'resync';
      ranges.set(conversationId, start);
    }
    return { inboxEvents, ranges, joinedSince };
  }

  /** `after`, or the user's addition to the conversation when their first membership change in its log since `after` is one. */
  private async startOfMembership(conversationId: ConversationId, after: EventId): Promise<EventId | 'trimmed'> {
    let from = after;
    for (;;) {
      const page = await this.host.realtime.readLog(this.tenantId, conversationId, from, REPLAY_PAGE);
      if (page.trimmed) return 'trimmed';
      // (conversation.created is no addition here: a creator's members were members from the log's start.)
      const change = page.events.find(({ event }) => (event.type === 'member.added' || event.type === 'member.removed') && event.userId === this.userId);
      if (change) return change.event.type === 'member.removed' ? after : change.id;
      if (page.events.length < REPLAY_PAGE) return after;
      from = page.events[page.events.length - 1]!.id;
    }
  }

  /**
   * Sends what the plan owes in time order, merging the logs as it reads them page by page:
   * memory never holds more than `replayBudget` events (the inbox plus one page per owed log),
   * however many were missed; 'resync' (nothing sent) when the owed logs cannot each get a page
   * of MIN_REPLAY_PAGE within it. The first pages are read FIRST_PAGES_AT_ONCE logs at a time.
   * Paced by the client's reading speed instead of tripping the buffer limit.
   */
  private async streamReplay(plan: ReplayPlan): Promise<'done' | 'resync' | 'too slow'> {
    const ids = [...plan.ranges.keys()];
    const heads = ids.length > 0 ? await this.host.realtime.heads(this.tenantId, ids) : [];
    const owed = ids.filter((conversationId, index) => {
      const head = heads[index];
      return head && compareEventIds(head, plan.ranges.get(conversationId)!) > 0;
    });
    const forLogs = this.host.settings.replayBudget - plan.inboxEvents.length;
    const pageSize = Math.min(REPLAY_PAGE, Math.floor(forLogs / Math.max(1, owed.length)));
    if (owed.length > 0 && pageSize < MIN_REPLAY_PAGE) return 'resync';
    const streams: ReplayStream[] = owed.map((conversationId) => ({
      source: { kind: 'conversation', conversationId },
      page: [],
      next: 0,
      after: plan.ranges.get(conversationId)!,
      exhausted: false,
      skipUntilAdded: plan.joinedSince.has(conversationId),
      removedAt: null,
    }));
    const byConversation = new Map(streams.map((stream) => [(stream.source as { conversationId: ConversationId }).conversationId, stream]));
    for (let i = 0; i < streams.length; i += FIRST_PAGES_AT_ONCE) {
      const read = await Promise.all(streams.slice(i, i + FIRST_PAGES_AT_ONCE).map((stream) => this.readPage(stream, pageSize)));
      if (read.includes('trimmed')) return 'resync';
    }
    const inbox: ReplayStream = {
      source: { kind: 'inbox' },
      page: plan.inboxEvents,
      next: 0,
      after: plan.inboxEvents.at(-1)?.id ?? ('0-0' as EventId),
      exhausted: true,
      skipUntilAdded: false,
      removedAt: null,
    };
    streams.push(inbox);
    this.replayHeld += plan.inboxEvents.length;
    // Conversations left before the cursor's end are followed only until their removal.
    for (const conversationId of owed) {
      if (!this.following.has(conversationId)) {
        this.following.set(conversationId, true);
        this.host.unfollow(this, conversationId);
      }
    }

    for (;;) {
      if (this.closed) return 'done';
      const stream = this.nextToSend(streams, byConversation);
      if (!stream) return 'done';
      const envelope = stream.page[stream.next]!;
      stream.next += 1;
      this.replayHeld -= 1;
      const { event } = envelope;
      if (stream.source.kind === 'conversation' && event.type === 'member.removed' && event.userId === this.userId) stream.removedAt = envelope.at;
      // The user may have left and rejoined in the range owed (maybe more than once): what came
      // after a rejoin was theirs again, up to the next removal. The replay follows the log on
      // from the rejoin itself (the inbox's addition, which comes after it, then finds the
      // conversation followed and does not catch up from the latest join, past these events).
      if (stream.source.kind === 'conversation' && event.type === 'member.added' && event.userId === this.userId) {
        const { conversationId } = stream.source;
        if (!this.following.has(conversationId) && !this.catchingUp.has(conversationId)) this.following.set(conversationId, true);
      }
      this.deliver(stream.source, await this.host.present(this.tenantId, envelope), true);
      if (stream.next >= stream.page.length && (await this.readPage(stream, pageSize)) === 'trimmed') return 'resync';
      if (this.transport.bufferedBytes() > this.host.settings.maxBufferedBytes / 2 && !(await this.drained())) return 'too slow';
    }
  }

  /** Replaces a conversation stream's spent page with the next one of its log (none once exhausted). */
  private async readPage(stream: ReplayStream, pageSize: number): Promise<'ok' | 'trimmed'> {
    if (stream.source.kind !== 'conversation') return 'ok';
    const { conversationId } = stream.source;
    stream.page = [];
    stream.next = 0;
    while (stream.page.length === 0 && !stream.exhausted) {
      const page = await this.host.realtime.readLog(this.tenantId, conversationId, stream.after, pageSize);
      if (page.trimmed) return 'trimmed';
      const last = page.events[page.events.length - 1];
      if (last) stream.after = last.id;
      if (page.events.length < pageSize) stream.exhausted = true;
      let from = 0;
      if (stream.skipUntilAdded) {
        from = firstSelfAddition(page.events, this.userId);
        if (from < page.events.length) stream.skipUntilAdded = false;
      }
      stream.page = from === 0 ? page.events : page.events.slice(from);
    }
    this.replayHeld += stream.page.length;
    return 'ok';
  }

  /**
   * The stream whose next event comes first (event ids order the logs' events in time). One
   * exception: an inbox removal is notified after the conversation logged the removal, but
   * within one millisecond the ids of two logs do not tell which came first. An inbox removal
   * sent before its conversation's events of that millisecond would stop the conversation before
   * them (and they would be lost): it waits until the conversation's own removal is sent.
   */
  private nextToSend(streams: ReplayStream[], byConversation: Map<ConversationId, ReplayStream>): ReplayStream | null {
    let first: ReplayStream | null = null;
    for (const stream of streams) {
      const head = stream.page[stream.next];
      if (head && (!first || compareEventIds(head.id, first.page[first.next]!.id) < 0)) first = stream;
    }
    if (first?.source.kind !== 'inbox') return first;
    const { event, at } = first.page[first.next]!;
    if (event.type !== 'member.removed' || event.userId !== this.userId) return first;
    const own = byConversation.get(event.conversationId);
    const ownHead = own?.page[own.next];
    return own && ownHead && ownHead.at === at && own.removedAt !== at ? own : first;
  }

  private advanceWatermark(at: number) {
    if (at > this.newestAt) this.newestAt = at;
    this.raiseWatermark(this.newestAt - this.host.settings.cursorWindowMs);
    this.boundPositions();
  }

  private raiseWatermark(floor: number) {
    if (floor <= this.watermark) return;
    this.watermark = floor;
    for (const [conversationId, position] of this.positions) if (position.at <= floor) this.positions.delete(conversationId);
  }

  /**
   * A user busy in more conversations than a cursor names gets a narrower window: the watermark
   * rises to just below the oldest position kept. The window still covers the newest events.
   */
  private boundPositions() {
    if (this.positions.size <= MAX_CURSOR_POSITIONS) return;
    const times = [...this.positions.values()].map((position) => position.at).sort((a, b) => a - b);
    this.raiseWatermark(times[times.length - MAX_CURSOR_POSITIONS - 1]!);
  }

  private checkBuffer() {
    if (this.transport.bufferedBytes() > this.host.settings.maxBufferedBytes) this.close(CloseCodes.tooSlow, 'client too slow');
  }
}
