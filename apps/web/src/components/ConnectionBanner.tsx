import { useEffect, useRef, useState } from 'preact/hooks';
import type { ChatSession } from '../chat-session.js';
import { useChanges } from '../hooks.js';

/** Why the connection stopped trying, in the user's words. */
function offlineReason(session: ChatSession): string {
  switch (session.lastConnectionError?.kind) {
    case 'too-many-connections':
      return 'Offline: you are connected from too many tabs or devices. Close some, then retry.';
    case 'unauthorized':
      return 'Offline: your session was not accepted. Sign in again.';
    default:
      return 'Offline: not connected to the server.';
  }
}

/** A first connection taking longer than this is worth telling the user about. */
const SLOW_FIRST_CONNECTION_MS = 5000;

/**
 * Shown while the realtime connection is not live after it has been (or when the first one is
 * slow to come): messages sent meanwhile wait in the queue and what others sent arrives on
 * reconnection.
 */
export function ConnectionBanner({ session }: { session: ChatSession }) {
  useChanges(session.connectionChanges);
  const wasLive = useRef(false);
  const [slowStart, setSlowStart] = useState(false);
  const state = session.connection.state;
  if (state === 'live') wasLive.current = true;
  useEffect(() => {
    if (wasLive.current || state === 'live') return;
    const timer = setTimeout(() => setSlowStart(true), SLOW_FIRST_CONNECTION_MS);
    return () => clearTimeout(timer);
  }, [state]);
  const visible = state === 'offline' || (state !== 'live' && (wasLive.current || slowStart));
  return (
    <div class="banner-slot" role="status" aria-live="polite">
      {visible && (
        <p class="banner" data-state={state}>
          {state === 'offline' ? offlineReason(session) : wasLive.current ? 'Reconnecting… messages you send will be delivered once connected.' : 'Connecting…'}{' '}
          <button type="button" onClick={() => session.connection.reconnectNow()}>
            Retry now
          </button>
        </p>
      )}
    </div>
  );
}
