import pg from 'pg';
import { PostgresDialect, sql } from 'kysely';
import type { Logger } from '../../observability/logger.js';
import type { DatabaseDialect, WakeSubscription, WakeTopic } from './types.js';

/** The channel of LISTEN/NOTIFY that wakes workers in every process. */
const WAKE_CHANNEL = 'report_webhooks_wake';
/** Key of the session advisory lock held while migrating. */
const MIGRATION_LOCK = sql`hashtext('report-webhooks:migrations')`;
const APPLICATION_NAME = 'report-webhooks';
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * node-postgres returns BIGINT (times in milliseconds, COUNT(*)) and NUMERIC (SUM of
 * BIGINT) as strings, because they may exceed 2^53. Every such value here is a time or a
 * count well below that, so they are parsed to numbers like SQLite returns them.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (text: string) => Number(text);
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * Creates the support for a database shared by any number of processes: one pool per
 * process, row locks with SKIP LOCKED for claims, LISTEN/NOTIFY for wake-ups and an
 * advisory lock for migrations.
 */
export function postgresDialect(url: string, poolSize: number): DatabaseDialect {
  return {
    name: 'postgres',
    singleProcess: false,
    claimLockClause: sql`FOR UPDATE SKIP LOCKED`,
    updateLockClause: sql`FOR NO KEY UPDATE`,

    createKyselyDialect(log) {
      const pool = new pg.Pool({
        connectionString: url,
        max: poolSize,
        application_name: APPLICATION_NAME,
        types,
      });
      // An idle connection that breaks (e.g. the server restarted) is dropped from the pool
      // and reported here; without a listener the error would end the process.
      pool.on('error', (error) => log?.error({ err: error }, 'idle database connection failed'));
      return new PostgresDialect({ pool });
    },

    async withMigrationLock(db, migrate) {
      // The lock and the migrations share one connection, so a pool of size 1 suffices and
      // the lock ends with the session if this process dies while migrating.
      return db.connection().execute(async (connection) => {
        await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK})`.execute(connection);
        try {
          return await migrate(connection);
        } finally {
          await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`.execute(connection);
        }
      });
    },

    async notify(db, topic) {
      await sql`SELECT pg_notify(${WAKE_CHANNEL}, ${topic})`.execute(db);
    },

    async listen(log, onWake) {
      const listener = new WakeListener(url, log, onWake);
      await listener.connect();
      return listener;
    },
  };
}

/**
 * Holds one connection outside the pool that LISTENs on the wake channel, and reconnects
 * with a growing delay when it breaks.
 */
class WakeListener implements WakeSubscription {
  #client: pg.Client | undefined;
  #closed = false;
  #retryMs = RECONNECT_MIN_MS;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly onWake: (topic: WakeTopic) => void,
  ) {}

  async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: APPLICATION_NAME });
    client.on('notification', (message) => {
      this.onWake(message.payload === 'webhooks' ? 'webhooks' : 'deliveries');
    });
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, undefined));
    try {
      await client.connect();
      await client.query(`LISTEN ${WAKE_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.#client = client;
    this.#retryMs = RECONNECT_MIN_MS;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  #lost(client: pg.Client, error: Error | undefined): void {
    if (this.#closed || this.#client !== client) return;
    this.#client = undefined;
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    this.log.error({ err: error, retry_in_ms: this.#retryMs }, 'wake-up connection lost; reconnecting');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    this.#timer = setTimeout(() => void this.#reconnect(), this.#retryMs);
    this.#timer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RECONNECT_MAX_MS);
  }

  async #reconnect(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.connect();
      this.log.info('wake-up connection restored');
      // Notifications sent while disconnected are lost, so look for work now.
      this.onWake('deliveries');
      this.onWake('webhooks');
    } catch (error) {
      this.log.error({ err: error, retry_in_ms: this.#retryMs }, 'wake-up connection failed; retrying');
      this.#scheduleReconnect();
    }
  }
}
