import type { Message, QueuedMessage } from '@parley/sdk';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { isOwn, othersIn, titleOf, type ChatSession } from '../chat-session.js';
import { timeOf, useChanges } from '../hooks.js';
import { Composer } from './Composer.js';
import { PresenceDot } from './PresenceDot.js';

const REACTIONS = ['👍', '❤️', '😂', '🎉'];

/** One conversation: history paged upward, live messages, actions, typing and read receipts. */
export function ChatView({ session, conversationId, onBack }: { session: ChatSession; conversationId: string; onBack: () => void }) {
  useChanges(session.store, session.users, session.queueChanges);
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [olderExists, setOlderExists] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const log = useRef<HTMLDivElement>(null);
  const stickToBottom = useRef(true);
  const loadingEarlier = useRef(false);

  const conversation = session.store.conversation(conversationId);
  const messages = session.store.messages(conversationId);
  const lastSeq = messages.at(-1)?.seq ?? 0;

  useEffect(() => {
    session.setOpenConversation(conversationId);
    setReplyTo(null);
    setEditing(null);
    setError(null);
    setOlderExists(true);
    stickToBottom.current = true;
    session.loadLatest(conversationId).catch(() => setError('This conversation could not be loaded.'));
    return () => session.setOpenConversation(null);
  }, [session, conversationId]);

  // Read receipts: what is on screen while the page is visible is read.
  useEffect(() => {
    const mark = () => document.visibilityState === 'visible' && session.markRead(conversationId);
    mark();
    document.addEventListener('visibilitychange', mark);
    return () => document.removeEventListener('visibilitychange', mark);
  }, [session, conversationId, lastSeq]);

  // New messages keep the view at the bottom unless the reader scrolled up.
  useLayoutEffect(() => {
    const element = log.current;
    if (element && stickToBottom.current) element.scrollTop = element.scrollHeight;
  });

  const loadEarlier = async () => {
    const element = log.current;
    if (loadingEarlier.current || !element) return;
    loadingEarlier.current = true;
    const fromBottom = element.scrollHeight - element.scrollTop;
    try {
      setOlderExists(await session.loadEarlier(conversationId));
      // Keep the messages the reader was looking at where they were.
      requestAnimationFrame(() => (element.scrollTop = element.scrollHeight - fromBottom));
    } catch {
      setError('Earlier messages could not be loaded.');
    } finally {
      loadingEarlier.current = false;
    }
  };

  const onScroll = () => {
    const element = log.current!;
    stickToBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 40;
    if (element.scrollTop < 20 && olderExists && (messages[0]?.seq ?? 1) > 1) loadEarlier().catch(() => undefined);
  };

  const act = (action: Promise<unknown>, failure: string) => {
    setError(null);
    action.catch(() => setError(failure));
  };

  if (!conversation)
    return (
      <section class="chat" aria-label="Conversation">
        <p class="empty">This conversation is not in your list (you may have left it).</p>
        <button type="button" onClick={onBack}>
          Back to conversations
        </button>
      </section>
    );

  const title = titleOf(session, conversationId);
  const peer = conversation.type === 'direct' ? othersIn(session, conversationId)[0] : undefined;
  const typing = session.store.typing(conversationId).map((userId) => session.users.nameOf(userId));
  const pending = session.queue.messages.filter((item) => item.conversationId === conversationId && item.status !== 'sent');
  const lastOwn = [...messages].reverse().find((message) => isOwn(session, message) && !message.deletedAt);
  const seenBy = lastOwn ? session.store.seenBy(conversationId, lastOwn.seq).map((userId) => session.users.nameOf(userId)) : [];
  const byId = new Map(messages.map((message) => [message.id, message]));

  return (
    <section class="chat" aria-labelledby="chat-title">
      <header class="chat-header">
        <button type="button" class="back" onClick={onBack} aria-label="Back to conversations">
          ←
        </button>
        {peer !== undefined && <PresenceDot session={session} userId={peer} />}
        <h2 id="chat-title">{title}</h2>
        {conversation.type === 'group' && <span class="hint">{conversation.memberCount} members</span>}
      </header>
      <div class="messages" ref={log} onScroll={onScroll} role="log" aria-label={`Messages with ${title}`} aria-live="polite" tabIndex={0}>
        <ol>
        {(messages[0]?.seq ?? 1) > 1 && olderExists && (
          <li class="load-earlier">
            <button type="button" onClick={() => { loadEarlier().catch(() => undefined); }}>
              Load earlier messages
            </button>
          </li>
        )}
        {messages.map((message) => (
          <MessageItem
            key={message.seq}
            session={session}
            message={message}
            quoted={message.replyTo ? byId.get(message.replyTo) : undefined}
            editing={editing === message.id}
            onEdit={() => setEditing(message.id)}
            onEditDone={(text) => {
              setEditing(null);
              if (text !== null && text !== message.text) act(session.client.messages.edit(conversationId, message.id, text), 'The message could not be edited.');
            }}
            onDelete={() => act(session.client.messages.delete(conversationId, message.id), 'The message could not be deleted.')}
            onReply={() => setReplyTo(message)}
            onReact={(emoji, mine) =>
              act(
                mine ? session.client.messages.removeReaction(conversationId, message.id, emoji) : session.client.messages.addReaction(conversationId, message.id, emoji),
                'The reaction could not be saved.',
              )
            }
          />
        ))}
        {pending.map((item) => (
          <PendingItem key={item.clientMessageId} session={session} item={item} />
        ))}
        </ol>
      </div>
      <p class="status-line" role="status">
        {typing.length > 0 ? `${typing.join(', ')} ${typing.length === 1 ? 'is' : 'are'} typing…` : seenBy.length > 0 ? `Seen by ${seenBy.join(', ')}` : ''}
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <Composer
        key={conversationId}
        replyTo={replyTo}
        replyName={replyTo ? session.users.nameOf(replyTo.senderId) : ''}
        onCancelReply={() => setReplyTo(null)}
        onTyping={() => session.connection.sendTyping(conversationId)}
        onSend={(text) => {
          stickToBottom.current = true;
          act(session.queue.send(conversationId, text, replyTo ? { replyTo: replyTo.id } : {}), 'The message could not be queued.');
          setReplyTo(null);
        }}
      />
    </section>
  );
}

interface MessageItemProps {
  session: ChatSession;
  message: Message;
  quoted: Message | undefined;
  editing: boolean;
  onEdit: () => void;
  onEditDone: (text: string | null) => void;
  onDelete: () => void;
  onReply: () => void;
  onReact: (emoji: string, mine: boolean) => void;
}

function MessageItem({ session, message, quoted, editing, onEdit, onEditDone, onDelete, onReply, onReact }: MessageItemProps) {
  const own = isOwn(session, message);
  const deleted = message.deletedAt !== null;
  const sender = own ? 'You' : session.users.nameOf(message.senderId);
  return (
    <li class={`message${own ? ' own' : ''}${deleted ? ' deleted' : ''}`} data-seq={message.seq} data-message-id={message.id}>
      <p class="meta">
        <span class="sender">{sender}</span> <time dateTime={message.createdAt}>{timeOf(message.createdAt)}</time>
        {message.editedAt && !deleted && <span class="edited"> (edited)</span>}
      </p>
      {quoted && (
        <blockquote class="quote">
          {session.users.nameOf(quoted.senderId)}: {quoted.deletedAt ? 'Message deleted' : quoted.text}
        </blockquote>
      )}
      {editing ? (
        <EditBox text={message.text ?? ''} onDone={onEditDone} />
      ) : (
        <p class="text">{deleted ? <em>Message deleted</em> : message.text}</p>
      )}
      {!deleted && Object.keys(message.reactions).length > 0 && (
        <p class="reactions">
          {Object.entries(message.reactions).map(([emoji, reaction]) => (
            <button type="button" key={emoji} class={`reaction${reaction.me ? ' mine' : ''}`} aria-pressed={reaction.me} aria-label={`${emoji} ${reaction.count}`} onClick={() => onReact(emoji, reaction.me)}>
              {emoji} {reaction.count}
            </button>
          ))}
        </p>
      )}
      {!deleted && !editing && (
        <div class="actions" role="group" aria-label={`Actions on the message from ${sender}`}>
          <button type="button" onClick={onReply}>
            Reply
          </button>
          {REACTIONS.map((emoji) => (
            <button type="button" key={emoji} aria-label={`React ${emoji}`} onClick={() => onReact(emoji, message.reactions[emoji]?.me ?? false)}>
              {emoji}
            </button>
          ))}
          {own && (
            <>
              <button type="button" onClick={onEdit}>
                Edit
              </button>
              <button type="button" onClick={onDelete}>
                Delete
              </button>
            </>
          )}
        </div>
      )}
    </li>
  );
}

function EditBox({ text, onDone }: { text: string; onDone: (text: string | null) => void }) {
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <form
      class="edit"
      onSubmit={(event) => {
        event.preventDefault();
        const value = input.current!.value.trim();
        onDone(value === '' ? null : value);
      }}
    >
      <label class="visually-hidden" for="edit-text">
        Edit message
      </label>
      <input id="edit-text" ref={input} defaultValue={text} onKeyDown={(event) => event.key === 'Escape' && onDone(null)} />
      <button type="submit">Save</button>
      <button type="button" onClick={() => onDone(null)}>
        Cancel
      </button>
    </form>
  );
}

function PendingItem({ session, item }: { session: ChatSession; item: QueuedMessage }) {
  const failed = item.status === 'failed';
  return (
    <li class={`message own pending${failed ? ' failed' : ''}`} data-client-message-id={item.clientMessageId}>
      <p class="text">{item.text}</p>
      <p class="meta">
        {failed ? (
          <>
            Not sent{item.lastError ? `: ${item.lastError.message}` : ''}.{' '}
            <button type="button" onClick={() => { session.queue.retry(item.clientMessageId).catch(() => undefined); }}>
              Retry
            </button>{' '}
            <button type="button" onClick={() => { session.queue.discard(item.clientMessageId).catch(() => undefined); }}>
              Discard
            </button>
          </>
        ) : (
          'Sending…'
        )}
      </p>
    </li>
  );
}
