import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { openDatabase } from '../src/db/database.js';
import { tempDir } from './helpers/service.js';

async function synchronousOf(env: Record<string, string>): Promise<number> {
  const config = loadConfig({ DATABASE_URL: path.join(tempDir(), 'sync.db'), ...env });
  const db = openDatabase(config.database);
  try {
    const { rows } = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(db);
    return rows[0]!.synchronous;
  } finally {
    await db.destroy();
  }
}

describe('SQLITE_SYNCHRONOUS', () => {
  it('defaults to NORMAL', async () => {
    assert.equal(await synchronousOf({}), 1);
  });

  it('applies FULL', async () => {
    assert.equal(await synchronousOf({ SQLITE_SYNCHRONOUS: 'full' }), 2);
  });

  it('rejects an unknown mode naming the variable', () => {
    assert.throws(
      () => loadConfig({ SQLITE_SYNCHRONOUS: 'OFF' }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'SQLITE_SYNCHRONOUS' && /NORMAL or FULL/.test(error.message),
    );
  });
});

describe('SQLite connection settings', () => {
  it('keeps temporary data in memory', async () => {
    const config = loadConfig({ DATABASE_URL: path.join(tempDir(), 'temp-store.db') });
    const db = openDatabase(config.database);
    try {
      const { rows } = await sql<{ temp_store: number }>`PRAGMA temp_store`.execute(db);
      // 2 is MEMORY; 0 would leave the choice to the build, which uses files.
      assert.equal(rows[0]!.temp_store, 2);
    } finally {
      await db.destroy();
    }
  });
});
