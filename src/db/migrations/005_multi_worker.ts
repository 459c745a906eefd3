import type { Kysely } from 'kysely';

// Migrations use `any` because they describe the schema before the types in schema.ts exist.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // With several workers on one database, a worker whose lease expired must not overwrite
  // the state written by the worker that took the delivery over.
  await db.schema.alterTable('deliveries').addColumn('lease_owner', 'text').execute();

  // A claim takes each webhook's oldest due rows ordered by (next_attempt_at, id). With id
  // in the index, PostgreSQL and SQLite read just those rows in order instead of sorting the
  // webhook's whole backlog on every claim.
  await db.schema
    .createIndex('deliveries_claim_order')
    .on('deliveries')
    .columns(['webhook_id', 'status', 'next_attempt_at', 'id'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('deliveries_claim_order').execute();
  await db.schema.alterTable('deliveries').dropColumn('lease_owner').execute();
}
