import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type SqliteDatabase,
} from 'kysely';
import type { Database as SqliteConnection } from 'better-sqlite3';

/** Maximum transactions per shared commit, which bounds how long the group's first member waits. */
const MAX_GROUP_SIZE = 64;
/** The savepoint each member runs under inside the group's transaction. */
const MEMBER_SAVEPOINT = 'group_member';

/**
 * Kysely's SQLite dialect with group commit.
 *
 * better-sqlite3 has one connection, so Kysely runs one transaction at a time. With the
 * stock driver each transaction pays for its own COMMIT, which took about half of the
 * service's time in SQLite under benchmark load. Here the transactions of one turn of the event
 * loop share a COMMIT: the first opens a real transaction, each runs inside it under a
 * savepoint, and one COMMIT at the end of the turn covers them all.
 *
 * Callers keep the guarantees of the stock driver. No member gets its result before the
 * commit that makes it durable, a rolled-back member undoes only its own savepoint, and a
 * failed commit fails every member. A lone transaction commits one turn later than before.
 */
export class GroupCommitSqliteDialect implements Dialect {
  /** `beforeClose` runs when Kysely is destroyed, before the connection closes. */
  constructor(
    private readonly database: SqliteDatabase & { readonly native: SqliteConnection },
    private readonly beforeClose?: () => Promise<void>,
  ) {}

  createDriver(): Driver {
    return new GroupCommitDriver(this.database, this.beforeClose);
  }

  createQueryCompiler() {
    return new SqliteQueryCompiler();
  }

  createAdapter() {
    return new SqliteAdapter();
  }

  createIntrospector(db: Kysely<unknown>) {
    return new SqliteIntrospector(db);
  }
}

interface Group {
  members: number;
  /** True once a commit is scheduled for the end of the event loop's turn. */
  scheduled: boolean;
  /** True when the scheduled commit found the connection in use, so its holder commits at its end. */
  commitDue: boolean;
  readonly committed: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** A holder's use of the shared connection, from acquire to release. */
class Lease implements DatabaseConnection {
  finished = false;
  inTransaction = false;
  /** True once it ran a statement inside the group, so its result waits for the group's commit. */
  joined = false;

  constructor(private readonly driver: GroupCommitDriver) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return Promise.resolve(this.driver.run<R>(query, this));
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported by the group-commit SQLite driver; use execute()');
  }
}

class GroupCommitDriver implements Driver {
  readonly #queue: Array<() => void> = [];
  #locked = false;
  #group: Group | undefined;

  constructor(
    private readonly database: SqliteDatabase & { readonly native: SqliteConnection },
    private readonly beforeClose?: () => Promise<void>,
  ) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#locked) await new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#locked = true;
    return new Lease(this);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const lease = connection as Lease;
    lease.inTransaction = true;
    this.run(CompiledQuery.raw(`savepoint ${MEMBER_SAVEPOINT}`), lease);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const lease = connection as Lease;
    this.run(CompiledQuery.raw(`release ${MEMBER_SAVEPOINT}`), lease);
    await this.#finish(lease);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const lease = connection as Lease;
    // Kysely rolls back when the commit fails, but by then the lease has ended and the
    // connection may belong to another holder.
    if (lease.finished) return;
    if (this.#group && this.database.native.inTransaction) {
      this.run(CompiledQuery.raw(`rollback to ${MEMBER_SAVEPOINT}`), lease);
      this.run(CompiledQuery.raw(`release ${MEMBER_SAVEPOINT}`), lease);
    }
    // This member's writes are gone, so the outcome of the others' commit does not concern it.
    await this.#finish(lease).catch(() => undefined);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const lease = connection as Lease;
    if (!lease.finished) await this.#finish(lease);
  }

  async destroy(): Promise<void> {
    // Members waiting for the end of the turn get their commit before the connection goes.
    const group = this.#group;
    if (group && !this.#locked) {
      try {
        this.#commit(group);
      } catch {
        // The members saw the error through the group's promise.
      }
    }
    try {
      await this.beforeClose?.();
    } finally {
      this.database.close();
    }
  }

  /**
   * Runs one statement on the shared connection. Writes and transactions join the open group
   * or open one. A read outside any group returns at once, but a read inside a group may see
   * uncommitted rows, so it waits for the group's commit.
   */
  run<R>(query: CompiledQuery, lease: Lease): QueryResult<R> {
    try {
      const statement = this.database.prepare(query.sql);
      if (!this.#group && (lease.inTransaction || !statement.reader)) this.#open();
      if (this.#group) lease.joined = true;
      const parameters = query.parameters as unknown[];
      if (statement.reader) return { rows: statement.all(parameters) as R[] };
      const { changes, lastInsertRowid } = statement.run(parameters);
      return {
        numAffectedRows: changes === undefined || changes === null ? undefined : BigInt(changes),
        insertId: lastInsertRowid === undefined || lastInsertRowid === null ? undefined : BigInt(lastInsertRowid),
        rows: [],
      };
    } catch (error) {
      // Some errors (disk full, I/O) roll back the whole transaction, not just the statement.
      if (this.#group && !this.database.native.inTransaction) this.#fail(error);
      throw error;
    }
  }

  #open(): void {
    // IMMEDIATE takes the write lock at once, so a write later in the group never meets
    // SQLITE_BUSY from another process that wrote since this transaction's first read.
    this.database.prepare('begin immediate').run([]);
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const committed = new Promise<void>((onCommit, onFailure) => {
      resolve = onCommit;
      reject = onFailure;
    });
    // Rolled-back members do not wait for the commit, so a failure may have no observer.
    committed.catch(() => undefined);
    this.#group = { members: 0, scheduled: false, commitDue: false, committed, resolve, reject };
  }

  /**
   * Ends a lease. The group commits at the end of the current turn of the event loop, so the
   * requests that arrived together share it, or at once when it is full. A member never
   * gets its result before that commit.
   */
  async #finish(lease: Lease): Promise<void> {
    if (lease.finished) return;
    lease.finished = true;
    const group = this.#group;
    if (group && lease.joined) group.members += 1;

    // A due commit is made by whoever ends a lease next, even one that failed before it
    // joined (a statement that did not prepare), so the waiting members are not stranded.
    if (group && (group.commitDue || group.members >= MAX_GROUP_SIZE)) {
      try {
        this.#commit(group);
      } catch (error) {
        if (lease.joined) throw error;
      } finally {
        this.#unlock();
      }
      return;
    }

    this.#unlock();
    if (!group || !lease.joined) return;
    if (!group.scheduled) {
      group.scheduled = true;
      setImmediate(() => this.#commitWhenFree(group));
    }
    await group.committed;
  }

  /** Commits the group now, or lets the lease holding the connection commit it when it ends. */
  #commitWhenFree(group: Group): void {
    if (this.#group !== group) return;
    if (this.#locked) {
      group.commitDue = true;
      return;
    }
    try {
      this.#commit(group);
    } catch {
      // Every member saw the error through the group's promise.
    }
  }

  #commit(group: Group): void {
    this.#group = undefined;
    try {
      this.database.prepare('commit').run([]);
    } catch (error) {
      if (this.database.native.inTransaction) this.database.prepare('rollback').run([]);
      group.reject(error);
      throw error;
    }
    group.resolve();
  }

  #fail(error: unknown): void {
    const group = this.#group;
    this.#group = undefined;
    group?.reject(error);
  }

  #unlock(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#locked = false;
  }
}
