import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { parseDuration } from '../src/config/duration.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const BAD_VALUES: ReadonlyArray<[string, string]> = [
  ['PORT', '70000'],
  ['PORT', 'http'],
  ['WEBHOOK_TIMEOUT', '10'],
  ['WEBHOOK_TIMEOUT', 'soon'],
  ['WEBHOOK_RETRY_SCHEDULE', '0,5s,later'],
  ['WEBHOOK_ALLOWED_CIDRS', '10.0.0.0/33'],
  ['WEBHOOK_ALLOWED_CIDRS', 'localhost'],
  ['WEBHOOK_ALLOWED_PORTS', '443,0'],
  ['REPORT_APPROVAL_STAGES', '0'],
  ['LOG_LEVEL', 'loud'],
  ['DATABASE_URL', 'mysql://127.0.0.1/db'],
  ['TOKEN_TTL', '1s'],
  ['API_CONCURRENCY', '0'],
  ['API_QUEUE_LIMIT', 'many'],
  ['SHUTDOWN_GRACE', '25d'],
  ['WEBHOOK_TIMEOUT', '25d'],
  ['WEBHOOK_POLL_INTERVAL', '2h'],
  ['RETENTION_INTERVAL', '25d'],
  ['TOKEN_TTL', '100000000d'],
  ['WEBHOOK_RETRY_SCHEDULE', '0,5s,31d'],
];

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    assert.equal(config.port, 3000);
    assert.equal(config.host, '127.0.0.1');
    assert.deepEqual(config.database, { dialect: 'sqlite', file: path.join('data', 'webhooks.db') });
    assert.equal(config.admin, undefined);
    assert.equal(config.webhook.timeoutMs, 10_000);
    assert.deepEqual(config.webhook.retryScheduleMs, [
      0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
    assert.deepEqual(config.webhook.allowedCidrs, []);
    assert.deepEqual(config.api, { concurrency: 32, queueLimit: 1_000 });
    assert.equal(config.webhook.maxInFlight, 512);
    assert.equal(config.webhook.endpointConcurrency, 64);
    assert.ok(Object.isFrozen(config.webhook));
  });

  it('names the variable of each invalid value', () => {
    for (const [name, value] of BAD_VALUES) {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.variable === name &&
          error.message.includes(value.split(',').at(-1) ?? value),
        `${name}=${value}`,
      );
    }
  });

  it('accepts durations at their ceiling', () => {
    const config = loadConfig({
      WEBHOOK_TIMEOUT: '1h',
      WEBHOOK_POLL_INTERVAL: '60m',
      RETENTION_INTERVAL: '24h',
      WEBHOOK_RETRY_SCHEDULE: '0,30d',
    });
    assert.equal(config.webhook.timeoutMs, 3_600_000);
    assert.equal(config.webhook.pollIntervalMs, 3_600_000);
    assert.equal(config.retention.intervalMs, 86_400_000);
    assert.deepEqual(config.webhook.retryScheduleMs, [0, 2_592_000_000]);
  });

  it('requires a long admin password with the admin email', () => {
    assert.throws(() => loadConfig({ ADMIN_EMAIL: 'a@example.test' }), /ADMIN_PASSWORD/);
    assert.throws(() => loadConfig({ ADMIN_EMAIL: 'a@example.test', ADMIN_PASSWORD: 'short' }), /ADMIN_PASSWORD/);
    assert.throws(() => loadConfig({ ADMIN_PASSWORD: 'long-enough-password' }), /ADMIN_EMAIL/);
    const config = loadConfig({ ADMIN_EMAIL: 'A@Example.test', ADMIN_PASSWORD: 'long-enough-password' });
    assert.equal(config.admin?.email, 'a@example.test');
  });

  it('reads file paths and sqlite URLs as SQLite', () => {
    assert.deepEqual(loadConfig({ DATABASE_URL: '/tmp/x.db' }).database, { dialect: 'sqlite', file: '/tmp/x.db' });
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:./y.db' }).database, { dialect: 'sqlite', file: './y.db' });
  });

  it('parses durations with units only', () => {
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('5s'), 5_000);
    assert.equal(parseDuration('1.5m'), 90_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('5d'), 432_000_000);
    assert.equal(parseDuration('5'), undefined);
    assert.equal(parseDuration('-5s'), undefined);
    assert.equal(parseDuration('5 weeks'), undefined);
  });

  it('stops the start with the message when a value is invalid', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'main.ts')], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', WEBHOOK_RETRY_SCHEDULE: '0,5x' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(result.status, 78);
    assert.match(result.stderr, /WEBHOOK_RETRY_SCHEDULE: entry 2 \("5x"\) is not a duration/);
  });
});
