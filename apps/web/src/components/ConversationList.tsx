import type { ChatSession } from '../chat-session.js';
import { othersIn, titleOf } from '../chat-session.js';
import { useChanges } from '../hooks.js';
import { PresenceDot } from './PresenceDot.js';

/** The user's conversations, most recent activity first, with unread badges. */
export function ConversationList({ session, openId, onOpen }: { session: ChatSession; openId: string | null; onOpen: (id: string) => void }) {
  useChanges(session.store, session.users);
  const conversations = session.store.conversations();
  if (conversations.length === 0) return <p class="empty">No conversations yet. Start one above.</p>;
  return (
    <ul class="conversation-list" aria-label="Conversations">
      {conversations.map((conversation) => {
        const title = titleOf(session, conversation.id);
        const last = conversation.lastMessage;
        const peer = conversation.type === 'direct' ? othersIn(session, conversation.id)[0] : undefined;
        const preview = last === null ? 'No messages yet' : last.deletedAt ? 'Message deleted' : `${last.senderId === session.me.id ? 'You: ' : ''}${last.text ?? ''}`;
        const unread = conversation.unreadCount;
        return (
          <li key={conversation.id}>
            <button
              type="button"
              class={`conversation${conversation.id === openId ? ' open' : ''}`}
              aria-current={conversation.id === openId ? 'page' : undefined}
              data-conversation-id={conversation.id}
              onClick={() => onOpen(conversation.id)}
            >
              {peer !== undefined && <PresenceDot session={session} userId={peer} />}
              <span class="conversation-title">{title}</span>
              {unread > 0 && (
                <span class="badge">
                  <span aria-hidden="true">{unread > 99 ? '99+' : unread}</span>
                  <span class="visually-hidden">{`${unread} unread`}</span>
                </span>
              )}
              <span class="conversation-preview">{preview}</span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}
