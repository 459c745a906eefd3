import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import type { SqliteSynchronous } from '../../config/config.js';
import type { Logger } from '../../observability/logger.js';
import { withStatementCache } from '../statement-cache.js';
import {
  BACKSTOP_CHECKPOINT_PAGES,
  DEFAULT_CHECKPOINT_PAGES,
  WAL_SIZE_LIMIT_BYTES,
  WalCheckpointer,
} from './checkpointer.js';
import { GroupCommitSqliteDialect } from './group-commit.js';
import type { DatabaseDialect } from './types.js';

/**
 * Creates the support for the embedded database of a single process. It runs in WAL mode
 * with synchronous=NORMAL by default: a committed transaction survives a crash of the
 * process, and only a power loss may take back the last few commits. synchronous=FULL syncs
 * the WAL at every commit, so commits also survive a power loss.
 */
export function sqliteDialect(file: string, synchronous: SqliteSynchronous = 'NORMAL'): DatabaseDialect {
  return {
    name: 'sqlite',
    singleProcess: true,
    claimLockClause: sql``,
    updateLockClause: sql``,

    createKyselyDialect(log?: Logger) {
      if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      const database = new SQLite(file);
      database.pragma('journal_mode = WAL');
      database.pragma(`synchronous = ${synchronous}`);
      database.pragma('foreign_keys = ON');
      database.pragma('busy_timeout = 5000');
      // Group commit runs every transaction under a savepoint, and SQLite keeps what a
      // savepoint needs for its rollback in a temporary file unless temp_store is MEMORY.
      // A savepoint and its release took about 20 µs with the file and 6 µs without.
      database.pragma('temp_store = MEMORY');
      const connection = { ...withStatementCache(database), native: database };
      const version = (database.prepare('select sqlite_version() as version').get() as { version: string }).version;
      if (file === ':memory:' || !WalCheckpointer.supports(version)) {
        return new GroupCommitSqliteDialect(connection);
      }

      const checkpointer = WalCheckpointer.start(file, (error) => {
        if (!database.open) return;
        database.pragma(`wal_autocheckpoint = ${DEFAULT_CHECKPOINT_PAGES}`);
        log?.warn({ err: error, file }, 'WAL checkpoint thread failed, so commits run checkpoints again');
      });
      database.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
      database.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
      return new GroupCommitSqliteDialect(connection, () => checkpointer.stop());
    },

    // One process owns the file, and better-sqlite3 runs one statement at a time.
    withMigrationLock: (db, migrate) => migrate(db),

    // Workers live in this process and are woken through in-process callbacks.
    notify: async () => undefined,
    listen: async () => ({ close: async () => undefined }),
  };
}
