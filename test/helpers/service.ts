import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { buildService, type Service, type ServiceOptions } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { ApiClient } from './api.js';
import { createTestDatabase } from './database.js';

export const ADMIN_EMAIL = 'admin@example.test';
export const ADMIN_PASSWORD = 'admin-password-for-tests';

/** Loopback addresses the tests use: receivers live on RECEIVER_HOST, which the service allows. */
export const RECEIVER_HOST = '127.0.0.2';
export const ALLOWED_CIDR = '127.0.0.2/32';

export interface TestService {
  readonly service: Service;
  readonly url: string;
  readonly dir: string;
  readonly logFile: string;
  /** The DATABASE_URL the service uses. */
  readonly databaseUrl: string;
  /** A client signed in as the first Admin. */
  readonly admin: ApiClient;
  /** Creates a user with the role and returns the credentials. */
  createUser(
    role: 'Admin' | 'Engineer' | 'Approver',
    email?: string,
  ): Promise<{ email: string; password: string }>;
  /** Creates a user with the role and returns a client signed in as that user. */
  userClient(role: 'Admin' | 'Engineer' | 'Approver', email?: string): Promise<ApiClient>;
  close(): Promise<void>;
}

export function tempDir(prefix = 'webhooks-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Environment for a service on a fresh SQLite file that may reach only RECEIVER_HOST. */
export function testEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: path.join(dir, 'test.db'),
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    WEBHOOK_ALLOWED_CIDRS: ALLOWED_CIDR,
    WEBHOOK_TIMEOUT: '2s',
    WEBHOOK_RETRY_SCHEDULE: '0,200ms,200ms',
    LOG_LEVEL: 'debug',
    ...extra,
  };
}

/**
 * Starts the whole service in this process on a fresh database (a temporary SQLite file, or
 * a new PostgreSQL database with TEST_DATABASE=postgres), listening on a free port of
 * 127.0.0.1. Logs go to a file in the temporary folder so a failing test can show them.
 * A DATABASE_URL in `extraEnv` shares that database instead, and close() leaves it in place.
 */
export async function startService(
  extraEnv: Record<string, string> = {},
  options: Pick<ServiceOptions, 'lookup'> = {},
): Promise<TestService> {
  const dir = tempDir();
  const database = extraEnv.DATABASE_URL
    ? { url: extraEnv.DATABASE_URL, drop: async () => undefined }
    : await createTestDatabase(dir);
  const config = loadConfig(testEnv(dir, { DATABASE_URL: database.url, ...extraEnv }));
  const logFile = path.join(dir, 'service.log');
  // Synchronous writes, so a test that reads the file sees every line logged before it.
  const logger = createLogger(config.logLevel, pino.destination({ dest: logFile, sync: true }));
  const service = await buildService(config, { ...options, logger });
  const url = await service.start();
  // A worker serves no API, so its client stays signed out.
  const admin =
    config.role === 'worker'
      ? new ApiClient(url, undefined)
      : await ApiClient.signIn(url, ADMIN_EMAIL, ADMIN_PASSWORD);

  let users = 0;
  const createUser: TestService['createUser'] = async (role, email) => {
    users += 1;
    const address = email ?? `${role.toLowerCase()}${users}@example.test`;
    const password = `${role}-password-${users}-long`;
    const created = await admin.post('/api/v1/users', { email: address, password, role });
    if (created.status !== 201) {
      throw new Error(`creating user failed: ${JSON.stringify(created.body)}`);
    }
    return { email: address, password };
  };
  return {
    service,
    url,
    dir,
    logFile,
    databaseUrl: database.url,
    admin,
    createUser,
    async userClient(role, email) {
      const credentials = await createUser(role, email);
      return ApiClient.signIn(url, credentials.email, credentials.password);
    },
    async close() {
      await service.close(0);
      await database.drop();
    },
  };
}
