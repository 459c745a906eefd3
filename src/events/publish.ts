import { createHash } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Db } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { AppError, invalid } from '../errors.js';
import type { EventTypeRegistry } from './registry.js';
import type { Handoff } from '../delivery/handoff.js';
import { inTransactionWithHandoff, recordEvent } from './service.js';

const MAX_KEY_LENGTH = 255;

export interface PublishInput {
  readonly type: string;
  readonly data: unknown;
  readonly idempotencyKey: string | undefined;
  /** The user behind the token; idempotency keys are scoped to it. */
  readonly owner: string;
  readonly requestId: string | null;
}

export interface PublishResult {
  id: string;
  type: string;
  deliveries: number;
  /** False when an earlier publish with the same Idempotency-Key created the event. */
  created: boolean;
}

interface Recorded extends PublishResult {
  /** Deliveries written as pending, which a worker must claim. */
  readonly queued: number;
}

export interface PublishOptions {
  readonly maxPayloadBytes: number;
  readonly firstDelayMs: number;
  readonly onDeliveriesCreated: () => void;
  /** Opens a handoff to this process's worker, when it runs one. */
  readonly openHandoff?: (() => Handoff) | undefined;
  readonly now?: () => number;
}

/**
 * Publishes events of custom types for other applications. The payload is validated
 * against the type's schema, and an Idempotency-Key makes a retried publish return the
 * event the first request created instead of creating another.
 */
export class PublishService {
  readonly #now: () => number;

  constructor(
    private readonly db: Db,
    private readonly registry: EventTypeRegistry,
    private readonly options: PublishOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  async publish(input: PublishInput): Promise<PublishResult> {
    const size = Buffer.byteLength(JSON.stringify(input.data ?? null));
    if (size > this.options.maxPayloadBytes) {
      throw new AppError(
        'payload_too_large',
        `data is ${size} bytes of JSON; the maximum is ${this.options.maxPayloadBytes} bytes (EVENT_MAX_PAYLOAD_BYTES).`,
        'data',
      );
    }
    await this.registry.validateData(input.type, input.data);
    const key = checkKey(input.idempotencyKey);
    const requestHash = createHash('sha256').update(JSON.stringify([input.type, input.data])).digest('hex');

    let result: Recorded;
    try {
      result = await this.#record(input, key, requestHash);
    } catch (error) {
      // Two publishes with one new key raced and the other committed first, so replay its event.
      if (key === undefined || !isUniqueViolation(error)) throw error;
      result = await this.#record(input, key, requestHash);
    }

    if (result.queued > 0) this.options.onDeliveriesCreated();
    return { id: result.id, type: result.type, deliveries: result.deliveries, created: result.created };
  }

  /** Inserts the event and its key, or returns the event an earlier publish with the key created. */
  async #record(input: PublishInput, key: string | undefined, requestHash: string): Promise<Recorded> {
    return inTransactionWithHandoff(this.db, this.options.openHandoff, async (trx, handoff) => {
      if (key !== undefined) {
        const earlier = await trx
          .selectFrom('idempotency_keys')
          .selectAll()
          .where('owner', '=', input.owner)
          .where('key', '=', key)
          .executeTakeFirst();
        if (earlier) return replay(trx, earlier, requestHash);
      }

      const now = this.#now();
      const event = await recordEvent(trx, {
        type: input.type,
        body: { data: input.data },
        requestId: input.requestId,
        now,
        firstDelayMs: this.options.firstDelayMs,
        handoff,
      });
      if (key !== undefined) {
        await trx
          .insertInto('idempotency_keys')
          .values({ owner: input.owner, key, request_hash: requestHash, event_id: event.id, created_at: now })
          .execute();
      }
      return { id: event.id, type: event.type, deliveries: event.deliveryCount, created: true, queued: event.queuedCount };
    });
  }
}

/** SQLite reports SQLITE_CONSTRAINT_PRIMARYKEY, PostgreSQL SQLSTATE 23505. */
function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}

function checkKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (key === '' || key.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    throw invalid(
      'Idempotency-Key',
      `the Idempotency-Key header must be 1 to ${MAX_KEY_LENGTH} visible ASCII characters, e.g. a UUID.`,
    );
  }
  return key;
}

async function replay(
  trx: Transaction<Database>,
  earlier: { request_hash: string; event_id: string },
  requestHash: string,
): Promise<Recorded> {
  if (earlier.request_hash !== requestHash) {
    throw new AppError(
      'conflict',
      'This Idempotency-Key was used for a different event; use a new key for a new event.',
      'Idempotency-Key',
    );
  }
  const event = await trx
    .selectFrom('events')
    .select(['id', 'type'])
    .where('id', '=', earlier.event_id)
    .executeTakeFirst();
  const deliveries = await trx
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('event_id', '=', earlier.event_id)
    .where('status', '!=', 'skipped')
    .executeTakeFirstOrThrow();
  return {
    id: earlier.event_id,
    type: event?.type ?? 'unknown',
    deliveries: Number(deliveries.count),
    created: false,
    queued: 0,
  };
}
