import type { Kysely } from 'kysely';

// Migrations use `any` because they describe the schema before the types in schema.ts exist.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // With several workers on one database, a worker whose lease expired must not overwrite
  // the state written by the worker that took the delivery over.
  await db.schema.alterTable('deliveries').addColumn('lease_owner', 'text').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('deliveries').dropColumn('lease_owner').execute();
}
