import { createQueryId, type Compilable, type CompiledQuery, type Kysely, type QueryResult } from 'kysely';
import type { Database } from './schema.js';

/** Marks where a run-time value goes in a query built once. */
class Slot {
  constructor(readonly index: number) {}
}

interface Template {
  readonly query: CompiledQuery;
  /** For each parameter of the compiled query: the index of the value it takes, or -1. */
  readonly sources: readonly number[];
  /** True when the parameters are the values in order, so the driver gets the values array itself. */
  readonly direct: boolean;
}

/**
 * A query of fixed shape that is built and compiled once per database, then run with new
 * values. In a CPU profile of the service under load, Kysely's query building and compiling
 * took about a tenth of the time, mostly for statements that run once per event or per
 * attempt, so those statements are prepared this way.
 *
 * `build` receives one placeholder per value, in order, and must put each where a value
 * goes (a comparison, a value to insert or set). Constants written into the query stay as
 * they are. The placeholders are typed `never` so they fit any column.
 */
export class PreparedQuery<Values extends readonly unknown[], Row> {
  // Keyed by the dialect adapter, which a database and its transactions share: one
  // compiled text per dialect.
  readonly #templates = new WeakMap<object, Template>();

  constructor(
    private readonly arity: Values['length'],
    private readonly build: (db: Kysely<Database>, ...slots: never[]) => Compilable<Row>,
  ) {}

  execute(db: Kysely<Database>, ...values: Values): Promise<QueryResult<Row>> {
    return this.executeValues(db, values);
  }

  /** Runs the query with its values in one array, as a caller that builds them in a loop has them. */
  async executeValues(db: Kysely<Database>, values: readonly unknown[]): Promise<QueryResult<Row>> {
    const template = this.#template(db);
    const parameters = template.direct
      ? values
      : template.sources.map((source, at) => (source === -1 ? template.query.parameters[at] : values[source]));
    return db.executeQuery<Row>({
      query: template.query.query,
      queryId: createQueryId(),
      sql: template.query.sql,
      parameters,
    });
  }

  #template(db: Kysely<Database>): Template {
    const key = db.getExecutor().adapter;
    const known = this.#templates.get(key);
    if (known) return known;

    const slots = Array.from({ length: this.arity }, (_, index) => new Slot(index));
    const query = this.build(db, ...(slots as never[])).compile();
    const sources = query.parameters.map((parameter) => (parameter instanceof Slot ? parameter.index : -1));
    const used = new Set(sources.filter((source) => source !== -1));
    if (used.size !== this.arity) {
      throw new Error(
        `a prepared query used ${used.size} of its ${this.arity} values; pass each placeholder into the query once or more: ${query.sql}`,
      );
    }
    const direct = sources.length === this.arity && sources.every((source, at) => source === at);
    const template = { query, sources, direct };
    this.#templates.set(key, template);
    return template;
  }
}

/**
 * A statement over a list of rows of `width` values each, plus `leading` values that every
 * chunk gets (such as a lease owner). It runs one statement per `maxRows` rows and builds
 * and compiles the statement once for each row count. `build` receives the placeholders of
 * the leading values and one list of placeholders per row.
 */
export class PreparedRows<Row> {
  readonly #byRowCount = new Map<number, PreparedQuery<unknown[], Row>>();

  constructor(
    private readonly leading: number,
    private readonly width: number,
    private readonly maxRows: number,
    private readonly build: (
      db: Kysely<Database>,
      leadingSlots: never[],
      rowSlots: never[][],
    ) => Compilable<Row>,
  ) {}

  /** Runs the statement for `rows`, each a list of `width` values, and returns every chunk's rows. */
  async execute(db: Kysely<Database>, leadingValues: readonly unknown[], rows: readonly (readonly unknown[])[]): Promise<Row[]> {
    const returned: Row[] = [];
    for (let start = 0; start < rows.length; start += this.maxRows) {
      const end = Math.min(rows.length, start + this.maxRows);
      const values: unknown[] = [...leadingValues];
      for (let row = start; row < end; row++) {
        for (const value of rows[row] as readonly unknown[]) values.push(value);
      }
      const result = await this.#query(end - start).executeValues(db, values);
      for (const row of result.rows) returned.push(row);
    }
    return returned;
  }

  #query(rowCount: number): PreparedQuery<unknown[], Row> {
    const known = this.#byRowCount.get(rowCount);
    if (known) return known;

    const query = new PreparedQuery<unknown[], Row>(this.leading + rowCount * this.width, (db, ...slots) => {
      const leadingSlots = slots.slice(0, this.leading);
      const rowSlots = Array.from({ length: rowCount }, (_, row) => {
        const from = this.leading + row * this.width;
        return slots.slice(from, from + this.width);
      });
      return this.build(db, leadingSlots, rowSlots);
    });
    this.#byRowCount.set(rowCount, query);
    return query;
  }
}

/**
 * An insert of rows with fixed columns into one table, one statement for up to `maxRows`
 * rows. `constants` are columns that every row gets with the same value.
 */
export class PreparedInsert {
  readonly #rows: PreparedRows<never>;

  constructor(
    table: keyof Database,
    columns: readonly string[],
    maxRows: number,
    constants: Readonly<Record<string, unknown>> = {},
  ) {
    this.#rows = new PreparedRows<never>(0, columns.length, maxRows, (db, _leading, rowSlots) => {
      const rows = rowSlots.map((slots) => ({
        ...constants,
        ...Object.fromEntries(columns.map((column, at) => [column, slots[at]])),
      }));
      return db.insertInto(table).values(rows as never);
    });
  }

  /** Inserts `rows`, each a list of values in the order of `columns`. */
  async execute(db: Kysely<Database>, rows: readonly (readonly unknown[])[]): Promise<void> {
    await this.#rows.execute(db, [], rows);
  }
}
