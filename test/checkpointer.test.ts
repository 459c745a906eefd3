import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/database.js';
import { BACKSTOP_CHECKPOINT_PAGES, WalCheckpointer } from '../src/db/dialect/checkpointer.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpointer-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Returns the absolute path of a file given relative to this test. */
function absolutePath(relative: string): string {
  return fileURLToPath(new URL(relative, import.meta.url));
}

/** Waits up to `ms` for `check` to hold, testing it every 20 ms. */
async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(20);
  }
  return check();
}

/** Counts this process's threads whose nice value is `nice`, from /proc/self/task. */
function threadsAtNice(nice: number): number {
  let count = 0;
  for (const task of fs.readdirSync('/proc/self/task')) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      // The fields after the command name start at field 3, the state, so nice (field 19) is at index 16.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[16]) === nice) count += 1;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return count;
}

describe('WAL checkpoints in a thread', () => {
  it('copies commits into the database file', async () => {
    const file = path.join(dir, 'copies.db');
    const db = openDatabase({ dialect: 'sqlite', file });
    try {
      const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(db);
      assert.equal(rows[0]?.wal_autocheckpoint, BACKSTOP_CHECKPOINT_PAGES);

      await sql`create table items (id integer primary key, body text not null)`.execute(db);
      const sizeBefore = fs.statSync(file).size;
      // About 4 MB in 40 commits: past the thread's 1,000 frames but below the
      // backstop, so only the thread copies it.
      for (let batch = 0; batch < 40; batch++) {
        await db.transaction().execute(async (trx) => {
          for (let i = 0; i < 50; i++) await sql`insert into items (body) values (${'x'.repeat(2_000)})`.execute(trx);
        });
      }

      const copied = await eventually(() => fs.statSync(file).size > sizeBefore + 2_000_000, 3_000);
      assert.ok(copied, `the database file stayed at ${fs.statSync(file).size} bytes`);
    } finally {
      await db.destroy();
    }
    // The thread closed first, so the main connection was the last one and removed the WAL.
    assert.equal(fs.existsSync(`${file}-wal`), false);
  });

  it('reports a thread that fails to open', async () => {
    let failures = 0;
    const checkpointer = WalCheckpointer.start(path.join(dir, 'missing.db'), () => {
      failures += 1;
    });
    assert.ok(await eventually(() => failures === 1, 5_000), 'onFailure was not called');
    assert.equal(checkpointer.running, false);
    await checkpointer.stop();
    assert.equal(failures, 1);
  });

  it('stops before the thread opens', async () => {
    let failures = 0;
    const checkpointer = WalCheckpointer.start(path.join(dir, 'missing-too.db'), () => {
      failures += 1;
    });
    await checkpointer.stop();
    assert.equal(checkpointer.running, false);
    assert.equal(failures, 0);
  });

  it('runs the thread at the lowest priority', { skip: process.platform !== 'linux' && 'thread priorities are read from /proc' }, async () => {
    // An empty file is an empty SQLite database, and no main connection starts a thread of its own.
    const file = path.join(dir, 'priority.db');
    fs.writeFileSync(file, '');
    const before = threadsAtNice(19);
    const checkpointer = WalCheckpointer.start(file, (error) => assert.fail(`the thread failed: ${String(error)}`));
    try {
      assert.ok(await eventually(() => threadsAtNice(19) === before + 1, 5_000), 'no thread took nice value 19');
    } finally {
      await checkpointer.stop();
    }
    assert.equal(threadsAtNice(19), before);
  });

  it('starts the thread on one core', (context) => {
    const database = absolutePath('../src/db/database.ts');
    const script = path.join(dir, 'one-core.mts');
    fs.writeFileSync(
      script,
      `import { sql } from ${JSON.stringify(import.meta.resolve('kysely'))};
import { openDatabase } from ${JSON.stringify(database)};
const db = openDatabase({ dialect: 'sqlite', file: ${JSON.stringify(path.join(dir, 'one-core.db'))} });
const { rows } = await sql\`pragma wal_autocheckpoint\`.execute(db);
console.log(JSON.stringify(rows[0]));
await db.destroy();
`,
    );
    const child = spawnSync('taskset', ['-c', '0', process.execPath, '--import', 'tsx', script], { encoding: 'utf8' });
    if (child.error) {
      context.skip(`taskset could not run: ${child.error.message}`);
      return;
    }

    // The main connection's threshold moves to the backstop only when the thread starts.
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), { wal_autocheckpoint: BACKSTOP_CHECKPOINT_PAGES });
  });

  it('gates on the SQLite version', () => {
    assert.equal(WalCheckpointer.supports('3.51.2'), false);
    assert.equal(WalCheckpointer.supports('3.50.9'), false);
    assert.equal(WalCheckpointer.supports('3.51.3'), true);
    assert.equal(WalCheckpointer.supports('3.53.2'), true);
    assert.equal(WalCheckpointer.supports('4.0.0'), true);
  });
});
