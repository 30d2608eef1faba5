/**
 * fast-check arbitraries of realtime client frames, valid and hostile (binary, oversized, not
 * UTF-8, not JSON, unknown types, wrong field types, typing for conversations the sender is not
 * in), and the outcome the documented protocol promises for each (README, *Realtime*): clients
 * send JSON text, `{"type":"ping"}` or `{"type":"typing","conversationId":…}`; a frame the server
 * cannot use closes the socket with 4400; the WebSocket layer closes a frame over the size limit
 * with 1009 and a text frame that is not UTF-8 with 1007. The outcome is computed from the bytes
 * sent, not from how they were built.
 */
import fc from 'fast-check';
import { NAN_ISH, ODD_STRINGS } from './openapi-arbitraries.js';

/** The largest client frame the server reads (MAX_CLIENT_FRAME_BYTES in parley.ts). */
export const MAX_CLIENT_FRAME_BYTES = 4096;

export interface ClientFrame {
  data: string | Buffer;
  binary: boolean;
  description: string;
}

/** What must happen to the socket: it stays open (the frame answered or ignored), or closes with this code. */
export type FrameOutcome = 'kept' | 1007 | 1009 | 4400;

/** Conversation ids a frame may name: one the sender is in, one they are not in, one that does not exist. */
export interface FrameTargets {
  own: string;
  foreign: string;
}

export function expectedOutcome(frame: ClientFrame): FrameOutcome {
  const bytes = typeof frame.data === 'string' ? Buffer.from(frame.data) : frame.data;
  if (bytes.length > MAX_CLIENT_FRAME_BYTES) return 1009;
  if (frame.binary) return 4400;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return 1007;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 4400;
  }
  if (parsed === null || typeof parsed !== 'object') return 4400;
  const { type, conversationId } = parsed as { type?: unknown; conversationId?: unknown };
  if (type === 'ping') return 'kept';
  if (type === 'typing' && typeof conversationId === 'string' && conversationId.length > 0 && conversationId.length <= 128) return 'kept';
  return 4400;
}

const text = (value: unknown, description: string): ClientFrame => ({ data: JSON.stringify(value), binary: false, description });

/** Any JSON value a fuzzer can think of, odd strings included. */
const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom<unknown>(...ODD_STRINGS, ...NAN_ISH, null, [], {}, 0, -1, 1e308, true));

export function frameArbitrary(targets: FrameTargets): fc.Arbitrary<ClientFrame> {
  const conversationIds = fc.oneof(
    fc.constantFrom(targets.own, targets.foreign, `zz${'0'.repeat(16)}`, 'a'.repeat(128), 'a'.repeat(129), ''),
    fc.constantFrom(...ODD_STRINGS),
    fc.string({ maxLength: 200, unit: 'binary' }),
  );
  return fc.oneof(
    fc.constant(text({ type: 'ping' }, 'ping')),
    conversationIds.map((id) => text({ type: 'typing', conversationId: id }, `typing in ${JSON.stringify(id.slice(0, 40))}`)),
    // Wrong field types.
    anyJson.map((value) => text({ type: 'typing', conversationId: value }, `typing with conversationId ${JSON.stringify(value)?.slice(0, 60)}`)),
    anyJson.map((value) => text({ type: value }, `type ${JSON.stringify(value)?.slice(0, 60)}`)),
    // Unknown types and extra fields.
    fc.string({ maxLength: 30 }).map((type) => text({ type, conversationId: targets.own }, `type ${JSON.stringify(type)}`)),
    fc.dictionary(fc.string({ maxLength: 10 }), anyJson, { maxKeys: 4 }).map((extra) => text({ type: 'ping', ...extra }, `ping with extra ${JSON.stringify(extra).slice(0, 60)}`)),
    anyJson.map((value) => text(value, `JSON ${JSON.stringify(value)?.slice(0, 60)}`)),
    // Not JSON, not UTF-8, not text, too big, at the size limit.
    fc.string({ maxLength: 100, unit: 'binary' }).map((data) => ({ data, binary: false, description: `text ${JSON.stringify(data.slice(0, 40))}` })),
    fc.constantFrom('{', '{"type":"ping"', '{"type":"ping"}}', "{'type':'ping'}", '', ' ', '\u0000', '{"type":"typing","conversationId":"\\ud800"}').map((data) => ({
      data,
      binary: false,
      description: `text ${JSON.stringify(data)}`,
    })),
    fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ data: Buffer.from(bytes), binary: true, description: `binary ${bytes.length} bytes` })),
    fc.constant({ data: Buffer.from('{"type":"ping"}'), binary: true, description: 'a ping sent as a binary frame' }),
    fc.uint8Array({ minLength: 1, maxLength: 16 }).map((bytes) => ({
      data: Buffer.concat([Buffer.from('{"type":"'), Buffer.from([0xff, ...bytes]), Buffer.from('"}')]),
      binary: false,
      description: 'a text frame that is not UTF-8',
    })),
    fc.constantFrom(MAX_CLIENT_FRAME_BYTES, MAX_CLIENT_FRAME_BYTES + 1, 64 * 1024, 1024 * 1024).map((size) => {
      const frame = '{"type":"ping","padding":""}';
      return { data: frame.replace('""', `"${'x'.repeat(size - frame.length)}"`), binary: false, description: `a ping of ${size} bytes` };
    }),
    fc.constantFrom(100, 1_000).map((depth) => ({ data: `{"type":"ping","deep":${'['.repeat(depth)}${']'.repeat(depth)}}`, binary: false, description: `JSON nested ${depth} deep` })),
  );
}
