import { invalid } from './errors.js';

/** Control characters (C0, DEL and C1, which include CR, LF and tab) and Unicode's line and paragraph separators. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Returns `value` trimmed after checking that it is one line of 1 to `max` characters
 * without control characters anywhere, its ends included: names and titles appear in
 * lists, tables and log lines.
 */
export function requireLine(value: string, field: string, max: number): string {
  // Checked before trimming, so a trailing newline is rejected like one in the middle
  // instead of being dropped silently.
  if (CONTROL_CHARACTER.test(value)) {
    throw invalid(field, `${field} contains a control character such as CR, LF or tab, or a line separator; write it on one line.`);
  }
  return requireText(value, field, max);
}

/** Returns `value` trimmed after checking that it has 1 to `max` characters; it may span lines. */
export function requireText(value: string, field: string, max: number): string {
  const text = value.trim();
  if (text === '') throw invalid(field, `${field} must not be empty.`);
  if (text.length > max) throw invalid(field, `${field} must be at most ${max} characters long.`);
  return text;
}
