import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { inspectRedis } from './contenders/bullmq.js';
import { ROOT } from './processes.js';

function packageVersion(name: string): string {
  try {
    const file = path.join(ROOT, 'node_modules', name, 'package.json');
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function commandOutput(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unavailable';
  }
}

/** Returns the file system type of the temporary folder, where the benchmark databases live. */
function tmpFileSystem(): string {
  return commandOutput('stat', ['-f', '-c', '%T', os.tmpdir()]);
}

/** Versions and hardware of this run, recorded with every result. */
export async function fingerprint(): Promise<Record<string, unknown>> {
  const sqlite = new SQLite(':memory:');
  const sqliteVersion = (sqlite.prepare('select sqlite_version() as v').get() as { v: string }).v;
  sqlite.close();
  const redis = await inspectRedis();
  return {
    node: process.version,
    undici: packageVersion('undici'),
    bullmq: packageVersion('bullmq'),
    betterSqlite3: packageVersion('better-sqlite3'),
    sqlite: sqliteVersion,
    redis: redis?.version ?? 'unreachable',
    postgres: commandOutput('psql', ['--version']),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    tmpDir: os.tmpdir(),
    tmpFileSystem: tmpFileSystem(),
    databaseOnTmpfs: tmpFileSystem() === 'tmpfs',
    loadAverage: os.loadavg().map((value) => Math.round(value * 100) / 100),
  };
}
