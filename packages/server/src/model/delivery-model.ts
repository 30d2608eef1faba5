/**
 * The reference model of Parley's delivery guarantees: plain TypeScript, no I/O. It holds what a
 * correct server must have acknowledged and what every client must have received, as the
 * documented contract states it:
 *   - a tenant's users and group conversations, their members (with role and read position), a
 *     per-conversation seq and the messages (text, edited, deleted, reactions);
 *   - idempotency keys: each clientMessageId and the message it made;
 *   - for each user's client: whether it is connected (and to which node), and the durable events
 *     it must have received, per conversation.
 *
 * Events are compared as short keys (`created#3`, `read:u1:2`, …) so the real frames and the
 * model meet on what the contract promises, not on ids or times. Per conversation, a user's
 * expected events come in two ordered lists: the conversation's log as the user may see it
 * (everything while a member), and the events about the user's own membership (member.added and
 * member.removed naming them), which reach them through their inbox and so are ordered among
 * themselves but not against the log.
 */

/** Users of every run: u0 owns group 0, u1 owns group 1; nobody removes an owner. */
export const USER_NAMES = ['u0', 'u1', 'u2', 'u3'] as const;
export const EMOJI = ['👍', '❤️', '😂'] as const;

/** The groups every run starts with: [owner, ...members], by user index. */
export const INITIAL_GROUPS: readonly (readonly number[])[] = [
  [0, 1, 2],
  [1, 2, 3],
];

export interface ModelMessage {
  seq: number;
  id: string;
  sender: number;
  text: string | null;
  edited: boolean;
  deleted: boolean;
  /** emoji → the users who reacted with it (a deleted message has none). */
  reactions: Map<string, Set<number>>;
}

export interface ModelMember {
  role: 'owner' | 'member';
  lastReadSeq: number;
}

export interface ModelConversation {
  owner: number;
  members: Map<number, ModelMember>;
  messages: ModelMessage[];
}

export interface IdempotencyKey {
  key: string;
  conversation: number;
  sender: number;
  /** The seq of the message the first send made. */
  seq: number;
  /** The node index that took the first send (a retry goes through another one). */
  node: number;
}

/** What one user must have received in one conversation. */
export interface ExpectedEvents {
  log: string[];
  self: string[];
}

export interface ModelClient {
  /** The node the client is connected to, or null while it is offline. */
  node: number | null;
  /** Conversation index → what it must have received so far. */
  expected: Map<number, ExpectedEvents>;
}

export class DeliveryModel {
  readonly conversations: ModelConversation[];
  readonly keys: IdempotencyKey[] = [];
  readonly clients: ModelClient[];
  private sends = 0;
  private edits = 0;

  constructor(readonly nodeCount: number, readonly faults: boolean) {
    this.conversations = INITIAL_GROUPS.map(([owner, ...others]) => ({
      owner: owner!,
      members: new Map<number, ModelMember>([
        [owner!, { role: 'owner', lastReadSeq: 0 }],
        ...others.map((user): [number, ModelMember] => [user, { role: 'member', lastReadSeq: 0 }]),
      ]),
      messages: [],
    }));
    // Every client connects (to node index % nodes) after the groups exist, with no cursor: it
    // owes nothing from before.
    this.clients = USER_NAMES.map((_, user) => ({ node: user % nodeCount, expected: new Map() }));
  }

  isMember(conversation: number, user: number): boolean {
    return this.conversations[conversation]!.members.has(user);
  }

  lastSeq(conversation: number): number {
    return this.conversations[conversation]!.messages.length;
  }

  /** A text no other send or edit of the run has used. */
  nextSendText(): string {
    return `message ${++this.sends}`;
  }

  nextEditText(): string {
    return `edited ${++this.edits}`;
  }

  nextKey(): string {
    return `key-${this.sends + 1}`;
  }

  expectedOf(user: number, conversation: number): ExpectedEvents {
    const client = this.clients[user]!;
    let expected = client.expected.get(conversation);
    if (!expected) {
      expected = { log: [], self: [] };
      client.expected.set(conversation, expected);
    }
    return expected;
  }

  /** A conversation event every current member receives (log order). */
  private logEvent(conversation: number, key: string, except?: number): void {
    for (const user of this.conversations[conversation]!.members.keys()) if (user !== except) this.expectedOf(user, conversation).log.push(key);
  }

  send(conversation: number, sender: number, id: string, text: string, key: string | null, node: number): ModelMessage {
    const record = this.conversations[conversation]!;
    const message: ModelMessage = { seq: record.messages.length + 1, id, sender, text, edited: false, deleted: false, reactions: new Map() };
    record.messages.push(message);
    // Sending moves the sender's own read position to the message, without a read event.
    record.members.get(sender)!.lastReadSeq = message.seq;
    if (key !== null) this.keys.push({ key, conversation, sender, seq: message.seq, node });
    this.logEvent(conversation, createdKey(message.seq));
    return message;
  }

  edit(conversation: number, seq: number, text: string): void {
    const message = this.conversations[conversation]!.messages[seq - 1]!;
    message.text = text;
    message.edited = true;
    this.logEvent(conversation, updatedKey(seq, text));
  }

  delete(conversation: number, seq: number): void {
    const message = this.conversations[conversation]!.messages[seq - 1]!;
    message.text = null;
    message.deleted = true;
    message.reactions.clear();
    this.logEvent(conversation, deletedKey(seq));
  }

  /** A reaction that is already there (or a removal of one that is not) changes nothing and logs nothing. */
  react(conversation: number, seq: number, user: number, emoji: string, add: boolean): void {
    const message = this.conversations[conversation]!.messages[seq - 1]!;
    const reactors = message.reactions.get(emoji) ?? new Set<number>();
    if (add === reactors.has(user)) return;
    if (add) reactors.add(user);
    else reactors.delete(user);
    if (reactors.size === 0) message.reactions.delete(emoji);
    else message.reactions.set(emoji, reactors);
    this.logEvent(conversation, reactionKey(add, seq, emoji, USER_NAMES[user]!));
  }

  /** The read position moves forward only, and never past the last message; only a move is an event. */
  read(conversation: number, user: number, seq: number): void {
    const record = this.conversations[conversation]!;
    const member = record.members.get(user)!;
    const target = Math.min(seq, record.messages.length);
    if (target <= member.lastReadSeq) return;
    member.lastReadSeq = target;
    this.logEvent(conversation, readKey(USER_NAMES[user]!, target));
  }

  /** The newcomer hears of it through their inbox; the members before them through the log. History before joining is not unread. */
  addMember(conversation: number, user: number): void {
    const record = this.conversations[conversation]!;
    this.logEvent(conversation, addedKey(USER_NAMES[user]!));
    record.members.set(user, { role: 'member', lastReadSeq: record.messages.length });
    this.expectedOf(user, conversation).self.push(addedKey(USER_NAMES[user]!));
  }

  /** The removed user hears of it through their inbox, and of nothing in the conversation after it. */
  removeMember(conversation: number, user: number): void {
    const record = this.conversations[conversation]!;
    record.members.delete(user);
    this.logEvent(conversation, removedKey(USER_NAMES[user]!));
    this.expectedOf(user, conversation).self.push(removedKey(USER_NAMES[user]!));
  }
}

export const createdKey = (seq: number) => `created#${seq}`;
export const updatedKey = (seq: number, text: string) => `updated#${seq}:${text}`;
export const deletedKey = (seq: number) => `deleted#${seq}`;
export const reactionKey = (add: boolean, seq: number, emoji: string, userId: string) => `${add ? 'reaction+' : 'reaction-'}#${seq}:${emoji}:${userId}`;
export const readKey = (userId: string, seq: number) => `read:${userId}:${seq}`;
export const addedKey = (userId: string) => `added:${userId}`;
export const removedKey = (userId: string) => `removed:${userId}`;

/** A message as the model says REST history must show it. */
export interface HistoryEntry {
  seq: number;
  id: string;
  sender: string;
  text: string | null;
  edited: boolean;
  deleted: boolean;
  reactions: Record<string, number>;
}

export function historyOf(conversation: ModelConversation): HistoryEntry[] {
  return conversation.messages.map((message) => ({
    seq: message.seq,
    id: message.id,
    sender: USER_NAMES[message.sender]!,
    text: message.text,
    edited: message.edited,
    deleted: message.deleted,
    reactions: Object.fromEntries([...message.reactions].map(([emoji, users]) => [emoji, users.size])),
  }));
}

/** Members as the model says REST must list them: user id → role and read position. */
export function membersOf(conversation: ModelConversation): Record<string, ModelMember> {
  return Object.fromEntries([...conversation.members].sort(([a], [b]) => a - b).map(([user, member]) => [USER_NAMES[user]!, { ...member }]));
}
