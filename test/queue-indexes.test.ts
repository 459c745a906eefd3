import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, type CompiledQuery } from 'kysely';
import { migrateToLatest } from '../src/db/database.js';
import { dialectFor } from '../src/db/dialect/index.js';
import type { Database } from '../src/db/schema.js';
import { RetentionPruner } from '../src/delivery/retention.js';
import { countPending, DeliveryStore } from '../src/delivery/store.js';
import { recordEvent } from '../src/events/service.js';
import { createLogger } from '../src/observability/logger.js';
import { ServiceMetrics } from '../src/observability/metrics.js';

/*
 * The deliveries queue is served by partial indexes, which SQLite reads only for a query
 * that contains the index's status term. A query that leaves the term out, or words it so
 * SQLite cannot match it, still returns the right rows but reads a wider index or the whole table, which
 * nothing else in the suite would notice. These tests run the queue's queries and read
 * SQLite's plan for each statement they sent.
 */
describe('deliveries queue queries on SQLite', () => {
  let dir: string;
  let db: Kysely<Database>;
  let inspector: SQLite.Database;
  const sent: CompiledQuery[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'queue-indexes-'));
    const file = path.join(dir, 'queue.db');
    db = new Kysely<Database>({
      dialect: dialectFor({ dialect: 'sqlite', file, synchronous: 'NORMAL' }).createKyselyDialect(),
      log: (event) => {
        sent.push(event.query);
      },
    });
    await migrateToLatest(db);
    const now = Date.now();
    for (const [id, ordered] of [
      ['whk_plain', 0],
      ['whk_ordered', 1],
    ] as const) {
      await db
        .insertInto('webhooks')
        .values({
          id,
          name: id,
          url: 'http://127.0.0.1:9/hook',
          secret: 'whsec_test',
          event_types: JSON.stringify(['submission']),
          headers: '{}',
          is_active: 1,
          follow_redirects: 0,
          is_ordered: ordered,
          created_by: 'admin@example.com',
          created_at: now,
          updated_at: now,
          last_triggered: null,
          max_in_flight: null,
          rate_limit: null,
          failing_since: null,
          disabled_reason: null,
          disabled_at: null,
          previous_secret: null,
          previous_secret_expires_at: null,
        })
        .execute();
    }
    for (let i = 0; i < 3; i++) {
      await db.transaction().execute((trx) =>
        recordEvent(trx, { type: 'submission', body: { n: i }, requestId: null, now, firstDelayMs: 0 }),
      );
    }
    inspector = new SQLite(file, { readonly: true });
  });

  after(async () => {
    inspector.close();
    await db.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `work` and returns SQLite's plan lines for each statement it sent that reads deliveries. */
  async function plansOf(work: () => Promise<unknown>): Promise<Map<string, string[]>> {
    sent.length = 0;
    await work();
    const plans = new Map<string, string[]>();
    for (const query of sent) {
      if (!/\bdeliveries\b/i.test(query.sql) || /^\s*insert/i.test(query.sql)) continue;
      const rows = inspector.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...(query.parameters as unknown[])) as {
        detail: string;
      }[];
      plans.set(query.sql, rows.map((row) => row.detail));
    }
    assert.ok(plans.size > 0, 'the work sent no statement that reads deliveries');
    return plans;
  }

  /**
   * Requires every read of deliveries in the plans to go through one of `indexes`, or to look
   * rows up by primary key. A query without its status term would read a wider index, such
   * as all of a webhook's deliveries, or the whole table.
   */
  function assertReadsOnly(plans: Map<string, string[]>, indexes: readonly string[]): void {
    for (const [statement, lines] of plans) {
      for (const line of lines) {
        if (!/^(SCAN|SEARCH) deliveries\b/.test(line)) continue;
        const index = /USING (?:COVERING )?INDEX (\w+)/.exec(line)?.[1];
        const byKey = index === 'sqlite_autoindex_deliveries_1' && line.includes('(id=?)');
        assert.ok(
          byKey || (index !== undefined && indexes.includes(index)),
          `expected ${indexes.join(' or ')} in:\n${statement}\nplan line: ${line}`,
        );
      }
    }
  }

  it('pending count walks its index in chunks', async () => {
    const direct = inspector.prepare(`SELECT count(*) AS n FROM deliveries WHERE status = 'pending'`).get() as {
      n: number;
    };
    assert.ok(direct.n >= 4, `only ${direct.n} pending deliveries were seeded`);
    // Chunks that split the rows unevenly, evenly, in ones, and a chunk larger than all of them.
    for (const chunk of [1, 2, 4, 100]) assert.equal(await countPending(db, chunk), direct.n, `chunk ${chunk}`);
    assertReadsOnly(await plansOf(() => countPending(db, 2)), ['deliveries_pending']);
  });

  it('claim and lease recovery use indexes', async () => {
    const store = new DeliveryStore(db);
    const now = Date.now() + 1_000;
    assertReadsOnly(
      await plansOf(() =>
        store.claim(
          [
            { webhookId: 'whk_plain', limit: 10 },
            { webhookId: 'whk_ordered', limit: 1, ordered: true },
          ],
          20,
          now,
          now + 60_000,
        ),
      ),
      ['deliveries_pending', 'deliveries_open'],
    );
    assertReadsOnly(await plansOf(() => store.nextDueAt()), ['deliveries_pending']);
    assertReadsOnly(await plansOf(() => store.reapExpiredLeases(now + 120_000)), ['deliveries_in_flight']);
    assertReadsOnly(await plansOf(() => store.releaseAllInFlight(now)), ['deliveries_in_flight']);
  });

  it('write-back looks deliveries up by key', async () => {
    const store = new DeliveryStore(db);
    const now = Date.now() + 1_000;
    const claimed = await store.claim([{ webhookId: 'whk_plain', limit: 10 }], 10, now, now + 60_000);
    assert.ok(claimed.length > 0);
    const records = claimed.map((row, index) => ({
      deliveryId: row.id,
      webhookId: row.webhook_id,
      attemptNumber: 1,
      trigger: 'automatic' as const,
      startedAt: now,
      durationMs: 1,
      statusCode: index === 0 ? 503 : 204,
      errorKind: index === 0 ? 'http_status' : null,
      error: index === 0 ? 'receiver responded with status 503' : null,
      requestHeaders: {},
      excerpt: '',
      status: index === 0 ? ('pending' as const) : ('succeeded' as const),
      nextAttemptAt: index === 0 ? now + 5_000 : null,
      finishedAt: now + 1,
    }));
    assertReadsOnly(await plansOf(() => store.recordAttempts(records)), []);
  });

  it('gauges and retention use indexes', async () => {
    const metrics = new ServiceMetrics(db);
    assertReadsOnly(await plansOf(() => metrics.registry.metrics()), [
      'deliveries_pending',
      'deliveries_in_flight',
      'deliveries_open',
    ]);
    const pruner = new RetentionPruner(db, createLogger('silent'), { maxAgeMs: 1, batchSize: 100 });
    // The events pass looks for remaining deliveries of each candidate event.
    assertReadsOnly(await plansOf(() => pruner.run()), ['deliveries_finished', 'deliveries_by_event']);
  });
});
