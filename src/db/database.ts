import { Kysely, Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { DatabaseConfig } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { dialectFor, type DatabaseDialect } from './dialect/index.js';
import * as initial from './migrations/001_initial.js';
import * as followRedirects from './migrations/002_follow_redirects.js';
import * as deliveryEngine from './migrations/003_delivery_engine.js';
import * as sessions from './migrations/004_sessions.js';
import * as multiWorker from './migrations/005_multi_worker.js';
import * as partialQueueIndexes from './migrations/006_partial_queue_indexes.js';
import * as loginFailures from './migrations/007_login_failures.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '001_initial': initial,
  '002_follow_redirects': followRedirects,
  '003_delivery_engine': deliveryEngine,
  '004_sessions': sessions,
  '005_multi_worker': multiWorker,
  '006_partial_queue_indexes': partialQueueIndexes,
  '007_login_failures': loginFailures,
};

class StaticMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { ...MIGRATIONS };
  }
}

/**
 * Opens the database named by the configuration: SQLite for a file path, PostgreSQL
 * through a connection pool for a postgres:// URL. `log` receives errors of idle pooled
 * connections.
 */
export function openDatabase(config: DatabaseConfig, log?: Logger): Db {
  return new Kysely<Database>({ dialect: dialectFor(config).createKyselyDialect(log) });
}

/**
 * Applies every pending migration; throws with the failing migration's name. On PostgreSQL
 * it holds an advisory lock meanwhile, so instances starting together migrate once.
 */
export async function migrateToLatest(db: Db, dialect?: DatabaseDialect): Promise<string[]> {
  return dialect ? dialect.withMigrationLock(db, applyMigrations) : applyMigrations(db);
}

async function applyMigrations(db: Db): Promise<string[]> {
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
