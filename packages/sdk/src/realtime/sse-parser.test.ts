/** The event-stream parser: chunk boundaries anywhere, CRLF/CR/LF, comments, ids that persist, multi-line data. */
import { describe, expect, it } from 'vitest';
import { createSseParser, type SseEvent } from './sse-parser.js';

const STREAM =
  ': parley\n\n' +
  'id: c1\r\ndata: {"type":"message.created"}\r\n\r\n' +
  'data: {"type":"typing"}\n\n' +
  ': keep-alive\n\n' +
  'event: close\rdata: {"code":1012,\rdata: "reason":"x"}\r\r' +
  'data:no space\nid\n\n' +
  'data: unterminated';

const EXPECTED: SseEvent[] = [
  { id: 'c1', event: 'message', data: '{"type":"message.created"}' },
  // The last id persists until a new one, as the standard says.
  { id: 'c1', event: 'message', data: '{"type":"typing"}' },
  { id: 'c1', event: 'close', data: '{"code":1012,\n"reason":"x"}' },
  { id: '', event: 'message', data: 'no space' },
];

function parse(chunks: string[]) {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const parser = createSseParser((event) => events.push(event), (comment) => comments.push(comment));
  for (const chunk of chunks) parser.push(chunk);
  return { events, comments };
}

describe('createSseParser', () => {
  it('parses a stream given whole', () => {
    expect(parse([STREAM])).toEqual({ events: EXPECTED, comments: ['parley', 'keep-alive'] });
  });

  it('parses the same stream split at every possible point, and one character at a time', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      expect(parse([STREAM.slice(0, cut), STREAM.slice(cut)]).events, `split at ${cut}`).toEqual(EXPECTED);
    }
    expect(parse([...STREAM]).events).toEqual(EXPECTED);
  });
});
