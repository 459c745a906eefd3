import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { PreparedInsert, PreparedQuery, PreparedRows } from '../src/db/prepared.js';
import { openTestDatabase, type OpenTestDatabase } from './helpers/database.js';

describe('prepared queries', () => {
  let dir: string;
  let database: OpenTestDatabase;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prepared-'));
    database = await openTestDatabase(dir);
  });

  after(async () => {
    await database.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('binds each value to its place', async () => {
    const { db } = database;
    let builds = 0;
    const insert = new PreparedQuery<[id: string, type: string, createdAt: number], never>(3, (qb, id, type, createdAt) => {
      builds += 1;
      return qb
        .insertInto('events')
        .values({ id, type, payload: '{"fixed":true}', request_id: null, created_at: createdAt });
    });
    const find = new PreparedQuery<[type: string, after: number], { id: string; payload: string }>(2, (qb, type, after) => {
      builds += 1;
      return qb.selectFrom('events').select(['id', 'payload']).where('created_at', '>', after).where('type', '=', type);
    });

    await insert.execute(db, 'evt_prepared_1', 'alpha', 100);
    await db.transaction().execute(async (trx) => {
      await insert.execute(trx, 'evt_prepared_2', 'beta', 200);
      await insert.execute(trx, 'evt_prepared_3', 'alpha', 300);
    });

    const alphaAfter150 = await find.execute(db, 'alpha', 150);
    assert.deepEqual(alphaAfter150.rows, [{ id: 'evt_prepared_3', payload: '{"fixed":true}' }]);
    const betaAfter0 = await find.execute(db, 'beta', 0);
    assert.deepEqual(
      betaAfter0.rows.map((row) => row.id),
      ['evt_prepared_2'],
    );
    // Built once each, although run in and out of a transaction.
    assert.equal(builds, 2);
  });

  it('reports affected rows of an update', async () => {
    const { db } = database;
    const rename = new PreparedQuery<[type: string, id: string], never>(2, (qb, type, id) =>
      qb.updateTable('events').set({ type }).where('id', '=', id),
    );
    await db
      .insertInto('events')
      .values({ id: 'evt_prepared_9', type: 'old', payload: '{}', request_id: null, created_at: 1 })
      .execute();

    const hit = await rename.execute(db, 'new', 'evt_prepared_9');
    const miss = await rename.execute(db, 'new', 'evt_prepared_missing');

    assert.equal(hit.numAffectedRows, 1n);
    assert.equal(miss.numAffectedRows, 0n);
  });

  it('inserts rows in chunks with constants', async () => {
    const { db } = database;
    const insert = new PreparedInsert('events', ['id', 'created_at'], 2, { type: 'chunked', payload: '{}', request_id: null });
    const rows = [1, 2, 3, 4, 5].map((n) => [`evt_chunk_${n}`, n]);

    await insert.execute(db, rows);
    await insert.execute(db, []);

    const stored = await db
      .selectFrom('events')
      .select(['id', 'type', 'created_at'])
      .where('type', '=', 'chunked')
      .orderBy('id')
      .execute();
    assert.deepEqual(
      stored.map((row) => row.id),
      rows.map((row) => row[0]),
    );
    assert.deepEqual(
      stored.map((row) => Number(row.created_at)),
      [1, 2, 3, 4, 5],
    );
  });

  it('runs rows in chunks with leading values', async () => {
    const { db } = database;
    const ids = [1, 2, 3, 4, 5].map((n) => `evt_rows_${n}`);
    await db
      .insertInto('events')
      .values(ids.map((id) => ({ id, type: 'before', payload: '{}', request_id: null, created_at: 1 })))
      .execute();
    let builds = 0;
    const retype = new PreparedRows<{ id: string }>(1, 1, 2, (qb, [type], rowSlots) => {
      builds += 1;
      const listed = sql.join(rowSlots.map(([id]) => id));
      const statement = sql<{ id: string }>`UPDATE events SET type = ${type} WHERE id IN (${listed}) RETURNING id`;
      return { compile: () => statement.compile(qb) };
    });

    const returned = await retype.execute(db, ['after'], [...ids, 'evt_rows_missing'].map((id) => [id]));

    assert.deepEqual(returned.map((row) => row.id).sort(), ids);
    const types = await db.selectFrom('events').select('type').where('id', 'in', ids).execute();
    assert.ok(types.every((row) => row.type === 'after'));
    // Chunks of 2, 2 and 2 rows share one build.
    assert.equal(builds, 1);
  });

  it('rejects a build that drops a value', async () => {
    const { db } = database;
    const broken = new PreparedQuery<[id: string, unused: string], never>(2, (qb, id) =>
      qb.selectFrom('events').select('id').where('id', '=', id),
    );
    await assert.rejects(() => broken.execute(db, 'evt_x', 'y'), /used 1 of its 2 values/);
  });
});
