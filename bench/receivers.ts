import fs from 'node:fs';
import path from 'node:path';
import { IpcClient, ROOT, cpuMs, spawnNode, waitForExit } from './processes.js';

/** Receivers listen on this loopback address; the service under test allows only it. */
export const RECEIVER_HOST = '127.0.0.3';

/** What an endpoint does with each request instead of responding 204 at once. */
export interface Fault {
  readonly kind: 'none' | 'delay' | 'hang' | 'error' | 'reset' | 'throttle';
  readonly delayMs?: number;
  /** Share of requests that get the 500 or 429 response, 0 to 1. */
  readonly rate?: number;
  readonly retryAfterSeconds?: number;
}

export type ReceiverCommand =
  | { type: 'listen'; host: string; count: number }
  | { type: 'fault'; endpoints: number[]; fault: Fault }
  | { type: 'count' }
  | { type: 'close-idle' }
  | { type: 'dump'; file: string }
  | { type: 'clear' }
  | { type: 'close' };

export interface ReceiverReply {
  ports?: number[];
  successes?: number;
  /** 2xx arrivals counting each (endpoint, event) pair once. */
  distinct?: number;
  arrivals?: number;
  records?: number;
  peakSockets?: number[];
  /** Connections open at all endpoints together. */
  sockets?: number;
  cpu?: NodeJS.CpuUsage;
}

/** One arrival as the receivers recorded it. */
export interface Arrival {
  readonly endpoint: number;
  readonly eventId: string;
  readonly arrivedAt: number;
  readonly createdAt: number;
  readonly status: number;
}

/** A receiver process and the URLs of its endpoints. */
export class Receivers {
  readonly #client: IpcClient<ReceiverCommand, ReceiverReply>;
  readonly urls: string[] = [];

  private constructor(client: IpcClient<ReceiverCommand, ReceiverReply>) {
    this.#client = client;
  }

  static async start(count: number, cpus: string | undefined): Promise<Receivers> {
    const child = spawnNode(path.join(ROOT, 'bench/receiver-process.ts'), [], { cpus, ipc: true });
    const receivers = new Receivers(new IpcClient(child, 'receiver process'));
    await receivers.grow(count);
    return receivers;
  }

  get pid(): number | undefined {
    return this.#client.child.pid;
  }

  /** Adds endpoints until there are `count`; existing ones keep their ports. */
  async grow(count: number): Promise<void> {
    if (this.urls.length >= count) return;
    const reply = await this.#client.request({ type: 'listen', host: RECEIVER_HOST, count: count - this.urls.length });
    this.urls.splice(0, this.urls.length, ...(reply.ports ?? []).map((port) => `http://${RECEIVER_HOST}:${port}/hook`));
  }

  async setFault(endpoints: number[], fault: Fault): Promise<void> {
    await this.#client.request({ type: 'fault', endpoints, fault });
  }

  async healAll(): Promise<void> {
    await this.setFault([...this.urls.keys()], { kind: 'none' });
  }

  async successes(): Promise<number> {
    return (await this.#client.request({ type: 'count' })).successes ?? 0;
  }

  /** 2xx arrivals since the last clear, each (endpoint, event) pair counted once. */
  async distinctSuccesses(): Promise<number> {
    return (await this.#client.request({ type: 'count' })).distinct ?? 0;
  }

  /** Waits until at least `count` 2xx arrivals, or the timeout; returns the count reached. */
  async waitForSuccesses(count: number, timeoutMs: number, pollMs = 50): Promise<number> {
    return this.#waitFor(() => this.successes(), count, timeoutMs, pollMs);
  }

  /**
   * Waits until `count` distinct (endpoint, event) pairs arrived with a 2xx, or the timeout.
   * Duplicates, e.g. attempts resent after a crash, must not end the wait early.
   */
  async waitForDistinct(count: number, timeoutMs: number, pollMs = 50): Promise<number> {
    return this.#waitFor(() => this.distinctSuccesses(), count, timeoutMs, pollMs);
  }

  async #waitFor(read: () => Promise<number>, count: number, timeoutMs: number, pollMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let seen = await read();
    while (seen < count && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      seen = await read();
    }
    return seen;
  }

  /**
   * Closes every connection with no request awaiting a response, then waits up to
   * `timeoutMs` until none is open, and returns how many still are. Cells start after this,
   * so connections left by one cell (B1's fetch opens one per event) do not weigh on the next.
   */
  async closeIdle(timeoutMs = 5_000, pollMs = 20): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let open = (await this.#client.request({ type: 'close-idle' })).sockets ?? 0;
    while (open > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      // Each pass also closes the connections opened since the last one and those whose
      // last response went out meanwhile.
      open = (await this.#client.request({ type: 'close-idle' })).sockets ?? 0;
    }
    return open;
  }

  async clear(): Promise<void> {
    await this.#client.request({ type: 'clear' });
  }

  /** Collects every arrival since the last clear and clears them in the same step. */
  async collect(dir: string): Promise<{ arrivals: Arrival[]; peakSockets: number[]; cpuMs: number }> {
    const file = path.join(dir, `ledger-${Date.now()}.tsv`);
    const reply = await this.#client.request({ type: 'dump', file });
    const text = fs.readFileSync(file, 'utf8');
    fs.rmSync(file);
    const arrivals = text === '' ? [] : text.split('\n').map(parseArrival);
    return { arrivals, peakSockets: reply.peakSockets ?? [], cpuMs: cpuMs(this.pid) };
  }

  async close(): Promise<void> {
    await this.#client.request({ type: 'close' }).catch(() => undefined);
    await waitForExit(this.#client.child, 2_000);
  }
}

function parseArrival(line: string): Arrival {
  const [endpoint, eventId, arrivedAt, createdAt, status] = line.split('\t');
  return {
    endpoint: Number(endpoint),
    eventId: eventId as string,
    arrivedAt: Number(arrivedAt),
    createdAt: Number(createdAt),
    status: Number(status),
  };
}
