/**
 * The commands of the model-based test: each one checks that it applies to the model's state,
 * performs one action on the real system, awaits the acknowledgement it waits for, asserts that
 * answer against the model and then updates the model. Parameters are small integers read against
 * the model when the command runs (a message "pick" is an index into the messages that qualify),
 * so that shrinking can drop any command and the rest still mean something.
 *
 * Each command prints as a call of the factory of the same name (`send(1, 0, true, 2)`), so a
 * shrunk counterexample fast-check prints pastes as is into model-regressions.test.ts.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { EMOJI, USER_NAMES, type DeliveryModel, type ModelMessage } from './delivery-model.js';
import type { DeliverySystem } from './delivery-system.js';

export type DeliveryCommand = fc.AsyncCommand<DeliveryModel, DeliverySystem>;

/** Messages still whole (neither deleted) of the conversation, in seq order. */
const liveMessages = (model: DeliveryModel, conversation: number): ModelMessage[] =>
  model.conversations[conversation]!.messages.filter((message) => !message.deleted);

const pickFrom = <T>(items: readonly T[], pick: number): T => items[pick % items.length]!;

/** The conversation's members, in the order they joined (users are picked among them, so that a command rarely goes unused). */
const membersOf = (model: Readonly<DeliveryModel>, conversation: number): number[] => [...model.conversations[conversation]!.members.keys()];
const usersWhere = (model: Readonly<DeliveryModel>, keep: (user: number) => boolean): number[] => [...model.clients.keys()].filter(keep);

/** History holds the model's whole conversation on one page (limit 100). */
const MAX_MESSAGES = 90;

abstract class Command implements DeliveryCommand {
  abstract check(model: Readonly<DeliveryModel>): boolean;
  abstract run(model: DeliveryModel, real: DeliverySystem): Promise<void>;
  abstract toString(): string;
}

/** A member (the `member`-th, modulo) sends, with or without a clientMessageId. */
class Send extends Command {
  constructor(readonly member: number, readonly conversation: number, readonly withKey: boolean, readonly node: number) {
    super();
  }
  check(model: Readonly<DeliveryModel>) {
    return model.lastSeq(this.conversation) < MAX_MESSAGES;
  }
  async run(model: DeliveryModel, real: DeliverySystem) {
    const user = pickFrom(membersOf(model, this.conversation), this.member);
    const node = this.node % real.nodeCount;
    const text = model.nextSendText();
    const key = this.withKey ? model.nextKey() : null;
    const answer = await real.request(node, user, 'POST', `${real.conversationPath(this.conversation)}/messages`, { text, ...(key ? { clientMessageId: key } : {}) });
    expect(answer.status, `send: ${answer.text}`).toBe(201);
    expect(answer.body.seq, 'a new message takes the next seq').toBe(model.lastSeq(this.conversation) + 1);
    model.send(this.conversation, user, answer.body.id, text, key, node);
  }
  toString() {
    return `send(${this.member}, ${this.conversation}, ${this.withKey}, ${this.node})`;
  }
}

/** Repeats an earlier keyed send through another node (when there is one): the original comes back, nothing new is stored. */
class Retry extends Command {
  constructor(readonly pick: number, readonly hop: number) {
    super();
  }
  check(model: Readonly<DeliveryModel>) {
    const key = model.keys.length === 0 ? undefined : pickFrom(model.keys, this.pick);
    return key !== undefined && model.isMember(key.conversation, key.sender);
  }
  async run(model: DeliveryModel, real: DeliverySystem) {
    const key = pickFrom(model.keys, this.pick);
    const node = real.nodeCount > 1 ? (key.node + 1 + (this.hop % (real.nodeCount - 1))) % real.nodeCount : 0;
    const original = model.conversations[key.conversation]!.messages[key.seq - 1]!;
    const answer = await real.request(node, key.sender, 'POST', `${real.conversationPath(key.conversation)}/messages`, {
      text: `retry of ${key.key}`,
      clientMessageId: key.key,
    });
    expect(answer.status, `retry: ${answer.text}`).toBe(200);
    expect({ id: answer.body.id, seq: answer.body.seq }, 'a retry returns the original message').toEqual({ id: original.id, seq: original.seq });
  }
  toString() {
    return `retry(${this.pick}, ${this.hop})`;
  }
}

class Edit extends Command {
  constructor(readonly conversation: number, readonly pick: number, readonly node: number) {
    super();
  }
  private target(model: Readonly<DeliveryModel>): ModelMessage | undefined {
    const editable = liveMessages(model as DeliveryModel, this.conversation).filter((message) => model.isMember(this.conversation, message.sender));
    return editable.length === 0 ? undefined : pickFrom(editable, this.pick);
  }
  check(model: Readonly<DeliveryModel>) {
    return this.target(model) !== undefined;
  }
  async run(model: DeliveryModel, real: DeliverySystem) {
    const message = this.target(model)!;
    const text = model.nextEditText();
    const answer = await real.request(this.node % real.nodeCount, message.sender, 'PATCH', `${real.conversationPath(this.conversation)}/messages/${message.id}`, { text });
    expect(answer.status, `edit: ${answer.text}`).toBe(200);
    expect(answer.body, 'the edited message').toMatchObject({ id: message.id, seq: message.seq, text });
    model.edit(this.conversation, message.seq, text);
  }
  toString() {
    return `edit(${this.conversation}, ${this.pick}, ${this.node})`;
  }
}

/** Deleted by its sender, or by the group's owner. */
class Delete extends Command {
  constructor(readonly conversation: number, readonly pick: number, readonly byOwner: boolean, readonly node: number) {
    super();
  }
  private target(model: Readonly<DeliveryModel>): { message: ModelMessage; actor: number } | undefined {
    const owner = model.conversations[this.conversation]!.owner;
    const deletable = liveMessages(model as DeliveryModel, this.conversation).filter((message) => this.byOwner || model.isMember(this.conversation, message.sender));
    if (deletable.length === 0) return undefined;
    const message = pickFrom(deletable, this.pick);
    return { message, actor: this.byOwner ? owner : message.sender };
  }
  check(model: Readonly<DeliveryModel>) {
    return this.target(model) !== undefined;
  }
  async run(model: DeliveryModel, real: DeliverySystem) {
    const { message, actor } = this.target(model)!;
    const answer = await real.request(this.node % real.nodeCount, actor, 'DELETE', `${real.conversationPath(this.conversation)}/messages/${message.id}`);
    expect(answer.status, `delete: ${answer.text}`).toBe(204);
    model.delete(this.conversation, message.seq);
  }
  toString() {
    return `del(${this.conversation}, ${this.pick}, ${this.byOwner}, ${this.node})`;
  }
}

/** Adds or removes a reaction; one already there (or absent) is a no-op the server acknowledges all the same. */
class React extends Command {
  constructor(readonly member: number, readonly conversation: number, readonly pick: number, readonly emoji: number, readonly add: boolean, readonly node: number) {
    super();
  }
  check(model: Readonly<DeliveryModel>) {
    return liveMessages(model as DeliveryModel, this.conversation).length > 0;
  }
  async run(model: DeliveryModel, real: DeliverySystem) {
    const user = pickFrom(membersOf(model, this.conversation), this.member);
    const message = pickFrom(liveMessages(model, this.conversation), this.pick);
    const emoji = EMOJI[this.emoji % EMOJI.length]!;
    const path = `${real.conversationPath(this.conversation)}/messages/${message.id}/reactions/${encodeURIComponent(emoji)}`;
    const answer = await real.request(this.node % real.nodeCount, user, this.add ? 'PUT' : 'DELETE', path);
    expect(answer.status, `react: ${answer.text}`).toBe(204);
    model.react(this.conversation, message.seq, user, emoji, this.add);
  }
  toString() {
    return `react(${this.member}, ${this.conversation}, ${this.pick}, ${this.emoji}, ${this.add}, ${this.node})`;
  }
}

/** Marks read up to a seq from 1 to one past the last message (so backwards, repeated and too-far positions occur). */
class Read extends Command {
  constructor(readonly member: number, readonly conversation: number, readonly pick: number, readonly node: number) {
    super();
  }
  check() {
    return true;
  }
  async run(model: DeliveryModel, real: DeliverySystem) {
    const user = pickFrom(membersOf(model, this.conversation), this.member);
    const seq = 1 + (this.pick % (model.lastSeq(this.conversation) + 1));
    const answer = await real.request(this.node % real.nodeCount, user, 'POST', `${real.conversationPath(this.conversation)}/read`, { seq });
    expect(answer.status, `read: ${answer.text}`).toBe(204);
    model.read(this.conversation, user, seq);
  }
  toString() {
    return `read(${this.member}, ${this.conversation}, ${this.pick}, ${this.node})`;
  }
}

/** The owner adds a user who is not a member (the `pick`-th of them; online or not). */
class AddMember extends Command {
  constructor(readonly conversation: number, readonly pick: number, readonly node: number) {
    super();
  }
  private outsiders(model: Readonly<DeliveryModel>): number[] {
    return usersWhere(model, (user) => !model.isMember(this.conversation, user));
  }
  check(model: Readonly<DeliveryModel>) {
    return this.outsiders(model).length > 0;
  }
  async run(model: DeliveryModel, real: DeliverySystem) {
    const user = pickFrom(this.outsiders(model), this.pick);
    const owner = model.conversations[this.conversation]!.owner;
    const answer = await real.request(this.node % real.nodeCount, owner, 'POST', `${real.conversationPath(this.conversation)}/members`, { userIds: [real.users[user]!.id] });
    expect(answer.status, `add member: ${answer.text}`).toBe(200);
    model.addMember(this.conversation, user);
  }
  toString() {
    return `addMember(${this.conversation}, ${this.pick}, ${this.node})`;
  }
}

/** The owner removes a member (the `pick`-th who is not the owner), or the member leaves (online or not); owners stay. */
class RemoveMember extends Command {
  constructor(readonly conversation: number, readonly pick: number, readonly leaves: boolean, readonly node: number) {
    super();
  }
  private removable(model: Readonly<DeliveryModel>): number[] {
    return membersOf(model, this.conversation).filter((user) => user !== model.conversations[this.conversation]!.owner);
  }
  check(model: Readonly<DeliveryModel>) {
    return this.removable(model).length > 0;
  }
  async run(model: DeliveryModel, real: DeliverySystem) {
    const user = pickFrom(this.removable(model), this.pick);
    const actor = this.leaves ? user : model.conversations[this.conversation]!.owner;
    const answer = await real.request(this.node % real.nodeCount, actor, 'DELETE', `${real.conversationPath(this.conversation)}/members/${real.users[user]!.id}`);
    expect(answer.status, `remove member: ${answer.text}`).toBe(204);
    model.removeMember(this.conversation, user);
  }
  toString() {
    return `removeMember(${this.conversation}, ${this.pick}, ${this.leaves}, ${this.node})`;
  }
}

/** An online client (the `pick`-th) closes its connection, cleanly or abruptly. */
class Disconnect extends Command {
  constructor(readonly pick: number, readonly abrupt: boolean) {
    super();
  }
  private online(model: Readonly<DeliveryModel>): number[] {
    return usersWhere(model, (user) => model.clients[user]!.node !== null);
  }
  check(model: Readonly<DeliveryModel>) {
    return this.online(model).length > 0;
  }
  async run(model: DeliveryModel, real: DeliverySystem) {
    const user = pickFrom(this.online(model), this.pick);
    await real.disconnect(user, this.abrupt);
    model.clients[user]!.node = null;
  }
  toString() {
    return `disconnect(${this.pick}, ${this.abrupt})`;
  }
}

/** An offline client (the `pick`-th) comes back on any node with its last cursor. */
class Resume extends Command {
  constructor(readonly pick: number, readonly node: number) {
    super();
  }
  private offline(model: Readonly<DeliveryModel>): number[] {
    return usersWhere(model, (user) => model.clients[user]!.node === null);
  }
  check(model: Readonly<DeliveryModel>) {
    return this.offline(model).length > 0;
  }
  async run(model: DeliveryModel, real: DeliverySystem) {
    const user = pickFrom(this.offline(model), this.pick);
    const node = this.node % real.nodeCount;
    await real.connect(user, node);
    model.clients[user]!.node = node;
  }
  toString() {
    return `resume(${this.pick}, ${this.node})`;
  }
}

/** The clients the model has on a node (they lose their connection when it goes). */
const clientsOn = (model: DeliveryModel, node: number) => [...model.clients.keys()].filter((user) => model.clients[user]!.node === node);

/** A node is killed (SIGKILL) or drained (SIGTERM) and started again; its clients are cut off (1006, or 1012 when drained). */
class RestartNode extends Command {
  constructor(readonly node: number, readonly signal: 'SIGKILL' | 'SIGTERM') {
    super();
  }
  check(model: Readonly<DeliveryModel>) {
    return model.faults;
  }
  async run(model: DeliveryModel, real: DeliverySystem) {
    const node = this.node % real.nodeCount;
    const victims = clientsOn(model, node);
    const exit = await real.cluster.restart(node, this.signal);
    expect(exit, 'how the node ended').toBe(this.signal === 'SIGKILL' ? 'SIGKILL' : 0);
    const codes = await real.awaitClosed(victims);
    expect(codes, 'close codes of its clients').toEqual(victims.map(() => (this.signal === 'SIGKILL' ? 1006 : 1012)));
    for (const user of victims) model.clients[user]!.node = null;
  }
  toString() {
    return `restartNode(${this.node}, '${this.signal}')`;
  }
}

/**
 * The Redis subscription connection of a node serving clients is killed (CLIENT KILL): it tells
 * its clients 1012 so they resume from the logs. (A node without clients subscribes to nothing:
 * its connection is then no subscriber, and losing it loses nobody anything.)
 */
class CutSubscriber extends Command {
  constructor(readonly node: number) {
    super();
  }
  check(model: Readonly<DeliveryModel>) {
    return model.faults && clientsOn(model as DeliveryModel, this.node % model.nodeCount).length > 0;
  }
  async run(model: DeliveryModel, real: DeliverySystem) {
    const node = this.node % real.nodeCount;
    const victims = clientsOn(model, node);
    expect(await real.cluster.cutSubscriber(node), 'subscriber connections killed').toBe(1);
    const codes = await real.awaitClosed(victims);
    expect(codes, 'close codes of its clients').toEqual(victims.map(() => 1012));
    for (const user of victims) model.clients[user]!.node = null;
  }
  toString() {
    return `cutSubscriber(${this.node})`;
  }
}

// Factories named as the commands print themselves (see the file comment).
export const send = (member: number, conversation: number, withKey: boolean, node: number) => new Send(member, conversation, withKey, node);
export const retry = (pick: number, hop: number) => new Retry(pick, hop);
export const edit = (conversation: number, pick: number, node: number) => new Edit(conversation, pick, node);
export const del = (conversation: number, pick: number, byOwner: boolean, node: number) => new Delete(conversation, pick, byOwner, node);
export const react = (member: number, conversation: number, pick: number, emoji: number, add: boolean, node: number) =>
  new React(member, conversation, pick, emoji, add, node);
export const read = (member: number, conversation: number, pick: number, node: number) => new Read(member, conversation, pick, node);
export const addMember = (conversation: number, pick: number, node: number) => new AddMember(conversation, pick, node);
export const removeMember = (conversation: number, pick: number, leaves: boolean, node: number) => new RemoveMember(conversation, pick, leaves, node);
export const disconnect = (pick: number, abrupt: boolean) => new Disconnect(pick, abrupt);
export const resume = (pick: number, node: number) => new Resume(pick, node);
export const restartNode = (node: number, signal: 'SIGKILL' | 'SIGTERM') => new RestartNode(node, signal);
export const cutSubscriber = (node: number) => new CutSubscriber(node);

const user = fc.nat(USER_NAMES.length - 1);
const member = fc.nat(USER_NAMES.length - 1);
const conversation = fc.nat(1);
const node = fc.nat(2);
const pick = fc.nat(20);

/**
 * One command, weighted like a chat: mostly sends and reactions, membership and connection churn
 * less often, and (with `faults`) an occasional node or subscription failure.
 */
export function commandArbitrary(faults: boolean): fc.Arbitrary<DeliveryCommand> {
  const weighted: fc.WeightedArbitrary<DeliveryCommand>[] = [
    { weight: 6, arbitrary: fc.tuple(member, conversation, fc.boolean(), node).map(([u, c, k, n]) => send(u, c, k, n)) },
    { weight: 2, arbitrary: fc.tuple(pick, fc.nat(1)).map(([p, h]) => retry(p, h)) },
    { weight: 2, arbitrary: fc.tuple(conversation, pick, node).map(([c, p, n]) => edit(c, p, n)) },
    { weight: 1, arbitrary: fc.tuple(conversation, pick, fc.boolean(), node).map(([c, p, o, n]) => del(c, p, o, n)) },
    { weight: 3, arbitrary: fc.tuple(member, conversation, pick, fc.nat(EMOJI.length - 1), fc.boolean(), node).map(([u, c, p, e, a, n]) => react(u, c, p, e, a, n)) },
    { weight: 2, arbitrary: fc.tuple(member, conversation, pick, node).map(([u, c, p, n]) => read(u, c, p, n)) },
    { weight: 2, arbitrary: fc.tuple(conversation, user, node).map(([c, u, n]) => addMember(c, u, n)) },
    { weight: 2, arbitrary: fc.tuple(conversation, user, fc.boolean(), node).map(([c, u, l, n]) => removeMember(c, u, l, n)) },
    { weight: 2, arbitrary: fc.tuple(user, fc.boolean()).map(([u, a]) => disconnect(u, a)) },
    { weight: 2, arbitrary: fc.tuple(user, node).map(([u, n]) => resume(u, n)) },
  ];
  if (faults) {
    weighted.push(
      { weight: 1, arbitrary: fc.tuple(node, fc.constantFrom('SIGKILL' as const, 'SIGTERM' as const)).map(([n, s]) => restartNode(n, s)) },
      { weight: 1, arbitrary: node.map((n) => cutSubscriber(n)) },
    );
  }
  return fc.oneof(...weighted);
}
