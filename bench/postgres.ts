import { execFileSync } from 'node:child_process';
import { parseDatabaseUrl } from '../src/config/config.js';
import { openDatabase } from '../src/db/database.js';

const SERVER = 'postgres://postgres@127.0.0.1:5432';

/** Returns true when this checkout's service can open a postgres:// DATABASE_URL. */
export async function postgresSupported(): Promise<boolean> {
  try {
    const db = openDatabase(parseDatabaseUrl(`${SERVER}/test`));
    await db.destroy();
    return true;
  } catch {
    return false;
  }
}

function psql(statement: string): void {
  execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'test', '-v', 'ON_ERROR_STOP=1', '-c', statement], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Creates an empty database on the local PostgreSQL and returns its URL. */
export function createBenchDatabase(): string {
  const name = `webhook_bench_${process.pid}_${Date.now().toString(36)}`;
  psql(`CREATE DATABASE ${name}`);
  return `${SERVER}/${name}`;
}

export function dropBenchDatabase(url: string): void {
  const name = new URL(url).pathname.slice(1);
  psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}
