import type { Kysely } from 'kysely';

// Migrations use `any` because they describe the schema before the types in schema.ts exist.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // 0 records a redirect as the attempt's outcome; 1 follows up to three, each one checked.
  await db.schema
    .alterTable('webhooks')
    .addColumn('follow_redirects', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('webhooks').dropColumn('follow_redirects').execute();
}
