import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/database.js';
import { PreparedQuery } from '../db/prepared.js';
import type { Role, TokenScope, UserRow } from '../db/schema.js';
import { AppError, invalid, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { LoginThrottle } from './throttle.js';
import {
  hashPassword,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  verifyAgainstDummy,
  verifyPassword,
} from './passwords.js';

export const ROLES: readonly Role[] = ['Admin', 'Engineer', 'Approver'];

/** The authenticated caller of a request. */
export interface Principal {
  readonly id: string;
  readonly email: string;
  readonly role: Role;
  /** `publish` tokens may call only the publish route. */
  readonly scope: TokenScope;
}

export interface PublicUser {
  id: string;
  email: string;
  role: Role;
  is_active: boolean;
  created_at: string;
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  scope: TokenScope;
  created_by: string;
  created_at: string;
  expires_at: string;
}

export interface IssuedToken {
  token: string;
  expires_at: string;
}

/** A change of a user's role or active flag. */
export interface UserPatch {
  role?: Role;
  is_active?: boolean;
}

const TOKEN_PREFIX = 'wht_';
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$|^[^\s@]+@localhost$/;
const BAD_CREDENTIALS = 'The email or password is incorrect.';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function toPublicUser(row: UserRow): PublicUser {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    is_active: row.is_active === 1,
    created_at: new Date(row.created_at).toISOString(),
  };
}

/** Users, password checks and bearer tokens. Tokens are stored as SHA-256 hashes only. */
export class AuthService {
  constructor(
    private readonly db: Db,
    private readonly tokenTtlMs: number,
    private readonly throttle: LoginThrottle,
    private readonly now: () => number = Date.now,
  ) {}

  async createUser(input: { email: string; password: string; role: Role }): Promise<PublicUser> {
    const email = input.email.trim().toLowerCase();
    if (!EMAIL_PATTERN.test(email)) {
      throw invalid('email', `"${input.email}" is not an email address.`);
    }
    if (input.password.length < MIN_PASSWORD_LENGTH || input.password.length > MAX_PASSWORD_LENGTH) {
      throw invalid(
        'password',
        `must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long.`,
      );
    }

    const existing = await this.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
    if (existing) throw new AppError('conflict', `a user with email ${email} already exists.`, 'email');

    const row: UserRow = {
      id: newId('usr'),
      email,
      password_hash: await hashPassword(input.password),
      role: input.role,
      is_active: 1,
      created_at: this.now(),
    };
    await this.db.insertInto('users').values(row).execute();
    return toPublicUser(row);
  }

  async countUsers(): Promise<number> {
    const result = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    return Number(result.count);
  }

  /**
   * Checks an email and password through the login throttle and returns the active user.
   * Every failure has one message, and an unknown email costs as much time as a wrong
   * password, so callers cannot tell which accounts exist.
   */
  async verifyCredentials(email: string, password: string, address: string): Promise<Principal> {
    const attempt = await this.throttle.begin(email, address);
    try {
      if (attempt.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, attempt.delayMs));

      const user = await this.db
        .selectFrom('users')
        .selectAll()
        .where('email', '=', email.trim().toLowerCase())
        .executeTakeFirst();
      const passwordOk = user ? await verifyPassword(user.password_hash, password) : false;
      if (!user) await verifyAgainstDummy(password);
      if (!user || !passwordOk || user.is_active !== 1) {
        await attempt.failed();
        throw new AppError('unauthorized', BAD_CREDENTIALS);
      }

      await attempt.succeeded();
      return { id: user.id, email: user.email, role: user.role, scope: 'full' };
    } finally {
      await attempt.end();
    }
  }

  /** Checks the credentials and issues a bearer token. */
  async issueToken(email: string, password: string, address: string): Promise<IssuedToken> {
    const user = await this.verifyCredentials(email, password, address);
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const createdAt = this.now();
    const expiresAt = createdAt + this.tokenTtlMs;
    await this.db
      .insertInto('api_tokens')
      .values({
        id: newId('tok'),
        user_id: user.id,
        token_hash: hashToken(token),
        expires_at: expiresAt,
        created_at: createdAt,
      })
      .execute();
    return { token, expires_at: new Date(expiresAt).toISOString() };
  }

  /** Returns the active user that owns an unexpired token, or undefined. */
  async authenticate(token: string): Promise<Principal | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const { rows } = await TOKEN_OWNER.execute(this.db, hashToken(token), this.now());
    const row = rows[0];
    return row ? { id: row.id, email: row.email, role: row.role, scope: row.scope } : undefined;
  }

  /**
   * Issues a named, long-lived token for an application, e.g. a publish-only token for a
   * system that sends events. It acts for `userId` within its scope.
   */
  async createApiToken(
    userId: string,
    input: { name: string; scope: TokenScope; ttlMs: number },
  ): Promise<IssuedToken & { id: string; name: string; scope: TokenScope }> {
    const name = input.name.trim();
    if (name === '') throw invalid('name', 'name must not be empty; name the application that uses the token.');
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const id = newId('tok');
    const expiresAt = this.now() + input.ttlMs;
    await this.db
      .insertInto('api_tokens')
      .values({
        id,
        user_id: userId,
        token_hash: hashToken(token),
        scope: input.scope,
        name,
        expires_at: expiresAt,
        created_at: this.now(),
      })
      .execute();
    return { id, token, name, scope: input.scope, expires_at: new Date(expiresAt).toISOString() };
  }

  /** Lists the tokens made by createApiToken, newest first; never the tokens themselves. */
  async listApiTokens(): Promise<ApiTokenInfo[]> {
    const rows = await this.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select([
        'api_tokens.id',
        'api_tokens.name',
        'api_tokens.scope',
        'api_tokens.expires_at',
        'api_tokens.created_at',
        'users.email',
      ])
      .where('api_tokens.name', 'is not', null)
      .orderBy('api_tokens.id', 'desc')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      name: row.name as string,
      scope: row.scope,
      created_by: row.email,
      created_at: new Date(row.created_at).toISOString(),
      expires_at: new Date(row.expires_at).toISOString(),
    }));
  }

  /** Deletes a token made by createApiToken; returns whether it existed. */
  async revokeApiToken(id: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('api_tokens')
      .where('id', '=', id)
      .where('name', 'is not', null)
      .executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  /**
   * Changes a user's role or active flag. Deactivating a user also ends their sessions and
   * tokens. A change that would leave no active Admin is rejected inside the transaction.
   */
  async updateUser(id: string, patch: UserPatch): Promise<PublicUser> {
    return this.db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('users')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      if (!current) throw notFound('user', id);

      const changes: Partial<UserRow> = {};
      if (patch.role !== undefined) changes.role = patch.role;
      if (patch.is_active !== undefined) changes.is_active = patch.is_active ? 1 : 0;
      if (Object.keys(changes).length === 0) return toPublicUser(current);
      // Lock every active Admin row before the change, so two requests that each demote or
      // deactivate a different Admin run one after the other and the second sees the first.
      // The no-op UPDATE takes row locks on PostgreSQL; SQLite serialises writers anyway.
      await trx
        .updateTable('users')
        .set((eb) => ({ role: eb.ref('role') }))
        .where('role', '=', 'Admin')
        .where('is_active', '=', 1)
        .execute();
      await trx.updateTable('users').set(changes).where('id', '=', id).execute();

      const admins = await trx
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('role', '=', 'Admin')
        .where('is_active', '=', 1)
        .executeTakeFirstOrThrow();
      if (Number(admins.count) === 0) {
        throw new AppError(
          'conflict',
          `${current.email} is the last active Admin; make another user Admin first.`,
          patch.role !== undefined && patch.role !== 'Admin' ? 'role' : 'is_active',
        );
      }

      if (changes.is_active === 0) {
        await trx.deleteFrom('sessions').where('user_id', '=', id).execute();
        await trx.deleteFrom('api_tokens').where('user_id', '=', id).execute();
      }
      return toPublicUser({ ...current, ...changes });
    });
  }

  async listUsers(): Promise<PublicUser[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('id').execute();
    return rows.map(toPublicUser);
  }

  /** Creates the first Admin when the database has no users yet and returns it, or returns undefined when users exist. */
  async ensureFirstAdmin(admin: { email: string; password: string }): Promise<PublicUser | undefined> {
    if ((await this.countUsers()) > 0) return undefined;
    return this.createUser({ email: admin.email, password: admin.password, role: 'Admin' });
  }

  /** Deletes expired tokens; returns how many. */
  async pruneExpiredTokens(): Promise<number> {
    const result = await this.db
      .deleteFrom('api_tokens')
      .where('expires_at', '<=', this.now())
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/** The active user that owns a token, by the token's hash, while the token is unexpired. */
const TOKEN_OWNER = new PreparedQuery<[tokenHash: string, now: number], Principal>(
  2,
  (db, tokenHash, now) =>
    db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select(['users.id', 'users.email', 'users.role', 'api_tokens.scope'])
      .where('api_tokens.token_hash', '=', tokenHash)
      .where('api_tokens.expires_at', '>', now)
      .where('users.is_active', '=', 1),
);
