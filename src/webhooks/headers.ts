import { invalid } from '../errors.js';

export const MAX_CUSTOM_HEADERS = 50;
export const MAX_HEADER_NAME_LENGTH = 256;
export const MAX_HEADER_VALUE_LENGTH = 4096;
/**
 * Total of names and values. Many servers reject requests whose headers exceed 8 to 16 KB
 * (Node.js's default limit is 16 KB), and the service's own headers need room too.
 */
export const MAX_CUSTOM_HEADER_BYTES = 8192;

/** RFC 9110 token characters. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII, space, tab and obs-text; no CR, LF, NUL or other controls. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Headers the service sets itself or that frame the HTTP message. A custom value for any of
 * them could break the request or forge a signature, so they are rejected.
 */
const OWNED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'content-encoding',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-connection',
  'user-agent',
]);

function isOwned(lowerName: string): boolean {
  return OWNED_HEADERS.has(lowerName) || lowerName.startsWith('webhook-');
}

/**
 * Checks custom headers and returns them unchanged. Each problem is reported on the field
 * `headers.<name>` with what to change.
 */
export function validateCustomHeaders(headers: Readonly<Record<string, unknown>>): Record<string, string> {
  const entries = Object.entries(headers);
  if (entries.length > MAX_CUSTOM_HEADERS) {
    throw invalid('headers', `has ${entries.length} headers; a webhook may have at most ${MAX_CUSTOM_HEADERS}.`);
  }

  const seen = new Set<string>();
  for (const [name, value] of entries) {
    const field = `headers.${name}`;
    if (name === '' || name.length > MAX_HEADER_NAME_LENGTH || !TOKEN.test(name)) {
      throw invalid(
        field,
        `"${name}" is not a valid header name; use letters, digits and - (at most ${MAX_HEADER_NAME_LENGTH} characters).`,
      );
    }
    const lower = name.toLowerCase();
    if (isOwned(lower)) {
      throw invalid(field, `${name} is set by the service and cannot be a custom header.`);
    }
    if (seen.has(lower)) {
      throw invalid(field, `${name} is listed twice with different letter case; keep one.`);
    }
    seen.add(lower);

    if (typeof value !== 'string') {
      throw invalid(field, 'the value must be a string.');
    }
    if (value.length > MAX_HEADER_VALUE_LENGTH) {
      throw invalid(field, `the value is ${value.length} characters long; the maximum is ${MAX_HEADER_VALUE_LENGTH}.`);
    }
    if (!FIELD_VALUE.test(value)) {
      throw invalid(field, 'the value contains a control character such as CR, LF or NUL; remove it.');
    }
  }
  const total = entries.reduce((sum, [name, value]) => sum + name.length + String(value).length, 0);
  if (total > MAX_CUSTOM_HEADER_BYTES) {
    throw invalid(
      'headers',
      `the custom headers total ${total} characters; the maximum is ${MAX_CUSTOM_HEADER_BYTES}. Shorten or remove some.`,
    );
  }
  return Object.fromEntries(entries) as Record<string, string>;
}
