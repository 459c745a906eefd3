import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RECEIVER_HOST } from './service.js';

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly receivedAt: number;
}

/** What the receiver does with the n-th request (1-based). */
export type Behaviour = (
  request: ReceivedRequest,
  n: number,
) => {
  status?: number;
  body?: string;
  hang?: boolean;
  headers?: Record<string, string>;
  /** Delay before the response, in milliseconds. */
  delayMs?: number;
};

export interface Receiver {
  readonly url: string;
  readonly port: number;
  readonly requests: ReceivedRequest[];
  /** Connections accepted, including ones that never sent a full request. */
  readonly connections: () => number;
  setBehaviour(behaviour: Behaviour): void;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

/** An HTTP receiver on a loopback address that records every request it gets. */
export async function startReceiver(
  behaviour: Behaviour = () => ({ status: 204 }),
  host = RECEIVER_HOST,
): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const waiters: Array<() => void> = [];
  let current = behaviour;
  let connections = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      requests.push(received);
      for (const wake of waiters.splice(0)) wake();

      const action = current(received, requests.length);
      if (action.hang) return;
      const answer = () => {
        res.statusCode = action.status ?? 204;
        for (const [name, value] of Object.entries(action.headers ?? {})) res.setHeader(name, value);
        res.end(action.body ?? '');
      };
      if (action.delayMs === undefined) answer();
      else setTimeout(answer, action.delayMs);
    });
  });
  server.on('connection', (socket) => {
    connections += 1;
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${host}:${port}/hook`,
    port,
    requests,
    connections: () => connections,
    setBehaviour(next) {
      current = next;
    },
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(`receiver got ${requests.length} requests, expected ${count} within ${timeoutMs} ms`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return requests.slice(0, count);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after the timeout. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
