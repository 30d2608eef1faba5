import type { ChatSession } from '../chat-session.js';

/** A dot that is green while the user is online; its label says so for screen readers. */
export function PresenceDot({ session, userId }: { session: ChatSession; userId: string }) {
  const status = session.users.presence(userId, session.store) ?? 'offline';
  const name = session.users.nameOf(userId);
  return <span class={`presence ${status}`} role="img" aria-label={`${name} is ${status}`} title={status} data-presence={status} />;
}
