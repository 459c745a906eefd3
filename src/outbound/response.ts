import { BlockedAddressError, UrlRejection } from './destination.js';

export type FailureKind =
  | 'blocked'
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'dns'
  | 'tls'
  | 'network'
  | 'http_status';

/** Largest response head (status line and headers) read before the attempt fails. */
export const MAX_RESPONSE_HEADER_BYTES = 16 * 1024;

export interface Failure {
  readonly kind: FailureKind;
  readonly message: string;
}

/** Raised when the whole-attempt deadline passes; the attempt's abort signal carries it. */
export class DeadlineError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/** A destination refused by its URL form (scheme, port, credentials, redirect downgrade). */
export class RejectedUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RejectedUrlError';
  }
}

interface ResponseBody extends AsyncIterable<Buffer> {
  destroy(): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * Closes a response body without reading the rest. undici reports a body destroyed before
 * its end as an aborted request, which is the intent here, so that error is dropped.
 */
export function discardBody(body: ResponseBody): void {
  body.on('error', () => undefined);
  body.destroy();
}

/**
 * Reads at most `readLimit` bytes of a response body, then destroys the stream so the rest
 * is never received, and returns at most `excerptBytes` of it as UTF-8 text. Nothing is
 * decompressed: the bytes are stored as they arrived.
 */
export async function readExcerpt(
  body: ResponseBody,
  readLimit: number,
  excerptBytes: number,
): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    total += chunk.length;
    if (total >= readLimit) {
      discardBody(body);
      break;
    }
  }
  const kept = Buffer.concat(chunks, Math.min(total, readLimit)).subarray(0, excerptBytes);
  // NUL cannot be stored in PostgreSQL text columns; U+FFFD marks where it was.
  const text = new TextDecoder('utf-8').decode(kept, { stream: true }).replace(/\u0000/g, '\ufffd');
  return truncateUtf8(text, excerptBytes);
}

/** Cuts text at a code point boundary so that its UTF-8 encoding fits in `maxBytes`. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const character of text) {
    const size = Buffer.byteLength(character);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += character.length;
  }
  return text.slice(0, end);
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** Tags a failure by what went wrong, so retry decisions never parse message text. */
export function classify(error: unknown): Failure {
  if (error instanceof BlockedAddressError) return { kind: 'blocked', message: error.message };
  if (error instanceof RejectedUrlError) return { kind: 'blocked', message: error.message };
  if (error instanceof UrlRejection) return { kind: 'blocked', message: `url ${error.message}` };
  if (error instanceof DeadlineError) return { kind: 'timeout', message: error.message };

  const err = error as { code?: string; message?: string; cause?: unknown } | undefined;
  const code = err?.code ?? '';
  const detail = err?.message ?? String(error);
  if (err?.cause instanceof BlockedAddressError) return classify(err.cause);

  if (code === 'ECONNREFUSED') return { kind: 'connection_refused', message: 'connection refused' };
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
    return { kind: 'connection_reset', message: `connection closed by the receiver (${detail})` };
  }
  if (code === 'UND_ERR_HEADERS_OVERFLOW') {
    const limit = MAX_RESPONSE_HEADER_BYTES / 1024;
    return { kind: 'network', message: `the response headers exceed the ${limit} KB limit` };
  }
  if (code.startsWith('UND_ERR_') && code.includes('TIMEOUT')) {
    return { kind: 'timeout', message: `timed out (${detail})` };
  }
  if (code === 'ETIMEDOUT') return { kind: 'timeout', message: 'timed out while connecting' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA') {
    return { kind: 'dns', message: `host name could not be resolved (${code})` };
  }
  if (TLS_CODE.test(code)) return { kind: 'tls', message: `TLS error: ${detail}` };
  return { kind: 'network', message: code ? `${code}: ${detail}` : detail };
}
