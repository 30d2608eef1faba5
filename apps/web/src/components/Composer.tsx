import type { Message } from '@parley/sdk';
import { useRef } from 'preact/hooks';

const MAX_TEXT = 4000;

interface ComposerProps {
  replyTo: Message | null;
  replyName: string;
  onCancelReply: () => void;
  onTyping: () => void;
  onSend: (text: string) => void;
}

/** The message box: Enter sends, Shift+Enter starts a new line; typing is announced (the SDK throttles it). */
export function Composer({ replyTo, replyName, onCancelReply, onTyping, onSend }: ComposerProps) {
  const box = useRef<HTMLTextAreaElement>(null);
  const send = () => {
    const text = box.current!.value.trim();
    if (text === '') return;
    onSend(text);
    box.current!.value = '';
    box.current!.focus();
  };
  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      {replyTo && (
        <p class="replying">
          Replying to {replyName}: <span class="quote-text">{replyTo.text}</span>{' '}
          <button type="button" onClick={onCancelReply} aria-label="Cancel the reply">
            ×
          </button>
        </p>
      )}
      <label class="visually-hidden" for="composer-text">
        Message
      </label>
      <textarea
        id="composer-text"
        ref={box}
        rows={1}
        maxLength={MAX_TEXT}
        placeholder="Write a message"
        onInput={onTyping}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            send();
          }
          if (event.key === 'Escape' && replyTo) onCancelReply();
        }}
      />
      <button type="submit" class="primary">
        Send
      </button>
    </form>
  );
}
