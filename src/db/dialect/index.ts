import type { DatabaseConfig } from '../../config/config.js';
import { postgresDialect } from './postgres.js';
import { sqliteDialect } from './sqlite.js';
import type { DatabaseDialect } from './types.js';

export type { DatabaseDialect, WakeSubscription, WakeTopic } from './types.js';

/** Returns the dialect support for the configured database. */
export function dialectFor(config: DatabaseConfig): DatabaseDialect {
  return config.dialect === 'postgres'
    ? postgresDialect(config.url, config.poolSize)
    : sqliteDialect(config.file);
}
