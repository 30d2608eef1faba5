/** Input rules that schemas cannot state (they depend on trimming or on the conversation type). */
import { MAX_MESSAGE_TEXT } from '@parley/protocol';

/** Message text is stored trimmed; 1..4000 characters (code points) after trimming, or null. */
export function normalizeMessageText(text: string): string | null {
  const trimmed = text.trim();
  const length = [...trimmed].length;
  return length >= 1 && length <= MAX_MESSAGE_TEXT ? trimmed : null;
}

/** Trimmed display names and titles; null when nothing is left. */
export function normalizeLabel(text: string): string | null {
  const trimmed = text.trim();
  return trimmed.length > 0 ? trimmed : null;
}

/**
 * One emoji: a fully-qualified emoji or emoji sequence of Unicode's recommended set (RGI: keycaps,
 * flags, skin tones, ZWJ sequences), or a single pictographic character with an optional VS16
 * (`❤` as well as `❤️`). Letters, words and invisible characters are not emoji. Needs the `v`
 * flag (Node 20+); built at run time so the compile target need not know the flag.
 */
const EMOJI = new RegExp('^(?:\\p{RGI_Emoji}|\\p{Extended_Pictographic}\\uFE0F?)$', 'v');

export function isValidEmoji(emoji: string): boolean {
  return EMOJI.test(emoji);
}

// ─── What text may contain ──────────────────────────────────────────────────────────────────
//
// Text is stored and returned as the exact string received, on both engines, so it must be
// well-formed Unicode: a lone surrogate has no UTF-8 form and each engine would store it
// differently. Controls have no place in a label; message text may hold newlines and tabs. Bidi
// embeddings and overrides (U+202A..U+202E) reorder what a reader sees (the Trojan Source
// attack): refused in all text. Isolates (U+2066..U+2069) and the direction marks (U+200E, U+200F,
// U+061C) are how right-to-left text is written correctly, so message text keeps them; labels
// (names, titles), shown inline among other text, refuse every bidi control. Refused, never
// stripped: a silently altered text would be worse than a clear 400.

/** A lone (unpaired) UTF-16 surrogate: with the `u` flag, only unpaired ones are matched. */
const LONE_SURROGATE = /\p{Cs}/u;
/** C0 and C1 controls and DEL. */
const CONTROL = /\p{Cc}/u;
/** Controls other than newline and tab. */
const CONTROL_BUT_NEWLINE_OR_TAB = /[^\P{Cc}\n\t]/u;
/** Bidi embeddings and overrides: LRE, RLE, PDF, LRO, RLO. */
const BIDI_OVERRIDE = /[\u202A-\u202E]/u;
/** Every bidi formatting character: embeddings, overrides, isolates and the direction marks. */
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/u;

/** Whether the string is well-formed UTF-16 (no lone surrogate), so it has one UTF-8 form. */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** What is wrong with a label (display name, title, tenant name), as "must …"; null when fine. */
export function labelViolation(text: string): string | null {
  if (!isWellFormed(text)) return 'must be well-formed Unicode (no lone surrogates)';
  if (CONTROL.test(text)) return 'must not contain control characters';
  if (BIDI_CONTROL.test(text)) return 'must not contain bidirectional control characters';
  return null;
}

/** What is wrong with message text, as "must …"; null when fine. */
export function messageTextViolation(text: string): string | null {
  if (!isWellFormed(text)) return 'must be well-formed Unicode (no lone surrogates)';
  if (CONTROL_BUT_NEWLINE_OR_TAB.test(text)) return 'must not contain control characters other than newline and tab';
  if (BIDI_OVERRIDE.test(text)) return 'must not contain bidirectional embeddings or overrides (U+202A..U+202E)';
  return null;
}

/**
 * The path (`body.metadata.note`, `query.q`) of the first string, key or value, that is not
 * well-formed in a parsed JSON value; null when every string is. Walks at most `maxDepth` levels
 * (deeper values are not JSON a client of this API sends).
 */
export function findMalformedString(value: unknown, path: string, maxDepth = 64): string | null {
  if (typeof value === 'string') return isWellFormed(value) ? null : path;
  if (maxDepth === 0 || value === null || typeof value !== 'object') return null;
  for (const [key, inner] of Object.entries(value)) {
    const innerPath = Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`;
    if (!isWellFormed(key)) return innerPath;
    const found = findMalformedString(inner, innerPath, maxDepth - 1);
    if (found !== null) return found;
  }
  return null;
}

export const MAX_EMOJI_PER_MESSAGE = 50;
export const MAX_REACTIONS_PER_USER_PER_MESSAGE = 20;
/** `members` of a conversation object lists at most this many; GET .../members pages through all. */
export const MEMBERS_IN_CONVERSATION_OBJECT = 100;
