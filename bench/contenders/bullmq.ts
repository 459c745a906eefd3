import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { paceWithLimit } from '../pacer.js';
import { eventPayload } from '../payload.js';
import { IpcClient, ROOT, spawnNode, waitForExit } from '../processes.js';
import type { BullmqCommand, BullmqJob } from './bullmq-process.js';
import { nextPrefix, sequenceKeys, type Contender, type OfferResult } from './contender.js';

export const REDIS_PORT = 6379;
const KEY_PREFIX = 'webhook-bench';
const ADD_CHUNK = 1_000;
/** Maximum number of events whose jobs wait for Redis at once during an offer. */
const MAX_PENDING_ADDS = 2_000;

export interface BullmqOptions {
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly cpus: string | undefined;
  /** The redis-server process, counted in this contender's CPU time. */
  readonly redisPid: number | undefined;
}

/**
 * B2: BullMQ on the local Redis. This driver process adds the jobs; a worker process sends
 * them. Each contender instance uses its own queue name, removed again by stop().
 */
export class BullmqContender implements Contender {
  readonly id = 'B2' as const;
  readonly durable = true;
  readonly variant: string;
  readonly #queueName = `bench-${process.pid}-${Date.now().toString(36)}`;
  #queue: Queue<BullmqJob> | undefined;
  #worker: IpcClient<BullmqCommand, object> | undefined;
  #urls: readonly string[] = [];
  #running = false;

  constructor(private readonly options: BullmqOptions) {
    this.variant = `concurrency=${options.concurrency}, signed`;
  }

  async start(urls: readonly string[]): Promise<void> {
    this.#urls = urls;
    const connection = { host: '127.0.0.1', port: REDIS_PORT, maxRetriesPerRequest: null };
    this.#queue = new Queue<BullmqJob>(this.#queueName, {
      connection,
      prefix: KEY_PREFIX,
      defaultJobOptions: { attempts: 8, backoff: { type: 'exponential', delay: 1_000 } },
    });
    await this.#queue.waitUntilReady();

    const script = path.join(ROOT, 'bench/contenders/bullmq-process.ts');
    const child = spawnNode(script, [], { cpus: this.options.cpus, ipc: true });
    this.#worker = new IpcClient(child, 'BullMQ worker process');
    await this.#worker.request({
      type: 'setup',
      queue: this.#queueName,
      prefix: KEY_PREFIX,
      port: REDIS_PORT,
      concurrency: this.options.concurrency,
      timeoutMs: this.options.timeoutMs,
    });
  }

  async preload(count: number, endpoints: readonly number[]): Promise<Set<string>> {
    const prefix = nextPrefix(this.id);
    let batch: Array<{ name: string; data: BullmqJob }> = [];
    for (let i = 0; i < count; i++) {
      const id = `${prefix}-${i}`;
      const body = eventPayload(id, Date.now());
      for (const endpoint of endpoints) batch.push({ name: 'deliver', data: { id, url: this.#urls[endpoint] as string, body } });
      if (batch.length >= ADD_CHUNK) {
        await this.#requireQueue().addBulk(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await this.#requireQueue().addBulk(batch);
    return sequenceKeys(prefix, count, endpoints);
  }

  async release(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.#worker?.request({ type: 'run' });
  }

  async offer(rate: number, durationMs: number, endpoints: readonly number[]): Promise<OfferResult> {
    await this.release();
    const prefix = nextPrefix(this.id);
    const queue = this.#requireQueue();
    let failures = 0;

    // At most MAX_PENDING_ADDS events wait for Redis, as the service's driver keeps at most
    // 2,000 API requests in flight. Without the cap an overloaded Redis left so many jobs
    // queued in this process that it ran out of heap at 16,000 events/s.
    const events = await paceWithLimit(rate, durationMs, MAX_PENDING_ADDS, async (sequence) => {
      const id = `${prefix}-${sequence}`;
      const body = eventPayload(id, Date.now());
      const jobs = endpoints.map((endpoint) => ({ name: 'deliver', data: { id, url: this.#urls[endpoint] as string, body } }));
      await queue.addBulk(jobs).catch(() => {
        failures += 1;
      });
    });
    return { expected: sequenceKeys(prefix, events, endpoints), events, failures };
  }

  pids(): number[] {
    const pids = [this.#worker?.child.pid, this.options.redisPid];
    return pids.filter((pid): pid is number => pid !== undefined);
  }

  async stop(): Promise<void> {
    // A later start() spawns a new worker process, which starts work only at release().
    this.#running = false;
    if (this.#worker) {
      await this.#worker.request({ type: 'close' }).catch(() => undefined);
      await waitForExit(this.#worker.child, 5_000);
    }
    if (this.#queue) {
      await this.#queue.obliterate({ force: true }).catch(() => undefined);
      await this.#queue.close();
    }
  }

  #requireQueue(): Queue<BullmqJob> {
    if (!this.#queue) throw new Error('B2 is not started; call start() first');
    return this.#queue;
  }
}

/** Redis settings the run changes for durability parity, and restores afterwards. */
export interface RedisState {
  readonly pid: number | undefined;
  readonly version: string;
  readonly appendonly: string;
  readonly appendfsync: string;
}

/** Reads the Redis server's pid, version and persistence settings, or undefined when unreachable. */
export async function inspectRedis(): Promise<RedisState | undefined> {
  const redis = new Redis({ host: '127.0.0.1', port: REDIS_PORT, lazyConnect: true, maxRetriesPerRequest: 0 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const info = await redis.info('server');
    const [, appendonly] = (await redis.config('GET', 'appendonly')) as string[];
    const [, appendfsync] = (await redis.config('GET', 'appendfsync')) as string[];
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    return {
      pid: Number.isFinite(pid) ? pid : undefined,
      version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
      appendonly: appendonly ?? 'no',
      appendfsync: appendfsync ?? 'everysec',
    };
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/** Sets appendonly and appendfsync through one connection; used to enable AOF and to restore. */
export async function setRedisPersistence(appendonly: string, appendfsync: string): Promise<void> {
  const redis = new Redis({ host: '127.0.0.1', port: REDIS_PORT, maxRetriesPerRequest: 1 });
  try {
    await redis.config('SET', 'appendfsync', appendfsync);
    await redis.config('SET', 'appendonly', appendonly);
  } finally {
    redis.disconnect();
  }
}
