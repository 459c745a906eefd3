/*
 * Contenders B0 and B1 in one child process. B0 ("undici") is a raw keep-alive POST loop:
 * one undici Pool per origin, a fixed number of requests in flight per origin, no
 * durability and no retries. B1 ("fetch") is the original design's naive fire-and-forget
 * `fetch` per event: no cap, no durability, errors caught and counted.
 */
import { Pool } from 'undici';
import { pace } from '../pacer.js';
import { eventPayload, signedHeaders } from '../payload.js';
import { serveCommands } from '../processes.js';

export type DirectMode = 'undici' | 'fetch';

export type DirectCommand =
  | { type: 'setup'; mode: DirectMode; urls: string[]; connections: number; signing: boolean; timeoutMs: number }
  | { type: 'preload'; prefix: string; count: number; endpoints: number[] }
  | { type: 'release' }
  | { type: 'offer'; prefix: string; rate: number; durationMs: number; endpoints: number[]; excluded: number[] }
  | { type: 'close' };

export interface DirectReply {
  readonly events?: number;
  readonly failures?: number;
}

interface Job {
  readonly id: string;
  readonly body: string;
}

interface Lane {
  readonly url: URL;
  pool: Pool;
  queue: Job[];
  head: number;
  active: number;
}

let setup: Extract<DirectCommand, { type: 'setup' }>;
let lanes: Lane[] = [];
let outstanding = 0;
let failures = 0;
let idleWaiters: Array<() => void> = [];

function settle(): void {
  outstanding -= 1;
  if (outstanding === 0) for (const wake of idleWaiters.splice(0)) wake();
}

async function sendWithPool(lane: Lane, job: Job): Promise<void> {
  try {
    const response = await lane.pool.request({
      path: lane.url.pathname,
      method: 'POST',
      headers: signedHeaders(job.id, job.body, setup.signing),
      body: job.body,
      headersTimeout: setup.timeoutMs,
      bodyTimeout: setup.timeoutMs,
    });
    await response.body.dump();
    if (response.statusCode >= 300) failures += 1;
  } catch {
    failures += 1;
  }
}

function kick(lane: Lane): void {
  while (lane.active < setup.connections && lane.head < lane.queue.length) {
    const job = lane.queue[lane.head++] as Job;
    lane.active += 1;
    void sendWithPool(lane, job).finally(() => {
      lane.active -= 1;
      settle();
      kick(lane);
    });
  }
  if (lane.head > 10_000 && lane.head === lane.queue.length) {
    lane.queue = [];
    lane.head = 0;
  }
}

/**
 * Drops the jobs a lane has not started and aborts those in flight, for an endpoint the
 * ledger ignores. An offer would otherwise wait for a hanging endpoint's whole queue, which
 * at 4 connections and a 5 s timeout took 26 minutes for about 1,250 requests.
 */
async function abandon(lane: Lane): Promise<void> {
  const queued = lane.queue.length - lane.head;
  lane.queue = [];
  lane.head = 0;
  for (let n = 0; n < queued; n++) settle();
  const pool = lane.pool;
  lane.pool = newPool(lane.url);
  await pool.destroy();
}

function newPool(url: URL): Pool {
  return new Pool(url.origin, { connections: setup.connections, keepAliveTimeout: 60_000 });
}

function fireAndForget(lane: Lane, job: Job): void {
  fetch(lane.url, {
    method: 'POST',
    headers: signedHeaders(job.id, job.body, setup.signing),
    body: job.body,
    signal: AbortSignal.timeout(setup.timeoutMs),
  })
    .then(async (response) => {
      await response.arrayBuffer();
      if (response.status >= 300) failures += 1;
    })
    .catch(() => (failures += 1))
    .finally(settle);
}

function enqueue(job: Job, endpoints: readonly number[], start: boolean): void {
  for (const index of endpoints) {
    const lane = lanes[index] as Lane;
    outstanding += 1;
    if (setup.mode === 'fetch' && start) {
      fireAndForget(lane, job);
      continue;
    }
    lane.queue.push(job);
    if (start) kick(lane);
  }
}

function newJob(prefix: string, sequence: number): Job {
  const id = `${prefix}-${sequence}`;
  return { id, body: eventPayload(id, Date.now()) };
}

function idle(): Promise<void> {
  if (outstanding === 0) return Promise.resolve();
  return new Promise((resolve) => idleWaiters.push(resolve));
}

async function run(command: DirectCommand): Promise<DirectReply> {
  switch (command.type) {
    case 'setup':
      setup = command;
      lanes = command.urls.map((url) => ({
        url: new URL(url),
        pool: newPool(new URL(url)),
        queue: [],
        head: 0,
        active: 0,
      }));
      return {};
    case 'preload':
      for (let i = 0; i < command.count; i++) enqueue(newJob(command.prefix, i), command.endpoints, false);
      return { events: command.count };
    case 'release': {
      failures = 0;
      for (const lane of lanes) {
        if (setup.mode === 'undici') kick(lane);
        else for (const job of lane.queue.splice(0)) fireAndForget(lane, job);
      }
      await idle();
      return { failures };
    }
    case 'offer': {
      failures = 0;
      const events = await pace(command.rate, command.durationMs, (sequence) =>
        enqueue(newJob(command.prefix, sequence), command.endpoints, true),
      );
      // Fire-and-forget requests cannot be recalled, and each ends within the timeout.
      if (setup.mode === 'undici') await Promise.all(command.excluded.map((index) => abandon(lanes[index] as Lane)));
      await idle();
      return { events, failures };
    }
    case 'close':
      await Promise.all(lanes.map((lane) => lane.pool.destroy()));
      setImmediate(() => process.exit(0));
      return {};
  }
}

serveCommands(run);
