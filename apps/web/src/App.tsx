import type { ParleyClient, User } from '@parley/sdk';
import { useEffect, useState } from 'preact/hooks';
import { openChatSession, type ChatSession } from './chat-session.js';
import { ChatView } from './components/ChatView.js';
import { ConnectionBanner } from './components/ConnectionBanner.js';
import { ConversationList } from './components/ConversationList.js';
import { NewConversation } from './components/NewConversation.js';
import { SignIn } from './components/SignIn.js';

/** The open conversation lives in the URL (#/c/<id>), so a reload or a shared link keeps it. */
const conversationInHash = () => /^#\/c\/(.+)$/.exec(window.location.hash)?.[1] ?? null;

export function App({ client }: { client: ParleyClient }) {
  const [phase, setPhase] = useState<'loading' | 'signed-out' | 'signed-in' | 'unreachable'>('loading');
  const [session, setSession] = useState<ChatSession | null>(null);
  const [openId, setOpenId] = useState<string | null>(conversationInHash());

  const start = (user: User) => {
    setPhase('loading');
    openChatSession(client, user).then(
      (opened) => {
        setSession(opened);
        setPhase('signed-in');
      },
      () => setPhase('unreachable'),
    );
  };

  useEffect(() => {
    client.auth!.session().then(
      (stored) => (stored ? start(stored.user) : setPhase('signed-out')),
      () => setPhase('unreachable'),
    );
    const onHash = () => setOpenId(conversationInHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, [client]);

  // A session the server ended (signed out elsewhere, password changed, account deleted).
  useEffect(
    () =>
      client.auth!.onSessionChange((stored) => {
        if (stored !== null) return;
        session?.close();
        setSession(null);
        setPhase('signed-out');
      }),
    [client, session],
  );

  const signOut = () => {
    const unsent = session?.queue.pending.length ?? 0;
    if (unsent > 0 && !window.confirm(`${unsent} message${unsent === 1 ? ' is' : 's are'} not sent yet and will be discarded. Sign out?`)) return;
    // Signed out here even when the server cannot be told (its session then expires on its own).
    session?.signOut().catch(() => setPhase('signed-out'));
  };

  const open = (id: string | null) => {
    window.location.hash = id === null ? '' : `#/c/${id}`;
    setOpenId(id);
  };

  if (phase === 'loading') return <p class="loading" role="status">Loading…</p>;
  if (phase === 'unreachable')
    return (
      <main class="sign-in">
        <p class="error" role="alert">
          The server cannot be reached.
        </p>
        <button type="button" onClick={() => window.location.reload()}>
          Try again
        </button>
      </main>
    );
  if (phase === 'signed-out' || session === null) return <SignIn client={client} onSignedIn={start} />;

  return (
    <div class={`layout${openId ? ' has-open' : ''}`}>
      <header class="top">
        <h1>Parley</h1>
        <span class="me">{session.me.displayName}</span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <ConnectionBanner session={session} />
      <aside class="sidebar" aria-label="Conversations">
        <NewConversation session={session} onOpen={open} />
        <ConversationList session={session} openId={openId} onOpen={open} />
      </aside>
      {openId ? (
        <ChatView session={session} conversationId={openId} onBack={() => open(null)} />
      ) : (
        <section class="chat placeholder">
          <p class="empty">Choose a conversation, or start one.</p>
        </section>
      )}
    </div>
  );
}
