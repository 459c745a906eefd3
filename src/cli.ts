#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { sql } from 'kysely';
import { AuthService } from './auth/service.js';
import { LoginThrottle } from './auth/throttle.js';
import { ConfigError, describeDatabase, loadConfig, type Config } from './config/config.js';
import { listPendingMigrations, migrateToLatest, openDatabase, type Db } from './db/database.js';
import { dialectFor } from './db/dialect/index.js';
import { DeliveryService, type DeliverySummary } from './delivery/service.js';
import { AppError } from './errors.js';

/*
 * Operator commands that work on the database directly, through the same services as the
 * HTTP API. A running service picks up redelivered deliveries at its next poll.
 */

/** Exit status for an unusable configuration, as in sysexits.h (EX_CONFIG). */
const EXIT_CONFIG = 78;
const PAGE_SIZE = 100;

interface GlobalOptions {
  database?: string;
}

interface Context {
  readonly config: Config;
  readonly db: Db;
}

/** Writes one line to standard error, where progress and messages go; results go to stdout. */
function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** Reads the first line of standard input, which is where the commands take passwords. */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write('Password (shown as you type; pipe it in to hide it): ');
  }
  const lines = createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    lines.close();
    return line;
  }
  throw new AppError(
    'invalid_request',
    'No password on standard input; pipe it in, e.g. `printf %s "$PW" | …`.',
    'password',
  );
}

/** Opens the configured database; every command but `migrate` needs it fully migrated. */
async function openContext(options: GlobalOptions, requireMigrated = true): Promise<Context> {
  // An empty value (often an unset shell variable) would otherwise fall back to DATABASE_URL.
  if (options.database !== undefined && options.database.trim() === '') {
    throw new AppError('invalid_request', '--database is empty; pass a SQLite file path or a postgres:// URL.');
  }
  const env = { ...process.env, ...(options.database ? { DATABASE_URL: options.database } : {}) };
  const config = loadConfig(env);
  // Opening a SQLite path creates the file and its folders. These commands work on existing
  // data, so a missing file is more likely a mistyped path than a new installation.
  if (requireMigrated && config.database.dialect === 'sqlite' && config.database.file !== ':memory:') {
    if (!existsSync(config.database.file)) {
      throw new AppError(
        'invalid_request',
        `Database file not found: ${config.database.file}. Check --database or DATABASE_URL, or run \`report-webhooks migrate\` to create one there.`,
      );
    }
  }
  let db: Db | undefined;
  try {
    // SQLite opens the file here, PostgreSQL at the first query.
    db = openDatabase(config.database);
    await sql`select 1`.execute(db);
  } catch (error) {
    await db?.destroy().catch(() => undefined);
    throw new AppError(
      'invalid_request',
      `Opening the database ${describeDatabase(config.database)} failed: ${error instanceof Error ? error.message : String(error)}. Check --database or DATABASE_URL.`,
    );
  }
  if (requireMigrated) {
    const pending = await listPendingMigrations(db);
    if (pending.length > 0) {
      await db.destroy();
      throw new AppError(
        'invalid_request',
        `The database has ${pending.length} pending migration(s) (${pending.join(', ')}); run \`report-webhooks migrate\` first.`,
      );
    }
  }
  return { config, db };
}

async function withContext<T>(
  command: Command,
  run: (context: Context) => Promise<T>,
  requireMigrated = true,
): Promise<T> {
  const context = await openContext(command.optsWithGlobals<GlobalOptions>(), requireMigrated);
  try {
    return await run(context);
  } finally {
    await context.db.destroy();
  }
}

async function migrate(command: Command): Promise<void> {
  await withContext(
    command,
    async ({ db, config }) => {
      const pending = await listPendingMigrations(db);
      if (pending.length === 0) {
        note('The database is up to date; no migration to apply.');
        return;
      }
      note(`Applying ${pending.length} migration(s)…`);
      // The dialect's lock keeps instances that start at the same time from migrating twice.
      const applied = await migrateToLatest(db, dialectFor(config.database));
      applied.forEach((name, index) => note(`[${index + 1}/${applied.length}] applied ${name}`));
    },
    false,
  );
}

/** The client address under which the sign-in throttle counts the CLI's password checks. */
const CLI_ADDRESS = 'cli';

function authService({ db, config }: Context): AuthService {
  return new AuthService(db, config.tokenTtlMs, new LoginThrottle(db, config.login));
}

async function createAdmin(command: Command, email: string): Promise<void> {
  // The password is read once the database is known to work, so a wrong path is reported
  // before anyone types a password.
  await withContext(command, async (context) => {
    const password = await readPassword();
    const user = await authService(context).createUser({
      email,
      password,
      role: 'Admin',
    });
    process.stdout.write(`${JSON.stringify(user)}\n`);
    note(`Created Admin ${user.email} (${user.id}).`);
  });
}

async function createToken(command: Command, email: string): Promise<void> {
  await withContext(command, async (context) => {
    const password = await readPassword();
    const issued = await authService(context).issueToken(email, password, CLI_ADDRESS);
    process.stdout.write(`${issued.token}\n`);
    note(`Token for ${email.trim().toLowerCase()} expires at ${issued.expires_at}.`);
  });
}

/** Yields the failed deliveries of one webhook or of all, webhook by webhook, newest first. */
async function* failedDeliveries(
  db: Db,
  webhookId: string | undefined,
): AsyncGenerator<DeliverySummary> {
  const deliveries = new DeliveryService(db, () => undefined);
  const webhookIds = webhookId
    ? [webhookId]
    : (await db.selectFrom('webhooks').select('id').orderBy('id').execute()).map((row) => row.id);
  for (const id of webhookIds) {
    let before: string | undefined;
    do {
      const page = await deliveries.listForWebhook(id, {
        status: 'failed',
        limit: PAGE_SIZE,
        before,
      });
      yield* page.data;
      before = page.next_cursor ?? undefined;
    } while (before !== undefined);
  }
}

async function listFailed(
  command: Command,
  options: { webhook?: string; json?: boolean },
): Promise<void> {
  await withContext(command, async ({ db }) => {
    let count = 0;
    for await (const delivery of failedDeliveries(db, options.webhook)) {
      count += 1;
      const line = options.json
        ? JSON.stringify(delivery)
        : [
            delivery.id,
            delivery.webhook_id,
            delivery.event_type,
            `attempts=${delivery.attempt_count}`,
            `last_status=${delivery.last_status_code ?? '-'}`,
            delivery.last_error ?? '',
          ].join('\t');
      process.stdout.write(`${line}\n`);
    }
    note(`${count} failed deliveries.`);
  });
}

interface RedeliverOptions {
  allFailed?: boolean;
  webhook?: string;
}

async function redeliver(
  command: Command,
  ids: string[],
  options: RedeliverOptions,
): Promise<void> {
  if (ids.length > 0 === Boolean(options.allFailed)) {
    throw new AppError(
      'invalid_request',
      'Name delivery ids or pass --all-failed, not both and not neither.',
    );
  }
  await withContext(command, async ({ db }) => {
    const targets = [...ids];
    if (options.allFailed) {
      for await (const delivery of failedDeliveries(db, options.webhook)) targets.push(delivery.id);
    }
    const service = new DeliveryService(db, () => undefined);
    let failures = 0;
    for (const [index, id] of targets.entries()) {
      const prefix = `[${index + 1}/${targets.length}] ${id}`;
      try {
        await service.redeliver(id);
        note(`${prefix} queued`);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        failures += 1;
        note(`${prefix} skipped: ${error.message}`);
      }
    }
    note(
      `Queued ${targets.length - failures} of ${targets.length} deliveries; a running service sends them at its next poll.`,
    );
    if (failures > 0) process.exitCode = 1;
  });
}

function buildProgram(): Command {
  const program = new Command('report-webhooks')
    .description(
      'Operator commands for the report webhook service. Settings come from the same environment variables as the service.',
    )
    .option('--database <url>', 'database to use instead of DATABASE_URL: a SQLite file path or a postgres:// URL')
    .showHelpAfterError();

  program
    .command('migrate')
    .description('Apply pending database migrations and print each one as it is applied.')
    .action((_options, command: Command) => migrate(command));

  program
    .command('create-admin')
    .description(
      'Create a user with the Admin role; reads the password from the first line of standard input.',
    )
    .requiredOption('--email <email>', 'email address of the new Admin')
    .action((options: { email: string }, command: Command) => createAdmin(command, options.email));

  program
    .command('create-token')
    .description(
      'Issue a bearer token for a user (valid for TOKEN_TTL); reads the password from standard input and prints the token.',
    )
    .requiredOption('--email <email>', 'email address of the user')
    .action((options: { email: string }, command: Command) => createToken(command, options.email));

  program
    .command('list-failed')
    .description(
      'List failed deliveries, newest first per webhook, one per line (tab-separated or JSON).',
    )
    .option('--webhook <id>', 'only deliveries of this webhook')
    .option('--json', 'print each delivery as a JSON object')
    .action((options: { webhook?: string; json?: boolean }, command: Command) =>
      listFailed(command, options),
    );

  program
    .command('redeliver')
    .description('Queue one more attempt of finished deliveries; prints progress per delivery.')
    .argument('[ids...]', 'delivery ids (dlv_…)')
    .option('--all-failed', 'redeliver every failed delivery')
    .option('--webhook <id>', 'with --all-failed: only deliveries of this webhook')
    .action((ids: string[], options: RedeliverOptions, command: Command) =>
      redeliver(command, ids, options),
    );

  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      note(`Configuration error: ${error.message}`);
      process.exit(EXIT_CONFIG);
    }
    if (error instanceof AppError) {
      note(`Error: ${error.field ? `${error.field}: ` : ''}${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}

await main();
