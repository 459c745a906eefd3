import { sql } from 'kysely';
import { listPendingMigrations, type Db } from '../db/database.js';
import type { App } from '../http/server.js';
import type { Logger } from './logger.js';

/** The part of the delivery worker that readiness reads. */
export interface WorkerLoop {
  readonly loopState: { readonly running: boolean; readonly lastLoopAt: number };
}

export interface HealthOptions {
  readonly db: Db;
  /** Absent in a process that does not send (SERVICE_ROLE=api); readiness then skips it. */
  readonly worker: WorkerLoop | undefined;
  /** The process's SERVICE_ROLE, reported by /healthz. */
  readonly role: string;
  readonly log: Logger;
  /**
   * Time after which a worker loop that has not run counts as stuck. The loop runs at least
   * once per poll interval, and at the latest when an attempt ends, which WEBHOOK_TIMEOUT
   * bounds, so this should exceed both.
   */
  readonly staleAfterMs: number;
  readonly now?: () => number;
}

type CheckResult = 'ok' | string;

/**
 * Registers GET /healthz, which returns 200 while the process serves HTTP, and GET /readyz.
 * Readiness returns 200 only when a database query succeeds, every migration is applied
 * and the delivery worker's loop has run recently, else 503 with the failed checks.
 */
export function registerHealthRoutes(app: App, options: HealthOptions): void {
  const now = options.now ?? Date.now;
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok', role: options.role }));

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const checks = {
      database: await runCheck(async () => {
        await sql`SELECT 1`.execute(options.db);
      }),
      migrations: await runCheck(async () => {
        const pending = await listPendingMigrations(options.db);
        if (pending.length > 0) throw new Error(`pending: ${pending.join(', ')}`);
      }),
      worker: options.worker ? checkWorker(options.worker, now(), options.staleAfterMs) : 'ok',
    };
    const ready = Object.values(checks).every((result) => result === 'ok');
    if (!ready) options.log.warn({ checks }, 'readiness check failed');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });
}

async function runCheck(check: () => Promise<void>): Promise<CheckResult> {
  try {
    await check();
    return 'ok';
  } catch (error) {
    return `failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function checkWorker(worker: WorkerLoop, now: number, staleAfterMs: number): CheckResult {
  const { running, lastLoopAt } = worker.loopState;
  if (!running) return 'failed: the delivery worker is not running';
  const idleMs = now - lastLoopAt;
  if (idleMs > staleAfterMs) return `failed: the delivery loop has not run for ${idleMs} ms`;
  return 'ok';
}
