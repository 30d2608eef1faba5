import { ParleyError } from '@parley/sdk';
import { useState } from 'preact/hooks';
import type { ChatSession } from '../chat-session.js';

/**
 * Starts a conversation by username: one name opens (or finds) the direct conversation, several
 * make a group with the given title.
 */
export function NewConversation({ session, onOpen }: { session: ChatSession; onOpen: (id: string) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const names = [...new Set(String(data.get('usernames') ?? '').split(/[\s,]+/).map((name) => name.trim().toLowerCase()).filter(Boolean))];
    const title = String(data.get('title') ?? '').trim();
    if (names.length === 0) return;
    setBusy(true);
    setError(null);
    try {
      const found = await Promise.all(names.map((name) => session.client.users.findByUsername(name)));
      const missing = names.filter((_, index) => found[index] === null);
      if (missing.length > 0) throw new Error(`No user named ${missing.join(', ')}.`);
      const members = found.flatMap((user) => (user && user.id !== session.me.id ? [user] : []));
      if (members.length === 0) throw new Error('Name someone other than yourself.');
      for (const user of members) session.users.remember(user);
      const conversation =
        members.length === 1 && title === ''
          ? await session.client.conversations.create({ type: 'direct', members: [members[0]!.id] })
          : await session.client.conversations.create({ type: 'group', title: title || members.map((user) => user.displayName).join(', '), members: members.map((user) => user.id) });
      session.store.putConversation(conversation);
      form.reset();
      onOpen(conversation.id);
    } catch (caught) {
      setError(caught instanceof ParleyError ? (caught.detail ?? caught.title ?? caught.code) : caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="new-conversation" onSubmit={(event) => { submit(event).catch(() => undefined); }} aria-label="Start a conversation">
      <label>
        Start a conversation with
        <input name="usernames" placeholder="username, or several for a group" autoCapitalize="none" required />
      </label>
      <label>
        Group title <span class="hint">(optional)</span>
        <input name="title" maxLength={200} />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        Start
      </button>
    </form>
  );
}
