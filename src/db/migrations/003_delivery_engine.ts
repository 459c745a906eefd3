import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  const webhookColumns: Array<[string, 'integer' | 'bigint' | 'text' | 'real']> = [
    ['max_in_flight', 'integer'],
    ['rate_limit', 'real'],
    ['failing_since', 'bigint'],
    ['disabled_reason', 'text'],
    ['disabled_at', 'bigint'],
    ['previous_secret', 'text'],
    ['previous_secret_expires_at', 'bigint'],
  ];
  for (const [name, type] of webhookColumns) {
    await db.schema.alterTable('webhooks').addColumn(name, type).execute();
  }
  await db.schema
    .alterTable('webhooks')
    .addColumn('is_ordered', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema
    .alterTable('api_tokens')
    .addColumn('scope', 'text', (c) => c.notNull().defaultTo('full'))
    .execute();
  await db.schema.alterTable('api_tokens').addColumn('name', 'text').execute();

  await db.schema
    .createTable('event_types')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('schema', 'text', (c) => c.notNull())
    .addColumn('example', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['owner', 'key'])
    .execute();
  await db.schema
    .createIndex('idempotency_keys_by_age')
    .on('idempotency_keys')
    .column('created_at')
    .execute();

  // Retention deletes finished deliveries and attempts by age, oldest first.
  await db.schema
    .createIndex('deliveries_by_completion')
    .on('deliveries')
    .columns(['status', 'completed_at'])
    .execute();
  await db.schema
    .createIndex('attempts_by_start')
    .on('delivery_attempts')
    .column('started_at')
    .execute();
  // An ordered webhook's head: its oldest delivery still pending or in flight.
  await db.schema
    .createIndex('deliveries_webhook_open')
    .on('deliveries')
    .columns(['webhook_id', 'status', 'id'])
    .execute();
  await db.schema.createIndex('events_by_age').on('events').column('created_at').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('events_by_age').ifExists().execute();
  await db.schema.dropIndex('deliveries_webhook_open').ifExists().execute();
  await db.schema.dropIndex('attempts_by_start').ifExists().execute();
  await db.schema.dropIndex('deliveries_by_completion').ifExists().execute();
  await db.schema.dropTable('idempotency_keys').ifExists().execute();
  await db.schema.dropTable('event_types').ifExists().execute();
  await db.schema.alterTable('api_tokens').dropColumn('name').execute();
  await db.schema.alterTable('api_tokens').dropColumn('scope').execute();
  for (const name of [
    'is_ordered',
    'previous_secret_expires_at',
    'previous_secret',
    'disabled_at',
    'disabled_reason',
    'failing_since',
    'rate_limit',
    'max_in_flight',
  ]) {
    await db.schema.alterTable('webhooks').dropColumn(name).execute();
  }
}
