import type { Db } from '../db/database.js';
import type { WebhookRow } from '../db/schema.js';
import type { SendTarget } from './sender.js';
import { secretKey } from './signature.js';

/** A webhook as the worker sends to it: where, how signed, and its limits. */
export interface EndpointTarget extends SendTarget {
  /** Attempts in flight at once; null takes the worker's default. */
  readonly maxInFlight: number | null;
  /** Requests per second; null means unlimited. */
  readonly rateLimit: number | null;
  readonly ordered: boolean;
}

/** Builds the signing target of a webhook; the previous secret signs until its overlap ends. */
export function sendTargetOf(row: WebhookRow, now: number): SendTarget {
  const overlapping =
    row.previous_secret !== null &&
    row.previous_secret_expires_at !== null &&
    row.previous_secret_expires_at > now;
  return {
    id: row.id,
    url: row.url,
    headers: JSON.parse(row.headers) as Record<string, string>,
    key: secretKey(row.secret),
    followRedirects: row.follow_redirects === 1,
    ...(overlapping ? { previousKey: secretKey(row.previous_secret as string) } : {}),
  };
}

/** Loads every active webhook as a send target, keyed by id. */
export async function loadEndpointTargets(db: Db, now: number): Promise<Map<string, EndpointTarget>> {
  const rows = await db
    .selectFrom('webhooks')
    .selectAll()
    .where('is_active', '=', 1)
    .orderBy('id')
    .execute();
  return new Map(
    rows.map((row) => [
      row.id,
      {
        ...sendTargetOf(row, now),
        maxInFlight: row.max_in_flight,
        rateLimit: row.rate_limit,
        ordered: row.is_ordered === 1,
      },
    ]),
  );
}
