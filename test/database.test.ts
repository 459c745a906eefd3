import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { ConfigError, loadConfig, parseDatabaseUrl } from '../src/config/config.js';
import { migrateToLatest, openDatabase } from '../src/db/database.js';
import { dialectFor } from '../src/db/dialect/index.js';
import { createTestDatabase, onlyPostgres } from './helpers/database.js';
import { startService, tempDir } from './helpers/service.js';

describe('database configuration', () => {
  it('selects PostgreSQL for a postgres URL', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://app:pw@127.0.0.1:5432/webhooks',
      DATABASE_POOL_SIZE: '4',
    });
    assert.deepEqual(config.database, {
      dialect: 'postgres',
      url: 'postgres://app:pw@127.0.0.1:5432/webhooks',
      poolSize: 4,
    });
    assert.equal(config.role, 'all');
  });

  it('keeps SQLite for paths', () => {
    assert.deepEqual(parseDatabaseUrl('sqlite:./data/x.db'), { dialect: 'sqlite', file: './data/x.db' });
    assert.deepEqual(parseDatabaseUrl('/tmp/x.db'), { dialect: 'sqlite', file: '/tmp/x.db' });
  });

  it('rejects a bad pool size and role', () => {
    assert.throws(
      () => loadConfig({ DATABASE_POOL_SIZE: '0' }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'DATABASE_POOL_SIZE',
    );
    assert.throws(
      () => loadConfig({ SERVICE_ROLE: 'sender' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.variable === 'SERVICE_ROLE' &&
        error.message.includes('all, api, worker'),
    );
  });

  it('rejects a malformed PostgreSQL URL without echoing it', () => {
    assert.throws(
      () => parseDatabaseUrl('postgres://user:secret-pw@[bad/db'),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.variable === 'DATABASE_URL' &&
        !error.message.includes('secret-pw'),
    );
  });
});

describe('migrations on PostgreSQL', onlyPostgres, () => {
  it('run once when instances start together', async () => {
    const created = await createTestDatabase(tempDir());
    const config = parseDatabaseUrl(created.url, 2);
    const instances = Array.from({ length: 4 }, () => openDatabase(config));
    try {
      const applied = await Promise.all(
        instances.map((db) => migrateToLatest(db, dialectFor(config))),
      );
      const nonEmpty = applied.filter((names) => names.length > 0);
      assert.equal(nonEmpty.length, 1);
      assert.ok(nonEmpty[0]?.includes('001_initial'));

      const rows = await sql<{ name: string; copies: number }>`
        SELECT name, COUNT(*) AS copies FROM kysely_migration GROUP BY name`.execute(instances[0]!);
      assert.ok(rows.rows.length >= 2);
      for (const row of rows.rows) assert.equal(row.copies, 1, row.name);
    } finally {
      await Promise.all(instances.map((db) => db.destroy()));
      await created.drop();
    }
  });

  it('rejects NUL characters with 400', async () => {
    const svc = await startService();
    try {
      const report = { type: 'SAT', title: 'a\u0000b', reference: 'R', client: 'C' };
      const response = await svc.admin.post('/api/v1/reports', report);
      assert.equal(response.status, 400);
      assert.equal(response.body.code, 'invalid_request');
      assert.match(response.body.message, /^title contains a NUL character/);
    } finally {
      await svc.close();
    }
  });

  it('parses BIGINT and COUNT as numbers', async () => {
    const created = await createTestDatabase(tempDir());
    const db = openDatabase(parseDatabaseUrl(created.url, 1));
    try {
      const result = await sql<{ big: unknown; total: unknown }>`
        SELECT CAST(1733300000000 AS BIGINT) AS big, COUNT(*) AS total FROM pg_class`.execute(db);
      assert.equal(result.rows[0]?.big, 1733300000000);
      assert.equal(typeof result.rows[0]?.total, 'number');
    } finally {
      await db.destroy();
      await created.drop();
    }
  });
});
