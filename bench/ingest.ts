import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrateToLatest, openDatabase } from '../src/db/database.js';
import { recordEvent } from '../src/events/service.js';
import { REPORT_FIELDS } from './payload.js';

/** Callers recording events at once, as the request handlers of a loaded service do. */
export const CONCURRENT_CALLERS = 64;

export interface IngestFigures {
  /** Events per second, one event per transaction, one caller waiting for each. */
  readonly single: number;
  /** Events per second, one event per transaction, CONCURRENT_CALLERS callers at once. */
  readonly concurrent: number;
  /** Events per second, 100 events per transaction. */
  readonly batched: number;
}

/**
 * Durable ingest through the in-process API: the service's own recordEvent, which writes the
 * event and one delivery per subscribed webhook, on a fresh SQLite file with one webhook.
 * Each call's transaction has committed when its promise resolves; concurrent callers share
 * commits through the SQLite driver's group commit.
 */
export async function measureIngest(durationMs: number): Promise<IngestFigures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhook-bench-ingest-'));
  const db = openDatabase({ dialect: 'sqlite', file: path.join(dir, 'ingest.db') });
  try {
    await migrateToLatest(db);
    const now = Date.now();
    await db
      .insertInto('webhooks')
      .values({
        id: 'wh_bench',
        name: 'bench',
        url: 'http://127.0.0.3:9/hook',
        event_types: JSON.stringify(['submission']),
        headers: '{}',
        secret: 'whsec_YmVuY2htYXJrLXNpZ25pbmcta2V5LTMyLWJ5dGVzISE=',
        is_active: 1,
        created_by: 'bench',
        created_at: now,
        updated_at: now,
        last_triggered: null,
        follow_redirects: 0,
      })
      .execute();

    const run = async (perTransaction: number, callers = 1): Promise<number> => {
      const started = performance.now();
      let events = 0;
      const caller = async (): Promise<void> => {
        while (performance.now() - started < durationMs) {
          const first = events;
          events += perTransaction;
          await db.transaction().execute(async (trx) => {
            for (let i = 0; i < perTransaction; i++) {
              const body = { report: { id: `rpt_${first + i}`, ...REPORT_FIELDS, status: 'PENDING' } };
              await recordEvent(trx, { type: 'submission', body, requestId: null, now: Date.now(), firstDelayMs: 0 });
            }
          });
        }
      };
      await Promise.all(Array.from({ length: callers }, caller));
      return Math.round(events / ((performance.now() - started) / 1000));
    };
    return { single: await run(1), concurrent: await run(1, CONCURRENT_CALLERS), batched: await run(100) };
  } finally {
    await db.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
