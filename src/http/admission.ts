import type { ServerResponse } from 'node:http';
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

/**
 * Bounds the API requests that run at once and queues the rest in arrival order.
 *
 * The HTTP server and the delivery worker share one event loop, which serves the requests
 * and attempts in flight in turn, so each side's throughput follows its count in flight.
 * Without a bound, a benchmark load past the service's limit kept up to 128 API requests in
 * flight (one per connection of the load driver) against the worker's 32 attempts to one
 * endpoint, as the limit per endpoint then was. Deliveries then fell to between a fifth and a
 * half of the sustained rate, while nearly every event was accepted. With the API held to
 * no more requests than the worker's attempts to one endpoint, the API slows down instead
 * and deliveries stay near the limit.
 */
export class AdmissionGate {
  #active = 0;
  /** Waiting requests' callbacks, each called with the function that gives its place back. */
  readonly #queue: Array<(release: () => void) => void> = [];
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
   * Takes a place if one is free now and returns the function that gives it back, or returns
   * undefined. A free place means no request is queued, because a place given back passes
   * straight to the head of the queue.
   */
  tryEnter(): (() => void) | undefined {
    if (this.#active >= this.options.concurrency) return undefined;
    this.#active += 1;
    return this.#releaser();
  }

  /**
   * Queues a request that found no free place and calls `admit` with the function that gives
   * the place back once the request gets one. Returns a function that removes the waiting
   * request from the queue. When the queue is full, returns the 503 error instead, unless
   * `front` puts the request at the head of the queue, as for a request that had a place before.
   */
  wait(admit: (release: () => void) => void, front = false): (() => void) | AppError {
    if (!front && this.#queue.length >= this.options.queueLimit) {
      this.#rejected += 1;
      return new AppError(
        'overloaded',
        `The service is busy: ${this.#active} requests are running and ${this.#queue.length} are waiting. Send the request again after ${RETRY_AFTER_SECONDS} s.`,
        undefined,
        RETRY_AFTER_SECONDS,
      );
    }
    if (front) this.#queue.unshift(admit);
    else this.#queue.push(admit);
    return () => {
      const at = this.#queue.indexOf(admit);
      if (at !== -1) this.#queue.splice(at, 1);
    };
  }

  /** Resolves with the function that gives the place back, at once when a place is free. */
  enter(front = false): Promise<() => void> {
    const free = this.tryEnter();
    if (free !== undefined) return Promise.resolve(free);
    return new Promise((resolve, reject) => {
      const queued = this.wait(resolve, front);
      if (queued instanceof AppError) reject(queued);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      // The place passes straight to the next request in the queue, so the active count does not change.
      if (next) next(this.#releaser());
      else this.#active -= 1;
    };
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's turn at the admission gate; null on routes the gate does not cover. */
    admission: Turn | null;
  }
}

/**
 * One request's use of the gate, from its arrival to the end of its response or of its
 * connection, whichever comes first. One pair of listeners watches for that end for the
 * whole request, whether it waits, has a place, or reads its body in between.
 */
class Turn {
  /** The function that gives the place back, set while the request has one. */
  release: (() => void) | undefined = undefined;
  /** The function that removes the request from the queue and fails its hook, set while it waits. */
  cancel: (() => void) | undefined = undefined;
  /** True while the request, having given its place up, reads its body. */
  awaitingBody = false;
  /** True once the response ended or the connection closed. */
  ended = false;
  readonly #response: ServerResponse;
  readonly #socket: Socket | null;
  readonly #onClose = (): void => this.#end();

  constructor(request: FastifyRequest, reply: FastifyReply) {
    this.#response = reply.raw;
    this.#socket = request.raw.socket as Socket | null;
    this.#response.on('close', this.#onClose);
    // Node.js emits no close event on the response of a pipelined request whose connection
    // closed before that response started. The listener goes when the response ends, so a
    // keep-alive connection does not collect one per request.
    this.#socket?.on('close', this.#onClose);
  }

  /** Whether the response or its connection has ended, checked also while a close event is delivered. */
  get gone(): boolean {
    return this.ended || this.#response.closed || this.#socket?.destroyed === true;
  }

  giveBack(): void {
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  #end(): void {
    if (this.ended) return;
    this.ended = true;
    this.#response.removeListener('close', this.#onClose);
    this.#socket?.removeListener('close', this.#onClose);
    this.cancel?.();
    this.giveBack();
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
 *
 * The hooks take callbacks rather than return promises, because they run for every API
 * request and most of them finish at once.
 */
export function registerAdmissionControl(app: App, gate: AdmissionGate): void {
  app.decorateRequest('admission', null);

  const takePlace = (turn: Turn, front: boolean, done: (error?: AppError) => void): void => {
    const free = gate.tryEnter();
    if (free !== undefined) {
      turn.release = free;
      done();
      return;
    }
    const queued = gate.wait((release) => {
      turn.cancel = undefined;
      // A place given back as the connection closes may reach this request before its own
      // close listener has run.
      if (turn.gone) {
        release();
        done(closedWhileWaiting());
        return;
      }
      turn.release = release;
      done();
    }, front);
    if (queued instanceof AppError) {
      done(queued);
      return;
    }
    turn.cancel = () => {
      turn.cancel = undefined;
      queued();
      done(closedWhileWaiting());
    };
  };

  app.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions;
    if (!(route.url ?? '').startsWith('/api/v1/') && route.config.roles === undefined) {
      done();
      return;
    }
    const turn = new Turn(request, reply);
    // A request whose connection is gone gets no place, because nothing would free it. The
    // client cannot read the 503, so the error only stops the handler from running.
    if (turn.gone) {
      done(closedWhileWaiting());
      return;
    }
    request.admission = turn;
    takePlace(turn, false, done);
  });
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const turn = request.admission;
    if (turn !== null && turn.release !== undefined && hasBody(request)) {
      turn.giveBack();
      turn.awaitingBody = true;
    }
    done(null, payload);
  });
  app.addHook('preValidation', (request, _reply, done) => {
    const turn = request.admission;
    if (turn === null || !turn.awaitingBody) {
      done();
      return;
    }
    turn.awaitingBody = false;
    if (turn.gone) {
      done(closedWhileWaiting());
      return;
    }
    takePlace(turn, true, done);
  });
}

function closedWhileWaiting(): AppError {
  return new AppError('overloaded', 'The connection closed before the request could run.');
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
