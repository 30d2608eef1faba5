/**
 * An incremental parser of `text/event-stream` (the WHATWG "event stream interpretation"):
 * feed it decoded text in chunks of any size; it calls `onEvent` per dispatched event and
 * `onComment` per comment line (the server's keep-alives).
 */
export interface SseEvent {
  /** The last `id:` seen (it persists across events, as the standard says); '' when none. */
  id: string;
  /** `event:` of this event; 'message' when absent. */
  event: string;
  /** `data:` lines joined with '\n'. */
  data: string;
}

export interface SseParser {
  push(text: string): void;
}

export function createSseParser(onEvent: (event: SseEvent) => void, onComment: (text: string) => void = () => {}): SseParser {
  let buffer = '';
  let lastId = '';
  let eventType = '';
  let data: string[] = [];
  let sawData = false;
  // A '\r' at the end of a chunk may be the first half of '\r\n'.
  let skipLeadingLf = false;

  const line = (text: string) => {
    if (text === '') {
      if (sawData) onEvent({ id: lastId, event: eventType === '' ? 'message' : eventType, data: data.join('\n') });
      eventType = '';
      data = [];
      sawData = false;
      return;
    }
    if (text.startsWith(':')) return onComment(text.slice(1).trimStart());
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      data.push(value);
      sawData = true;
    } else if (field === 'event') eventType = value;
    else if (field === 'id' && !value.includes('\0')) lastId = value;
    // `retry` and unknown fields are ignored: reconnection is the connection's own policy.
  };

  return {
    push(text) {
      if (skipLeadingLf && text.startsWith('\n')) text = text.slice(1);
      skipLeadingLf = false;
      buffer += text;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const char = buffer[i];
        if (char !== '\n' && char !== '\r') continue;
        line(buffer.slice(start, i));
        if (char === '\r') {
          if (i + 1 === buffer.length) skipLeadingLf = true;
          else if (buffer[i + 1] === '\n') i += 1;
        }
        start = i + 1;
      }
      buffer = buffer.slice(start);
    },
  };
}
