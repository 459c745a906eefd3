import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Migration, type MigrationProvider } from 'kysely';
import { ConfigError, type DatabaseConfig } from '../config/config.js';
import * as initial from './migrations/001_initial.js';
import * as followRedirects from './migrations/002_follow_redirects.js';
import * as deliveryEngine from './migrations/003_delivery_engine.js';
import * as sessions from './migrations/004_sessions.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '001_initial': initial,
  '002_follow_redirects': followRedirects,
  '003_delivery_engine': deliveryEngine,
  '004_sessions': sessions,
};

class StaticMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { ...MIGRATIONS };
  }
}

/**
 * Opens the database named by the configuration. SQLite runs in WAL mode with
 * synchronous=NORMAL: a committed transaction survives a crash of the process, and only a
 * power loss may take back the last few commits.
 */
export function openDatabase(config: DatabaseConfig): Db {
  if (config.dialect === 'postgres') {
    // NOTE: the schema and queries are written for both dialects, but no PostgreSQL driver
    // is wired in yet, so a postgres:// DATABASE_URL stops the start here.
    throw new ConfigError(
      'DATABASE_URL',
      'PostgreSQL is not supported by this version yet; use a SQLite file path.',
    );
  }

  if (config.file !== ':memory:') {
    fs.mkdirSync(path.dirname(path.resolve(config.file)), { recursive: true });
  }
  const sqlite = new SQLite(config.file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}

/** Applies every pending migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new StaticMigrationProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${String(error)}`, {
      cause: error,
    });
  }
  return (results ?? []).map((result) => result.migrationName);
}

/** Returns the names of known migrations that the database has not applied yet. */
export async function listPendingMigrations(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new StaticMigrationProvider() });
  const migrations = await migrator.getMigrations();
  return migrations.filter((migration) => migration.executedAt === undefined).map((m) => m.name);
}
