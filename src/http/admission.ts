import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { App } from './server.js';

export interface AdmissionOptions {
  /** Requests worked on at once, from authentication to the end of the response. */
  readonly concurrency: number;
  /** Requests that may wait for a turn. The next one is rejected with 503. */
  readonly queueLimit: number;
}

/** The Retry-After value of a rejection: seconds before the client should send the request again. */
const RETRY_AFTER_SECONDS = 1;

interface Waiter {
  readonly admit: () => void;
}

/**
 * Bounds the API requests that run at once and queues the rest in arrival order.
 *
 * The HTTP server and the delivery worker share one event loop, which serves the requests
 * and attempts in flight in turn, so each side's throughput follows its count in flight.
 * Without a bound, a benchmark load past the service's limit kept up to 128 API requests in
 * flight (one per connection of the load driver) against the worker's 32 attempts to one
 * endpoint. Deliveries then fell to between a fifth and a half of the sustained rate, while
 * nearly every event was accepted. With the API held to about as many requests as the
 * worker's attempts to one endpoint, the API slows down instead and deliveries stay near the
 * limit.
 */
export class AdmissionGate {
  #active = 0;
  readonly #queue: Waiter[] = [];
  #rejected = 0;

  constructor(private readonly options: AdmissionOptions) {}

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Requests rejected because the queue was full, since the gate was created. */
  get rejected(): number {
    return this.#rejected;
  }

  /**
   * Waits for a place and resolves with the function that gives it back, which may be called
   * more than once. A full queue rejects the request with a 503, unless `front` puts it at
   * the head of the queue, as for a request that had a place before. An abort of `cancelled`
   * while the request waits rejects it too.
   */
  enter(cancelled?: AbortSignal, front = false): Promise<() => void> {
    const free = this.tryEnter();
    if (free !== undefined) return Promise.resolve(free);
    if (!front && this.#queue.length >= this.options.queueLimit) {
      this.#rejected += 1;
      return Promise.reject(
        new AppError(
          'overloaded',
          `The service is busy: ${this.#active} requests are running and ${this.#queue.length} are waiting. Send the request again after ${RETRY_AFTER_SECONDS} s.`,
          undefined,
          RETRY_AFTER_SECONDS,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        admit: () => {
          cancelled?.removeEventListener('abort', onAbort);
          resolve(this.#releaser());
        },
      };
      const onAbort = (): void => {
        const at = this.#queue.indexOf(waiter);
        if (at !== -1) this.#queue.splice(at, 1);
        reject(new AppError('overloaded', 'The request stopped waiting for its turn: its caller gave up.'));
      };
      cancelled?.addEventListener('abort', onAbort, { once: true });
      if (front) this.#queue.unshift(waiter);
      else this.#queue.push(waiter);
    });
  }

  /**
   * Takes a place if one is free now and returns the function that gives it back, or returns
   * undefined. A free place means no request is queued, because a place given back passes
   * straight to the head of the queue.
   */
  tryEnter(): (() => void) | undefined {
    if (this.#active >= this.options.concurrency) return undefined;
    this.#active += 1;
    return this.#releaser();
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      // The place passes straight to the next request in the queue, so the active count does not change.
      if (next) next.admit();
      else this.#active -= 1;
    };
  }
}

/**
 * Runs the API routes (under /api/v1/, or with roles, as the legacy webhook routes have)
 * through `gate`, in two turns around the body. A request takes a place when it arrives,
 * before authentication, and gives it up while its body is read. A client that sends a body
 * slowly, or never, therefore keeps no place. Once the body has arrived, the request goes
 * to the front of the queue for the rest of its work. It gives the place back when the
 * response ends or the connection closes. Other routes (health, metrics, the console's
 * pages and files, the API documentation under /api/docs) are not gated.
 */
export function registerAdmissionControl(app: App, gate: AdmissionGate): void {
  const holding = new WeakMap<FastifyRequest, () => void>();
  const awaitingBody = new WeakSet<FastifyRequest>();

  const takePlace = async (request: FastifyRequest, reply: FastifyReply, front: boolean): Promise<void> => {
    // A request whose connection is gone gets no place, because nothing would free it. The
    // client cannot read the 503, so the error only stops the handler from running.
    if (connectionGone(request, reply)) throw closedWhileWaiting();
    // Most requests find a place free and skip the watch on their connection while waiting.
    let release = gate.tryEnter();
    if (release === undefined) {
      const closed = new AbortController();
      const stopWatching = whenConnectionEnds(request, reply, () => closed.abort());
      try {
        release = await gate.enter(closed.signal, front);
      } finally {
        stopWatching();
      }
      if (connectionGone(request, reply)) {
        release();
        throw closedWhileWaiting();
      }
    }
    const giveBack = release;
    const stopWatchingEnd = whenConnectionEnds(request, reply, giveBack);
    // Giving the place up early, as before the body, also drops the listeners.
    holding.set(request, () => {
      stopWatchingEnd();
      giveBack();
    });
  };

  app.addHook('onRequest', async (request, reply) => {
    const url = request.routeOptions.url ?? '';
    if (!url.startsWith('/api/v1/') && request.routeOptions.config.roles === undefined) return;
    await takePlace(request, reply, false);
  });
  app.addHook('preParsing', async (request, _reply, payload) => {
    const giveBack = holding.get(request);
    if (giveBack !== undefined && hasBody(request)) {
      holding.delete(request);
      giveBack();
      awaitingBody.add(request);
    }
    return payload;
  });
  app.addHook('preValidation', async (request, reply) => {
    if (!awaitingBody.delete(request)) return;
    await takePlace(request, reply, true);
  });
}

/**
 * Calls `callback` once, when the response ends or its connection closes, and returns a
 * function that cancels the call. The response alone is not enough: Node.js emits no close
 * event on the response of a pipelined request whose connection closed before that
 * response started.
 */
function whenConnectionEnds(request: FastifyRequest, reply: FastifyReply, callback: () => void): () => void {
  const socket = request.raw.socket as Socket | null;
  let settled = false;
  const stop = (): void => {
    settled = true;
    reply.raw.removeListener('close', end);
    socket?.removeListener('close', end);
  };
  const end = (): void => {
    if (settled) return;
    stop();
    callback();
  };
  reply.raw.once('close', end);
  // Removed again when the response ends, so a keep-alive connection does not collect one
  // listener per request.
  socket?.once('close', end);
  return stop;
}

function connectionGone(request: FastifyRequest, reply: FastifyReply): boolean {
  return reply.raw.closed || request.raw.socket?.destroyed === true;
}

function closedWhileWaiting(): AppError {
  return new AppError('overloaded', 'The connection closed before the request could run.');
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
