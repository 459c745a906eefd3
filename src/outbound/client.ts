import type { Socket } from 'node:net';
import { Agent, buildConnector } from 'undici';
import type { AddressPolicy } from './address-policy.js';
import { BlockedAddressError, resolveAllowed, systemLookup, type Lookup } from './destination.js';

export type FailureKind =
  | 'blocked'
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'dns'
  | 'tls'
  | 'network'
  | 'http_status';

export interface OutboundRequest {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface OutboundResult {
  /** Null when no response arrived. */
  readonly statusCode: number | null;
  readonly durationMs: number;
  /** The start of the response body as text, at most the stored limit. */
  readonly excerpt: string | null;
  /** The response's Retry-After header, for the retry decision after a 429 or 503. */
  readonly retryAfter?: string;
  readonly failure?: { readonly kind: FailureKind; readonly message: string };
}

export interface OutboundOptions {
  readonly policy: AddressPolicy;
  readonly timeoutMs: number;
  /** Connections kept per origin. */
  readonly connectionsPerOrigin: number;
  /** Bytes of a response body read before the rest is discarded. */
  readonly readLimitBytes?: number;
  /** Bytes of the response body kept as the excerpt. */
  readonly excerptBytes?: number;
  readonly lookup?: Lookup;
}

class DeadlineError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/**
 * The only code that opens connections to webhook URLs. Each connection is made to an
 * address that was resolved and checked just before dialling, so a name that changes its
 * answer between the save and the send is checked again. Redirects are never followed,
 * response bodies are read up to a limit and never decompressed, and the whole attempt,
 * from DNS to the last body byte, runs within one deadline.
 */
export class OutboundClient {
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  readonly #readLimit: number;
  readonly #excerptBytes: number;

  constructor(options: OutboundOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#readLimit = options.readLimitBytes ?? 64 * 1024;
    this.#excerptBytes = options.excerptBytes ?? 4 * 1024;
    this.#agent = new Agent({
      connections: options.connectionsPerOrigin,
      connect: guardedConnector(options.policy, options.lookup ?? systemLookup, options.timeoutMs),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      keepAliveTimeout: 4_000,
      maxHeaderSize: 16 * 1024,
    });
  }

  async send(request: OutboundRequest): Promise<OutboundResult> {
    const started = performance.now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DeadlineError(this.#timeoutMs)), this.#timeoutMs);
    const elapsed = (): number => Math.round(performance.now() - started);

    try {
      const response = await this.#agent.request({
        origin: request.url.origin,
        path: `${request.url.pathname}${request.url.search}`,
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: controller.signal,
      });
      const excerpt = await this.#readExcerpt(response.body);
      const statusCode = response.statusCode;
      const ok = statusCode >= 200 && statusCode < 300;
      const retryAfter = response.headers['retry-after'];
      return {
        statusCode,
        durationMs: elapsed(),
        excerpt,
        ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
        ...(ok ? {} : { failure: { kind: 'http_status', message: `receiver responded with status ${statusCode}` } }),
      };
    } catch (error) {
      const reason = controller.signal.aborted ? controller.signal.reason : error;
      return { statusCode: null, durationMs: elapsed(), excerpt: null, failure: classify(reason) };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.#agent.destroy();
  }

  /** Reads at most the read limit, then drops the connection rather than drain the rest. */
  async #readExcerpt(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of body) {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= this.#readLimit) {
        body.destroy();
        break;
      }
    }
    const kept = Buffer.concat(chunks, Math.min(total, this.#readLimit)).subarray(0, this.#excerptBytes);
    return kept.toString('utf8');
  }
}

type ConnectOptions = Parameters<ReturnType<typeof buildConnector>>[0];
type ConnectCallback = Parameters<ReturnType<typeof buildConnector>>[1];

function guardedConnector(policy: AddressPolicy, lookup: Lookup, timeoutMs: number) {
  const connect = buildConnector({ timeout: timeoutMs });

  return (options: ConnectOptions, callback: ConnectCallback): void => {
    resolveAllowed(options.hostname, policy, lookup).then(
      (addresses) => {
        const address = addresses[0] as string;
        connect({ ...options, hostname: address }, (error, socket) => {
          if (error || !socket) {
            callback(error ?? new Error('connection failed'), null);
            return;
          }
          // Belt and braces: the peer must be the address that was checked.
          const peer = (socket as Socket).remoteAddress;
          const reason = peer === undefined ? 'no peer address' : policy.blockReason(peer);
          if (reason !== undefined) {
            socket.destroy();
            callback(new BlockedAddressError(peer ?? address, reason), null);
            return;
          }
          callback(null, socket);
        });
      },
      (error: unknown) => callback(error as Error, null),
    );
  };
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** Tags a failure by what went wrong, so retry decisions never parse message text. */
export function classify(error: unknown): { kind: FailureKind; message: string } {
  if (error instanceof BlockedAddressError) return { kind: 'blocked', message: error.message };
  if (error instanceof DeadlineError) return { kind: 'timeout', message: error.message };

  const err = error as { code?: string; message?: string; cause?: unknown } | undefined;
  const code = err?.code ?? '';
  const detail = err?.message ?? String(error);
  if (err?.cause instanceof BlockedAddressError) return classify(err.cause);

  if (code === 'ECONNREFUSED') return { kind: 'connection_refused', message: 'connection refused' };
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
    return { kind: 'connection_reset', message: `connection closed by the receiver (${detail})` };
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
