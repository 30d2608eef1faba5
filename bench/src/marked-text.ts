/**
 * Benchmark message texts that say which message they are — `<tag>:<step>:<index>:` padded to a
 * length — so a receiver finds the message a frame carries with one byte search instead of parsing
 * JSON (at 100k frames/s the harness's own CPU matters: it shares the machine with the servers).
 */

export function markedText(tag: string, step: number, index: number, length: number): string {
  const head = `${tag}:${step}:${index}:`;
  return head + 'x'.repeat(Math.max(0, length - head.length));
}

/** The bytes a JSON frame carrying a text of `tag` contains: `"text":"<tag>:`. */
export function textMarker(tag: string): Buffer {
  return Buffer.from(`"text":"${tag}:`);
}

/** Reads the decimal number at `at`, returning it and the position after it. */
function readNumber(buffer: Buffer, at: number): [number, number] {
  let value = 0;
  let position = at;
  for (; position < buffer.length; position += 1) {
    const digit = buffer[position]! - 48;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
  }
  return [value, position];
}

/** The [step, index] of the marked text in `frame` (found by `marker`), or null when it carries none. */
export function readMarked(frame: Buffer, marker: Buffer): [number, number] | null {
  const found = frame.indexOf(marker);
  if (found < 0) return null;
  const [step, afterStep] = readNumber(frame, found + marker.length);
  const [index] = readNumber(frame, afterStep + 1);
  return [step, index];
}
