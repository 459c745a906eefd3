/*
 * The BullMQ worker of contender B2, in its own process: one job per (event, endpoint),
 * sent through undici with the same signing as the other contenders, retried with BullMQ's
 * exponential back-off when the receiver fails.
 */
import { Worker, type Job } from 'bullmq';
import { Agent } from 'undici';
import { signedHeaders } from '../payload.js';
import { serveCommands } from '../processes.js';

export interface BullmqJob {
  readonly id: string;
  readonly url: string;
  readonly body: string;
}

export type BullmqCommand =
  | { type: 'setup'; queue: string; prefix: string; port: number; concurrency: number; timeoutMs: number }
  | { type: 'run' }
  | { type: 'close' };

let worker: Worker<BullmqJob> | undefined;
let agent: Agent | undefined;

async function deliver(job: Job<BullmqJob>, timeoutMs: number): Promise<void> {
  const url = new URL(job.data.url);
  const response = await (agent as Agent).request({
    origin: url.origin,
    path: url.pathname,
    method: 'POST',
    headers: signedHeaders(job.data.id, job.data.body, true),
    body: job.data.body,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  await response.body.dump();
  if (response.statusCode >= 300) throw new Error(`receiver responded with status ${response.statusCode}`);
}

async function run(command: BullmqCommand): Promise<object> {
  switch (command.type) {
    case 'setup':
      agent = new Agent({ keepAliveTimeout: 60_000 });
      worker = new Worker<BullmqJob>(command.queue, (job) => deliver(job, command.timeoutMs), {
        connection: { host: '127.0.0.1', port: command.port, maxRetriesPerRequest: null },
        prefix: command.prefix,
        concurrency: command.concurrency,
        autorun: false,
        removeOnComplete: { count: 1_000 },
        removeOnFail: { count: 5_000 },
      });
      worker.on('error', (error) => process.stderr.write(`bullmq worker error: ${String(error)}\n`));
      await worker.waitUntilReady();
      return {};
    case 'run':
      void worker?.run();
      return {};
    case 'close':
      await worker?.close(true);
      await agent?.destroy();
      setImmediate(() => process.exit(0));
      return {};
  }
}

serveCommands(run);
