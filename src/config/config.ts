import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { formatDuration, parseDuration } from './duration.js';

export type DatabaseConfig =
  | {
      readonly dialect: 'sqlite';
      readonly file: string;
      /** NORMAL survives a process crash; FULL also survives a power loss, at a cost per commit. */
      readonly synchronous?: SqliteSynchronous;
    }
  | { readonly dialect: 'postgres'; readonly url: string; readonly poolSize: number };

/**
 * What one process does: `all` serves the API and sends deliveries, `api` serves the API
 * and only enqueues, `worker` sends deliveries and serves only health and metrics.
 */
export type ServiceRole = 'all' | 'api' | 'worker';

export type SqliteSynchronous = 'NORMAL' | 'FULL';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly database: DatabaseConfig;
  readonly role: ServiceRole;
  readonly admin: { readonly email: string; readonly password: string } | undefined;
  readonly logLevel: LogLevel;
  readonly tokenTtlMs: number;
  /** Lifetime of a browser session from sign-in; there is no sliding renewal. */
  readonly sessionTtlMs: number;
  /**
   * Origin that browsers use to reach the service, e.g. `https://hooks.example.com` behind a
   * TLS proxy; undefined means the origin of each request.
   */
  readonly publicOrigin: string | undefined;
  readonly login: {
    /** Failed sign-ins for one email or one address before it is locked out. */
    readonly maxFailures: number;
    readonly lockoutMs: number;
  };
  readonly approvalStages: number;
  /** Bounds on the API requests handled at once; see AdmissionGate. */
  readonly api: {
    readonly concurrency: number;
    readonly queueLimit: number;
  };
  readonly webhook: {
    readonly timeoutMs: number;
    /** Delay before each attempt: entry 0 precedes the first attempt. */
    readonly retryScheduleMs: readonly number[];
    readonly allowedCidrs: readonly string[];
    /** Ports a webhook URL may use; empty means every port. */
    readonly allowedPorts: readonly number[];
    readonly maxInFlight: number;
    readonly endpointConcurrency: number;
    /** Time a claimed delivery stays leased beyond the attempt timeout. */
    readonly leaseMarginMs: number;
    /** Maximum wait between checks for due deliveries when no notification arrives. */
    readonly pollIntervalMs: number;
    /** Share of each retry delay that is randomised, from 0 to 1. */
    readonly retryJitter: number;
    /** A webhook whose attempts have all failed for this long is deactivated. */
    readonly disableAfterMs: number;
    /** How long a replaced secret keeps signing requests next to the new one. */
    readonly secretOverlapMs: number;
    /** Deliveries per second that an endpoint recovery sends. */
    readonly recoveryRate: number;
    /** Largest published event payload, in bytes of JSON. */
    readonly maxPayloadBytes: number;
  };
  readonly retention: {
    /** Age after which attempts, succeeded and skipped deliveries are deleted. */
    readonly maxAgeMs: number;
    readonly intervalMs: number;
    /** Rows deleted per statement, so each write lock is short. */
    readonly batchSize: number;
  };
  readonly logFiles: LogFilesConfig | undefined;
  /** Bearer token that GET /metrics requires; undefined leaves the route open. */
  readonly metricsToken: string | undefined;
  /** How long shutdown waits for attempts in flight before leaving them for the next start. */
  readonly shutdownGraceMs: number;
}

/** Log files under `dir`: app.log with every line, error.log with error and fatal lines. */
export interface LogFilesConfig {
  readonly dir: string;
  /** A file is rotated when a write takes it past this size. */
  readonly maxSizeBytes: number;
  /** Rotated files kept besides the current one (app.log.1 … app.log.N). */
  readonly fileCount: number;
}

/** Raised for an environment variable that cannot be used; the message names it and the fix. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_RETRY_SCHEDULE = '0,5s,5m,30m,2h,5h,10h,10h';
export const DEFAULT_DATABASE_FILE = path.join('data', 'webhooks.db');
const MIN_ADMIN_PASSWORD_LENGTH = 12;
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const SERVICE_ROLES: readonly ServiceRole[] = ['all', 'api', 'worker'];
// Every duration setting has a ceiling: Node runs a timer set longer than about 24.8 days
// at once, and an expiry too far ahead cannot be written as a date.
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MAX_RETRY_DELAY_MS = 30 * DAY_MS;

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and validates the whole configuration once; the result is frozen. */
export function loadConfig(env: Env): Config {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };

  const config: Config = {
    port: readInteger(read('PORT'), 'PORT', 3000, 0, 65_535),
    host: read('HOST') ?? '127.0.0.1',
    database: withSynchronous(
      parseDatabaseUrl(
        read('DATABASE_URL'),
        readInteger(read('DATABASE_POOL_SIZE'), 'DATABASE_POOL_SIZE', 10, 1, 1_000),
      ),
      read('SQLITE_SYNCHRONOUS'),
    ),
    role: readRole(read('SERVICE_ROLE')),
    admin: readAdmin(read('ADMIN_EMAIL'), env.ADMIN_PASSWORD),
    logLevel: readLogLevel(read('LOG_LEVEL')),
    tokenTtlMs: readDuration(read('TOKEN_TTL'), 'TOKEN_TTL', '24h', 60_000, 365 * DAY_MS),
    sessionTtlMs: readDuration(read('SESSION_TTL'), 'SESSION_TTL', '12h', 1_000, 365 * DAY_MS),
    publicOrigin: readOrigin(read('PUBLIC_URL'), 'PUBLIC_URL'),
    login: {
      maxFailures: readInteger(read('LOGIN_MAX_FAILURES'), 'LOGIN_MAX_FAILURES', 10, 2, 1_000),
      lockoutMs: readDuration(read('LOGIN_LOCKOUT'), 'LOGIN_LOCKOUT', '15m', 1_000, 30 * DAY_MS),
    },
    approvalStages: readInteger(read('REPORT_APPROVAL_STAGES'), 'REPORT_APPROVAL_STAGES', 2, 1, 10),
    api: {
      concurrency: readInteger(read('API_CONCURRENCY'), 'API_CONCURRENCY', 32, 1, 10_000),
      queueLimit: readInteger(read('API_QUEUE_LIMIT'), 'API_QUEUE_LIMIT', 1_000, 0, 1_000_000),
    },
    webhook: {
      timeoutMs: readDuration(read('WEBHOOK_TIMEOUT'), 'WEBHOOK_TIMEOUT', '10s', 100, HOUR_MS),
      retryScheduleMs: readSchedule(read('WEBHOOK_RETRY_SCHEDULE') ?? DEFAULT_RETRY_SCHEDULE),
      allowedCidrs: readCidrs(read('WEBHOOK_ALLOWED_CIDRS')),
      allowedPorts: readPorts(read('WEBHOOK_ALLOWED_PORTS')),
      // Eight endpoints that never respond take every slot. A busy endpoint needs its own slots
      // to cover its event rate times the attempt's time from start to result, which on a
      // loaded event loop is several milliseconds even for an instant receiver.
      maxInFlight: readInteger(read('WEBHOOK_MAX_IN_FLIGHT'), 'WEBHOOK_MAX_IN_FLIGHT', 512, 1, 10_000),
      endpointConcurrency: readInteger(
        read('WEBHOOK_ENDPOINT_CONCURRENCY'),
        'WEBHOOK_ENDPOINT_CONCURRENCY',
        64,
        1,
        1_000,
      ),
      leaseMarginMs: readDuration(read('WEBHOOK_LEASE_MARGIN'), 'WEBHOOK_LEASE_MARGIN', '30s', 100, DAY_MS),
      pollIntervalMs: readDuration(read('WEBHOOK_POLL_INTERVAL'), 'WEBHOOK_POLL_INTERVAL', '1s', 10, HOUR_MS),
      retryJitter: readInteger(read('WEBHOOK_RETRY_JITTER'), 'WEBHOOK_RETRY_JITTER', 20, 0, 100) / 100,
      disableAfterMs: readDuration(read('WEBHOOK_DISABLE_AFTER'), 'WEBHOOK_DISABLE_AFTER', '5d', 100, 365 * DAY_MS),
      secretOverlapMs: readDuration(read('WEBHOOK_SECRET_OVERLAP'), 'WEBHOOK_SECRET_OVERLAP', '24h', 0, 30 * DAY_MS),
      recoveryRate: readInteger(read('WEBHOOK_RECOVERY_RATE'), 'WEBHOOK_RECOVERY_RATE', 10, 1, 10_000),
      maxPayloadBytes: readInteger(
        read('EVENT_MAX_PAYLOAD_BYTES'),
        'EVENT_MAX_PAYLOAD_BYTES',
        256 * 1024,
        1_024,
        900 * 1024,
      ),
    },
    retention: {
      maxAgeMs: readDuration(read('RETENTION_PERIOD'), 'RETENTION_PERIOD', '30d', 1_000, 3650 * DAY_MS),
      intervalMs: readDuration(read('RETENTION_INTERVAL'), 'RETENTION_INTERVAL', '1h', 100, DAY_MS),
      batchSize: readInteger(read('RETENTION_BATCH_SIZE'), 'RETENTION_BATCH_SIZE', 500, 1, 10_000),
    },
    logFiles: readLogFiles(read),
    metricsToken: read('METRICS_TOKEN'),
    // Node.js timers fire at once past about 24.8 days, which would leave no grace at all.
    shutdownGraceMs: readDuration(read('SHUTDOWN_GRACE'), 'SHUTDOWN_GRACE', '15s', 0, HOUR_MS),
  };
  return deepFreeze(config);
}

function readInteger(
  text: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new ConfigError(name, `"${text}" is not a whole number from ${min} to ${max}.`);
  }
  return value;
}

function readDuration(
  text: string | undefined,
  name: string,
  fallback: string,
  minMs: number,
  maxMs = Number.POSITIVE_INFINITY,
): number {
  const source = text ?? fallback;
  const ms = parseDuration(source);
  if (ms === undefined || ms < minMs || ms > maxMs) {
    const range = Number.isFinite(maxMs)
      ? `between ${formatDuration(minMs)} and ${formatDuration(maxMs)}`
      : `of at least ${formatDuration(minMs)}`;
    throw new ConfigError(
      name,
      `"${source}" is not a duration ${range}; ` +
        `write a number with a unit (ms, s, m, h or d), for example ${fallback}.`,
    );
  }
  return ms;
}

function readSchedule(text: string): number[] {
  const parts = text.split(',').map((part) => part.trim());
  const delays = parts.map((part) => parseDuration(part));
  const badIndex = delays.findIndex((delay) => delay === undefined || delay > MAX_RETRY_DELAY_MS);
  if (badIndex !== -1) {
    throw new ConfigError(
      'WEBHOOK_RETRY_SCHEDULE',
      `entry ${badIndex + 1} ("${parts[badIndex]}") is not a duration of at most ${formatDuration(MAX_RETRY_DELAY_MS)}; ` +
        `write comma-separated delays with units, for example ${DEFAULT_RETRY_SCHEDULE}.`,
    );
  }
  if (delays.length > 50) {
    throw new ConfigError('WEBHOOK_RETRY_SCHEDULE', `has ${delays.length} entries; list at most 50.`);
  }
  return delays as number[];
}

function readCidrs(text: string | undefined): string[] {
  if (text === undefined) return [];
  return text.split(',').map((part) => {
    const cidr = part.trim();
    try {
      const [address, prefix] = ipaddr.parseCIDR(cidr);
      return `${address.toString()}/${prefix}`;
    } catch {
      throw new ConfigError(
        'WEBHOOK_ALLOWED_CIDRS',
        `"${cidr}" is not a network in CIDR form; write for example 10.1.0.0/16 or fd00:1::/64.`,
      );
    }
  });
}

function readPorts(text: string | undefined): number[] {
  if (text === undefined) return [];
  return text
    .split(',')
    .map((part) => readInteger(part.trim(), 'WEBHOOK_ALLOWED_PORTS', 0, 1, 65_535));
}

const SIZE_FACTORS: Readonly<Record<string, number>> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function readLogFiles(read: (name: string) => string | undefined): LogFilesConfig | undefined {
  const dir = read('LOG_DIR');
  if (dir === undefined) return undefined;
  return {
    dir,
    maxSizeBytes: readSize(read('LOG_FILE_MAX_SIZE'), 'LOG_FILE_MAX_SIZE', '10MB'),
    fileCount: readInteger(read('LOG_FILE_COUNT'), 'LOG_FILE_COUNT', 5, 1, 1_000),
  };
}

/** Reads a byte size such as `10MB`, `512K` or `2048` (bytes); units are powers of 1024. */
function readSize(text: string | undefined, name: string, fallback: string): number {
  const source = text ?? fallback;
  const match = /^(\d+)\s*(?:([kmg])b?|b)?$/i.exec(source);
  let bytes = 0;
  if (match) {
    const unit = match[2]?.toLowerCase();
    const factor = unit === undefined ? 1 : (SIZE_FACTORS[unit] ?? 0);
    bytes = Number(match[1]) * factor;
  }
  if (bytes < 1) {
    throw new ConfigError(
      name,
      `"${source}" is not a size; write bytes or a number with KB, MB or GB, for example ${fallback}.`,
    );
  }
  return bytes;
}

function readLogLevel(text: string | undefined): LogLevel {
  if (text === undefined) return 'info';
  const level = LOG_LEVELS.find((candidate) => candidate === text.toLowerCase());
  if (level === undefined) {
    throw new ConfigError('LOG_LEVEL', `"${text}" is not a level; use one of ${LOG_LEVELS.join(', ')}.`);
  }
  return level;
}

function readRole(text: string | undefined): ServiceRole {
  if (text === undefined) return 'all';
  const role = SERVICE_ROLES.find((candidate) => candidate === text.toLowerCase());
  if (role === undefined) {
    throw new ConfigError('SERVICE_ROLE', `"${text}" is not a role; use one of ${SERVICE_ROLES.join(', ')}.`);
  }
  return role;
}

function readOrigin(text: string | undefined, name: string): string | undefined {
  if (text === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(
      name,
      `"${text}" is not an http or https URL; write for example https://hooks.example.com.`,
    );
  }
  return url.origin;
}

function readAdmin(
  email: string | undefined,
  password: string | undefined,
): Config['admin'] {
  if (email === undefined && (password === undefined || password === '')) return undefined;
  if (email === undefined) {
    throw new ConfigError('ADMIN_EMAIL', 'is missing while ADMIN_PASSWORD is set; set both or neither.');
  }
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) {
    throw new ConfigError('ADMIN_EMAIL', `"${email}" is not an email address.`);
  }
  if (password === undefined || password.length < MIN_ADMIN_PASSWORD_LENGTH) {
    throw new ConfigError(
      'ADMIN_PASSWORD',
      `must be set with ADMIN_EMAIL and be at least ${MIN_ADMIN_PASSWORD_LENGTH} characters long.`,
    );
  }
  return { email: email.toLowerCase(), password };
}

/**
 * Selects the database from DATABASE_URL: `postgres://` or `postgresql://` for PostgreSQL,
 * `sqlite:PATH`, `file:PATH` or a plain path for SQLite.
 */
export function parseDatabaseUrl(text: string | undefined, poolSize = 10): DatabaseConfig {
  if (text === undefined) return { dialect: 'sqlite', file: DEFAULT_DATABASE_FILE };
  if (/^postgres(ql)?:\/\//i.test(text)) {
    if (!URL.canParse(text)) {
      throw new ConfigError(
        'DATABASE_URL',
        'is not a valid PostgreSQL URL; write postgres://USER:PASSWORD@HOST:PORT/DATABASE.',
      );
    }
    return { dialect: 'postgres', url: text, poolSize };
  }

  const file = text.replace(/^(sqlite|file):(\/\/)?/i, '');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file) || file === '') {
    throw new ConfigError(
      'DATABASE_URL',
      `"${text}" is neither a PostgreSQL URL nor a file path; use postgres://… or a path such as ./data/webhooks.db.`,
    );
  }
  return { dialect: 'sqlite', file };
}

/** Names a database for logs and messages: the SQLite path, or the PostgreSQL URL without its password. */
export function describeDatabase(database: DatabaseConfig): string {
  if (database.dialect === 'sqlite') return database.file;
  const url = new URL(database.url);
  if (url.password !== '') url.password = '********';
  return url.toString();
}

function withSynchronous(database: DatabaseConfig, text: string | undefined): DatabaseConfig {
  if (text === undefined || database.dialect !== 'sqlite') return database;
  const synchronous = text.toUpperCase();
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
    throw new ConfigError('SQLITE_SYNCHRONOUS', `"${text}" is not a supported mode; use NORMAL or FULL.`);
  }
  return { ...database, synchronous };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
