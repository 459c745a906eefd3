import type { ValidateFunction } from 'ajv';
import { Ajv } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import type { Db } from '../db/database.js';
import { AppError, invalid } from '../errors.js';
import { BUILT_IN_EVENT_TYPES, EVENT_CATALOG, type EventTypeInfo } from './catalog.js';

type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsPlugin as unknown as { default?: AddFormats }).default ??
  addFormatsPlugin) as unknown as AddFormats;

const NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
const MAX_NAME_LENGTH = 100;
const MAX_SCHEMA_BYTES = 64 * 1024;

export interface EventTypeInput {
  name: string;
  description: string;
  schema: Record<string, unknown>;
  example: unknown;
}

export interface CatalogEntry {
  name: string;
  description: string;
  /** JSON Schema of the whole payload that receivers get. */
  schema: unknown;
  example: unknown;
  custom: boolean;
}

/**
 * The event catalog: the built-in types plus custom types that Admins register with a JSON
 * Schema of the event's `data` object. Published payloads are validated against it.
 */
export class EventTypeRegistry {
  readonly #ajv: Ajv;
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.#ajv = new Ajv({ allErrors: false, strict: false });
    addFormats(this.#ajv);
  }

  async list(): Promise<CatalogEntry[]> {
    const rows = await this.db.selectFrom('event_types').selectAll().orderBy('name').execute();
    const builtIn = EVENT_CATALOG.map((entry) => builtInEntry(entry));
    const custom = rows.map((row) =>
      customEntry(row.name, row.description, JSON.parse(row.schema), JSON.parse(row.example)),
    );
    return [...builtIn, ...custom];
  }

  /** Returns the names among `names` that are neither built in nor registered. */
  async unknownNames(names: readonly string[]): Promise<string[]> {
    const custom = names.filter((name) => !BUILT_IN_EVENT_TYPES.includes(name));
    if (custom.length === 0) return [];
    const rows = await this.db.selectFrom('event_types').select('name').where('name', 'in', custom).execute();
    const known = new Set(rows.map((row) => row.name));
    return custom.filter((name) => !known.has(name));
  }

  /** The example payload of a type, for the test call. */
  async example(name: string): Promise<Record<string, unknown> | undefined> {
    const entry = (await this.list()).find((candidate) => candidate.name === name);
    return entry?.example as Record<string, unknown> | undefined;
  }

  async register(input: EventTypeInput, createdBy: string): Promise<CatalogEntry> {
    checkName(input.name);
    const validate = this.#compile(input.schema);
    if (!validate(input.example)) {
      throw invalid('example', `example does not match the schema: ${describe(validate)}.`);
    }
    const existing = await this.db
      .selectFrom('event_types')
      .select('name')
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (existing) throw new AppError('conflict', `event type ${input.name} already exists.`, 'name');

    await this.db
      .insertInto('event_types')
      .values({
        name: input.name,
        description: input.description,
        schema: JSON.stringify(input.schema),
        example: JSON.stringify(input.example),
        created_by: createdBy,
        created_at: this.now(),
      })
      .execute();
    this.#validators.set(input.name, validate);
    return customEntry(input.name, input.description, input.schema, input.example);
  }

  /** Checks a published `data` object against its type's schema; throws a 400 naming the fault. */
  async validateData(name: string, data: unknown): Promise<void> {
    if (BUILT_IN_EVENT_TYPES.includes(name)) {
      throw invalid('type', `${name} is emitted by the service itself and cannot be published.`);
    }
    let validate = this.#validators.get(name);
    if (!validate) {
      const row = await this.db
        .selectFrom('event_types')
        .select('schema')
        .where('name', '=', name)
        .executeTakeFirst();
      if (!row) {
        throw invalid('type', `${name} is not a registered event type; see GET /api/v1/event-types.`);
      }
      validate = this.#ajv.compile(JSON.parse(row.schema) as object);
      this.#validators.set(name, validate);
    }
    if (!validate(data)) throw invalid('data', `data does not match the schema of ${name}: ${describe(validate)}.`);
  }

  #compile(schema: Record<string, unknown>): ValidateFunction {
    if (JSON.stringify(schema).length > MAX_SCHEMA_BYTES) {
      throw invalid('schema', `the schema is larger than ${MAX_SCHEMA_BYTES} bytes; simplify it.`);
    }
    try {
      return this.#ajv.compile(schema);
    } catch (error) {
      throw invalid('schema', `the schema is not a valid JSON Schema: ${(error as Error).message}.`);
    }
  }
}

function checkName(name: string): void {
  if (name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
    throw invalid(
      'name',
      `"${name}" is not a valid event type name; use lowercase words of letters, digits and _ ` +
        `separated by dots, e.g. invoice.paid (at most ${MAX_NAME_LENGTH} characters).`,
    );
  }
  if (BUILT_IN_EVENT_TYPES.includes(name)) {
    throw new AppError('conflict', `${name} is a built-in event type; choose another name.`, 'name');
  }
}

function describe(validate: ValidateFunction): string {
  const error = validate.errors?.[0];
  if (!error) return 'invalid';
  return `${error.instancePath || '(root)'} ${error.message ?? 'is invalid'}`;
}

function builtInEntry(entry: EventTypeInfo): CatalogEntry {
  return {
    name: entry.name,
    description: entry.description,
    schema: JSON.parse(JSON.stringify(entry.schema)) as unknown,
    example: entry.example,
    custom: false,
  };
}

/** Wraps a custom type's `data` schema and example in the envelope every event has. */
function customEntry(name: string, description: string, schema: unknown, example: unknown): CatalogEntry {
  return {
    name,
    description,
    schema: {
      type: 'object',
      required: ['id', 'event', 'timestamp', 'data'],
      properties: {
        id: { type: 'string', description: 'Event id; also sent as the webhook-id header.' },
        event: { const: name },
        timestamp: { type: 'string', format: 'date-time' },
        data: schema,
      },
    },
    example: { id: 'evt_01JEXAMPLE0000000000000000', event: name, timestamp: '2026-01-15T09:30:00.000Z', data: example },
    custom: true,
  };
}
