import { randomBytes } from 'node:crypto';
import type { Db } from '../db/database.js';
import { hashToken, type Principal } from './service.js';

/** A valid browser session with its user, as the guard uses it. */
export interface ActiveSession {
  readonly id: string;
  readonly principal: Principal;
  readonly csrfToken: string;
  readonly expiresAt: number;
}

export interface StartedSession {
  /** The cookie value; only its SHA-256 hash is stored. */
  readonly token: string;
  readonly csrfToken: string;
  readonly expiresAt: number;
}

/** Browser sessions: random cookie values stored as hashes, each with its own CSRF token. */
export class SessionService {
  constructor(
    private readonly db: Db,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Starts a new session for the user and ends the one the browser held before, if any, so
   * that a session id planted before sign-in never becomes authenticated.
   */
  async start(userId: string, previousToken: string | undefined): Promise<StartedSession> {
    if (previousToken !== undefined) await this.end(previousToken);
    await this.pruneExpired();
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const createdAt = this.now();
    const expiresAt = createdAt + this.ttlMs;
    await this.db
      .insertInto('sessions')
      .values({
        id: hashToken(token),
        user_id: userId,
        csrf_token: csrfToken,
        created_at: createdAt,
        expires_at: expiresAt,
      })
      .execute();
    return { token, csrfToken, expiresAt };
  }

  /** Returns the unexpired session of an active user for a cookie value, or undefined. */
  async find(token: string): Promise<ActiveSession | undefined> {
    if (token === '' || token.length > 200) return undefined;
    const row = await this.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select([
        'sessions.id as session_id',
        'sessions.csrf_token',
        'sessions.expires_at',
        'users.id',
        'users.email',
        'users.role',
      ])
      .where('sessions.id', '=', hashToken(token))
      .where('sessions.expires_at', '>', this.now())
      .where('users.is_active', '=', 1)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.session_id,
      principal: { id: row.id, email: row.email, role: row.role, scope: 'full' },
      csrfToken: row.csrf_token,
      expiresAt: Number(row.expires_at),
    };
  }

  async end(token: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id', '=', hashToken(token)).execute();
  }

  /** Deletes expired sessions; returns how many. */
  async pruneExpired(): Promise<number> {
    const result = await this.db
      .deleteFrom('sessions')
      .where('expires_at', '<=', this.now())
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
