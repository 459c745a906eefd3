import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { GroupCommitSqliteDialect } from '../src/db/dialect/group-commit.js';
import { withStatementCache } from '../src/db/statement-cache.js';

interface Schema {
  items: { id: number; label: string };
}

describe('SQLite group commit', () => {
  let dir: string;
  let file: string;
  let db: Kysely<Schema>;
  let native: SQLite.Database;
  /** A second connection, which reads only committed rows. */
  let observer: SQLite.Database;
  const commits: string[] = [];
  /** When set, the next COMMIT fails with this error instead of running. */
  let failNextCommit: Error | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'group-commit-'));
    file = path.join(dir, 'test.db');
    native = new SQLite(file);
    native.pragma('journal_mode = WAL');
    const cached = withStatementCache(native);
    db = new Kysely<Schema>({
      dialect: new GroupCommitSqliteDialect({
        native,
        close: () => cached.close(),
        prepare(text) {
          if (text === 'commit') commits.push(text);
          const error = failNextCommit;
          if (text === 'commit' && error) {
            failNextCommit = undefined;
            const failing = cached.prepare(text);
            return Object.assign(Object.create(failing) as typeof failing, {
              run: () => {
                throw error;
              },
            });
          }
          return cached.prepare(text);
        },
      }),
    });
    await sql`CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL UNIQUE)`.execute(db);
    observer = new SQLite(file, { readonly: true });
  });

  after(async () => {
    observer.close();
    await db.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const committedLabels = (): string[] =>
    (observer.prepare('SELECT label FROM items ORDER BY id').all() as Array<{ label: string }>).map((row) => row.label);

  it('returns a transaction after its commit', async () => {
    await db.transaction().execute((trx) => trx.insertInto('items').values({ id: 1, label: 'one' }).execute());
    assert.deepEqual(committedLabels(), ['one']);
  });

  it('returns a lone write after its commit', async () => {
    await db.insertInto('items').values({ id: 2, label: 'two' }).execute();
    assert.deepEqual(committedLabels(), ['one', 'two']);
  });

  it('lets concurrent transactions share one commit', async () => {
    const before = commits.length;
    const ids = Array.from({ length: 20 }, (_, i) => 100 + i);
    await Promise.all(
      ids.map((id) => db.transaction().execute((trx) => trx.insertInto('items').values({ id, label: `item ${id}` }).execute())),
    );
    const used = commits.length - before;
    assert.ok(used < 5, `20 concurrent transactions used ${used} commits`);
    assert.equal(committedLabels().filter((label) => label.startsWith('item ')).length, 20);
  });

  it('rolls back only the failing member', async () => {
    const results = await Promise.allSettled([
      db.transaction().execute((trx) => trx.insertInto('items').values({ id: 200, label: 'kept A' }).execute()),
      db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: 201, label: 'undone' }).execute();
        // Violates UNIQUE(label): the whole transaction, including id 201, must go.
        await trx.insertInto('items').values({ id: 202, label: 'one' }).execute();
      }),
      db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: 203, label: 'thrown' }).execute();
        throw new Error('the caller gave up');
      }),
      db.transaction().execute((trx) => trx.insertInto('items').values({ id: 204, label: 'kept B' }).execute()),
    ]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
    );
    const labels = committedLabels();
    assert.ok(labels.includes('kept A'));
    assert.ok(labels.includes('kept B'));
    assert.ok(!labels.includes('undone'));
    assert.ok(!labels.includes('thrown'));
  });

  it('runs a lone read without a transaction', async () => {
    const rows = await db.selectFrom('items').select('label').where('id', '=', 1).execute();
    assert.deepEqual(rows, [{ label: 'one' }]);
    assert.equal(native.inTransaction, false);
  });

  it('fails the whole group on a failed commit', async () => {
    await db.insertInto('items').values({ id: 500, label: '0' }).execute();
    failNextCommit = new Error('disk I/O error (simulated)');
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

    // `first` joins the group and waits for its commit. `holder` still has the connection
    // when that commit is due, so it commits the group itself at its end, and the commit
    // fails. The counters queue behind it and must then get the connection one at a time.
    const first = db.transaction().execute((trx) => trx.insertInto('items').values({ id: 400, label: 'lost 400' }).execute());
    const holder = db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ id: 401, label: 'lost 401' }).execute();
      await nextTurn();
      await nextTurn();
    });
    const counters = Array.from({ length: 10 }, () =>
      db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('items').select('label').where('id', '=', 500).executeTakeFirstOrThrow();
        await nextTurn();
        await trx.updateTable('items').set({ label: String(Number(row.label) + 1) }).where('id', '=', 500).execute();
      }),
    );

    const results = await Promise.allSettled([first, holder, ...counters]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['rejected', 'rejected', ...counters.map(() => 'fulfilled')],
    );
    assert.ok(!committedLabels().some((label) => label.startsWith('lost')));
    const counter = await db.selectFrom('items').select('label').where('id', '=', 500).executeTakeFirstOrThrow();
    assert.equal(counter.label, '10');
  });

  it('commits after a holder that never joined', async () => {
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
    const first = db.transaction().execute((trx) => trx.insertInto('items').values({ id: 600, label: 'waits' }).execute());
    // This holder keeps the connection past the end of the turn, so the group's commit falls
    // to it, and its only statement fails to prepare before joining the group.
    const holder = db.connection().execute(async (connection) => {
      await nextTurn();
      await nextTurn();
      await sql`SELEC 1`.execute(connection);
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('the first member never returned')), 2_000);
    });

    await assert.rejects(holder, /syntax error/);
    try {
      await Promise.race([first, timeout]);
    } finally {
      clearTimeout(timer);
    }
    assert.ok(committedLabels().includes('waits'));
  });

  it('fails every member on a busy lock', async () => {
    // A second writer holds the write lock, so the group's BEGIN IMMEDIATE times out. No
    // member may report success for rows that were never committed.
    native.pragma('busy_timeout = 50');
    const blocker = new SQLite(file);
    blocker.prepare('BEGIN IMMEDIATE').run();
    try {
      const results = await Promise.allSettled(
        [300, 301, 302].map((id) =>
          db.transaction().execute((trx) => trx.insertInto('items').values({ id, label: `blocked ${id}` }).execute()),
        ),
      );
      assert.deepEqual(
        results.map((result) => result.status),
        ['rejected', 'rejected', 'rejected'],
      );
    } finally {
      blocker.prepare('ROLLBACK').run();
      blocker.close();
    }
    assert.ok(!committedLabels().some((label) => label.startsWith('blocked')));
    // The driver recovers: the next transaction commits normally.
    await db.insertInto('items').values({ id: 303, label: 'after' }).execute();
    assert.ok(committedLabels().includes('after'));
  });
});
