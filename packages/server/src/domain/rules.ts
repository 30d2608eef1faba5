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

/** One emoji (or a short emoji sequence): no whitespace, no control characters, at most 8 code points. */
export function isValidEmoji(emoji: string): boolean {
  const codePoints = [...emoji];
  return codePoints.length >= 1 && codePoints.length <= 8 && !/[\s\p{Cc}]/u.test(emoji);
}

export const MAX_EMOJI_PER_MESSAGE = 50;
export const MAX_REACTIONS_PER_USER_PER_MESSAGE = 20;
/** `members` of a conversation object lists at most this many; GET .../members pages through all. */
export const MEMBERS_IN_CONVERSATION_OBJECT = 100;
