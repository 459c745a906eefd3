import path from 'node:path';
import pg from 'pg';
import { parseDatabaseUrl } from '../../src/config/config.js';
import { migrateToLatest, openDatabase, type Db } from '../../src/db/database.js';
import { dialectFor, type DatabaseDialect } from '../../src/db/dialect/index.js';

/**
 * The database the suite runs against: SQLite by default, PostgreSQL with
 * TEST_DATABASE=postgres. PostgreSQL is reached through TEST_POSTGRES_URL, by default the
 * local server on 127.0.0.1:5432 with trust authentication.
 */
export const TEST_DATABASE = readTestDatabase(process.env.TEST_DATABASE);
const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Options for a test or suite that only means something on PostgreSQL. */
export const onlyPostgres = { skip: TEST_DATABASE !== 'postgres' && 'needs TEST_DATABASE=postgres' };

export interface TestDatabase {
  /** The DATABASE_URL of the fresh database. */
  readonly url: string;
  /** Removes the database; a PostgreSQL database is dropped with its open connections. */
  drop(): Promise<void>;
}

function readTestDatabase(value: string | undefined): 'sqlite' | 'postgres' {
  if (value === undefined || value === '' || value === 'sqlite') return 'sqlite';
  if (value === 'postgres') return 'postgres';
  throw new Error(`TEST_DATABASE="${value}" is not supported; use sqlite or postgres.`);
}

/** Creates an empty database for one test service: a file in `dir`, or a new PostgreSQL database. */
export async function createTestDatabase(dir: string, kind = TEST_DATABASE): Promise<TestDatabase> {
  if (kind === 'sqlite') return { url: path.join(dir, 'test.db'), drop: async () => undefined };

  const name = `test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `cannot reach PostgreSQL at ${ADMIN_URL}; start it or set TEST_POSTGRES_URL: ${String(error)}`,
      { cause: error },
    );
  }
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export interface OpenTestDatabase {
  readonly db: Db;
  readonly dialect: DatabaseDialect;
  close(): Promise<void>;
}

/** Opens a fresh, migrated test database directly, without a service around it. */
export async function openTestDatabase(dir: string, poolSize = 10): Promise<OpenTestDatabase> {
  const created = await createTestDatabase(dir);
  const config = parseDatabaseUrl(created.url, poolSize);
  const dialect = dialectFor(config);
  const db = openDatabase(config);
  await migrateToLatest(db, dialect);
  return {
    db,
    dialect,
    async close() {
      await db.destroy();
      await created.drop();
    },
  };
}
