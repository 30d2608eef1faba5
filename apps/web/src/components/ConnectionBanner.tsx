import { useRef } from 'preact/hooks';
import type { ChatSession } from '../chat-session.js';
import { useChanges } from '../hooks.js';

/**
 * Shown while the realtime connection is not live after it has been: messages sent meanwhile
 * wait in the queue and what others sent arrives on reconnection.
 */
export function ConnectionBanner({ session }: { session: ChatSession }) {
  useChanges(session.connectionChanges);
  const wasLive = useRef(false);
  const state = session.connection.state;
  if (state === 'live') wasLive.current = true;
  const visible = state === 'offline' || (wasLive.current && state !== 'live');
  return (
    <div class="banner-slot" role="status" aria-live="polite">
      {visible && (
        <p class="banner" data-state={state}>
          {state === 'offline' ? 'Offline: not connected to the server.' : 'Reconnecting… messages you send will be delivered once connected.'}{' '}
          <button type="button" onClick={() => session.connection.reconnectNow()}>
            Retry now
          </button>
        </p>
      )}
    </div>
  );
}
