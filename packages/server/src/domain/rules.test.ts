import { describe, expect, it } from 'vitest';
import { findMalformedString, isValidEmoji, isWellFormed, labelViolation, messageTextViolation } from './rules.js';

const LONE_HIGH = '\uD83D';
const LONE_LOW = '\uDE00';

describe('isValidEmoji', () => {
  it.each([
    ['thumbs up', '👍'],
    ['skin tone', '👍🏽'],
    ['heart with VS16', '❤️'],
    ['heart without VS16', '❤'],
    ['flag', '🇫🇷'],
    ['keycap', '1️⃣'],
    ['hash keycap', '#️⃣'],
    ['ZWJ family', '👨‍👩‍👧'],
    ['ten code points: kiss, two skin tones', '👩🏽‍❤️‍💋‍👨🏿'],
    ['rainbow flag', '🏳️‍🌈'],
    ['astral plane smiley', '\u{1F600}'],
  ])('accepts %s', (_name, emoji) => expect(isValidEmoji(emoji)).toBe(true));

  it.each([
    ['a word', 'toString'],
    ['a prototype name', '__proto__'],
    ['a letter', 'a'],
    ['a digit (not a keycap)', '1'],
    ['RLO override', '\u202E'],
    ['RLO before an emoji', '\u202E👍'],
    ['two emoji', '👍👍'],
    ['emoji and space', '👍 '],
    ['emoji and zero-width space', '👍\u200B'],
    ['emoji and a letter', '👍a'],
    ['NUL', '\u0000'],
    ['empty', ''],
    ['lone surrogate', LONE_HIGH],
    ['doubled VS16', '\u{1F600}\uFE0F\uFE0F'],
    ['a lone regional indicator pair that is no flag', '🇦🇦'],
  ])('refuses %s', (_name, emoji) => expect(isValidEmoji(emoji)).toBe(false));
});

describe('isWellFormed', () => {
  it.each([
    ['', true],
    ['plain', true],
    ['astral 𝒳 and 😀', true],
    [`high ${LONE_HIGH} alone`, false],
    [`low ${LONE_LOW} alone`, false],
    [`${LONE_LOW}${LONE_HIGH}`, false], // reversed pair
    [`end ${LONE_HIGH}`, false],
  ])('%j → %s', (text, expected) => expect(isWellFormed(text)).toBe(expected));
});

describe('labelViolation (display names, titles, tenant names)', () => {
  it.each([
    ['Alice'],
    ['Zoë Ångström'],
    ['שלום עולם'],
    ['مرحبا'],
    ['日本語 😀 𝒳'],
  ])('accepts %j', (label) => expect(labelViolation(label)).toBeNull());

  it.each([
    ['NUL', 'a\u0000b', 'must not contain control characters'],
    ['newline', 'a\nb', 'must not contain control characters'],
    ['tab', 'a\tb', 'must not contain control characters'],
    ['DEL', 'a\u007Fb', 'must not contain control characters'],
    ['C1 control', 'a\u0085b', 'must not contain control characters'],
    ['RLO override', 'evil\u202Etxt.exe', 'must not contain bidirectional control characters'],
    ['LRE embedding', 'a\u202Ab', 'must not contain bidirectional control characters'],
    ['PDF', 'a\u202Cb', 'must not contain bidirectional control characters'],
    ['RLI isolate', 'a\u2067b\u2069', 'must not contain bidirectional control characters'],
    ['FSI isolate', 'a\u2068b', 'must not contain bidirectional control characters'],
    ['RLM mark', 'a\u200Fb', 'must not contain bidirectional control characters'],
    ['LRM mark', 'a\u200Eb', 'must not contain bidirectional control characters'],
    ['Arabic letter mark', 'a\u061Cb', 'must not contain bidirectional control characters'],
    ['lone surrogate', `a${LONE_HIGH}b`, 'must be well-formed Unicode (no lone surrogates)'],
  ])('refuses %s', (_name, label, violation) => expect(labelViolation(label)).toBe(violation));
});

describe('messageTextViolation', () => {
  it.each([
    ['lines and tabs', 'line one\nline two\n\tindented'],
    ['RTL with isolates', 'The word \u2067שלום\u2069 means peace'],
    ['direction marks', 'א\u200Fb\u200Ec\u061C'],
    ['emoji and astral', '👩🏽‍❤️‍💋‍👨🏿 𝒳 🇯🇵'],
    ['zero-width joiner alone', 'a\u200Db'],
  ])('accepts %s', (_name, text) => expect(messageTextViolation(text)).toBeNull());

  it.each([
    ['NUL', 'a\u0000b', 'must not contain control characters other than newline and tab'],
    ['carriage return', 'a\r\nb', 'must not contain control characters other than newline and tab'],
    ['escape', 'a\u001B[31mred', 'must not contain control characters other than newline and tab'],
    ['C1 control', 'a\u009Bb', 'must not contain control characters other than newline and tab'],
    ['RLO override (Trojan Source)', 'access = "user\u202E \u2066// admin\u2069"', 'must not contain bidirectional embeddings or overrides (U+202A..U+202E)'],
    ['LRO override', 'a\u202Db', 'must not contain bidirectional embeddings or overrides (U+202A..U+202E)'],
    ['RLE embedding', 'a\u202Bb', 'must not contain bidirectional embeddings or overrides (U+202A..U+202E)'],
    ['lone low surrogate', `a${LONE_LOW}`, 'must be well-formed Unicode (no lone surrogates)'],
  ])('refuses %s', (_name, text, violation) => expect(messageTextViolation(text)).toBe(violation));
});

describe('findMalformedString', () => {
  it.each([
    [{ text: 'fine', nested: { list: ['a', 'b'] } }, null],
    [{ text: `bad${LONE_HIGH}` }, 'body.text'],
    [{ metadata: { note: ['ok', `x${LONE_LOW}`] } }, 'body.metadata.note[1]'],
    [{ [`key${LONE_HIGH}`]: 'value' }, `body.key${LONE_HIGH}`],
    [`${LONE_HIGH}`, 'body'],
    [42, null],
    [null, null],
    [undefined, null],
  ])('%j → %j', (value, expected) => expect(findMalformedString(value, 'body')).toBe(expected));

  it('stops at the depth limit instead of recursing without end', () => {
    let deep: unknown = `x${LONE_HIGH}`;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(findMalformedString(deep, 'body', 64)).toBeNull();
    expect(findMalformedString(deep, 'body', 200)).toMatch(/^body(\[0\]){100}$/);
  });
});
