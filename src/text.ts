import { invalid } from './errors.js';

/** Control characters (C0, DEL and C1, which include CR, LF and tab) and Unicode's line and paragraph separators. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Bidirectional embeddings, overrides and isolates, which make text display in another order
 * than it is stored. The marks U+200E and U+200F stay allowed: right-to-left text uses them.
 */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/;

/** A high surrogate without its low half, or a low one without its high half. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Text made only of white space and invisible format characters such as U+200B. */
const NOTHING_VISIBLE = /^[\s\p{Cf}]*$/u;

/**
 * Returns `value` trimmed after checking that it is one line of 1 to `max` characters with
 * no control or bidirectional control characters, its ends included. Names and titles
 * appear in lists, tables and log lines.
 */
export function requireLine(value: string, field: string, max: number): string {
  // Checked before trimming, so a trailing newline is rejected like one in the middle
  // instead of being dropped silently.
  if (CONTROL_CHARACTER.test(value)) {
    throw invalid(field, `${field} contains a control character such as CR, LF or tab, or a line separator; write it on one line.`);
  }
  if (BIDI_CONTROL.test(value)) {
    throw invalid(
      field,
      `${field} contains a bidirectional control character (U+202A to U+202E or U+2066 to U+2069), which makes text display in another order than it is stored; remove it.`,
    );
  }
  return requireText(value, field, max);
}

/**
 * Returns `value` trimmed after checking that it is valid Unicode with 1 to `max` characters,
 * counted as code points like the schemas count them, and something visible. It may span
 * lines.
 */
export function requireText(value: string, field: string, max: number): string {
  if (LONE_SURROGATE.test(value)) {
    throw invalid(field, `${field} contains an unpaired UTF-16 surrogate, which no database can store as sent; send valid Unicode text.`);
  }
  const text = value.trim();
  if (NOTHING_VISIBLE.test(text)) throw invalid(field, `${field} must not be empty.`);
  if ([...text].length > max) {
    throw invalid(field, `${field} must be at most ${max} characters long.`);
  }
  return text;
}
