import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuthService } from '../src/auth/service.js';
import { LoginThrottle } from '../src/auth/throttle.js';
import { openDatabase } from '../src/db/database.js';
import { submitNewReport } from './helpers/api.js';
import { runTs } from './helpers/process.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, tempDir, type TestService } from './helpers/service.js';

const CLI = 'src/cli.ts';
const PASSWORD = 'operator-password-long';

function cli(database: string, args: string[], input = '') {
  return runTs(CLI, args, { DATABASE_URL: database }, input);
}

describe('command-line tool', () => {
  const database = path.join(tempDir('webhooks-cli-'), 'cli.db');

  it('prints help for every command', async () => {
    const top = await cli(database, ['--help']);
    assert.equal(top.code, 0);
    for (const command of ['migrate', 'create-admin', 'create-token', 'list-failed', 'redeliver']) {
      assert.match(top.stdout, new RegExp(`^  ${command}`, 'm'));
      const help = await cli(database, [command, '--help']);
      assert.equal(help.code, 0, `${command} --help exits 0`);
      assert.match(help.stdout, new RegExp(`^Usage: report-webhooks ${command}`));
    }
  });

  it('rejects a missing SQLite file', async () => {
    const missing = path.join(tempDir('webhooks-cli-'), 'typo', 'cli.db');
    const rejected = await cli(missing, ['list-failed']);
    assert.equal(rejected.code, 1);
    assert.match(rejected.stderr, /Database file not found: .*cli\.db\. Check --database or DATABASE_URL/);
    assert.equal(fs.existsSync(path.dirname(missing)), false, 'the mistyped folder was not created');

    // The database is checked before the password is read, so no password is asked for.
    const admin = await cli(missing, ['create-admin', '--email', 'ops@example.com']);
    assert.equal(admin.code, 1);
    assert.match(admin.stderr, /Database file not found: /);
  });

  it('reports an unopenable database briefly', async () => {
    const folder = tempDir('webhooks-cli-');
    const notDatabase = path.join(folder, 'notes.txt');
    fs.writeFileSync(notDatabase, 'not a database\n'.repeat(100));
    for (const target of [folder, notDatabase]) {
      for (const command of ['list-failed', 'migrate']) {
        const rejected = await cli(target, [command]);
        assert.equal(rejected.code, 1, `${command} on ${target}`);
        assert.match(rejected.stderr, /^Error: Opening the database .* failed: .*\. Check --database or DATABASE_URL\.$/m);
        assert.doesNotMatch(rejected.stderr, /\n\s+at /, 'no stack trace');
      }
    }
  });

  it('rejects an empty --database', async () => {
    const rejected = await cli(database, ['--database', '', 'list-failed']);
    assert.equal(rejected.code, 1);
    assert.match(rejected.stderr, /--database is empty/);
  });

  it('requires migrations before other commands', async () => {
    // An empty file is an empty SQLite database.
    fs.writeFileSync(database, '');
    const refused = await cli(database, ['list-failed']);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /pending migration\(s\) \(001_initial.*\); run `report-webhooks migrate` first/,
    );

    const migrated = await cli(database, ['migrate']);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stderr, /^\[1\/\d+\] applied 001_initial$/m);

    const again = await cli(database, ['migrate']);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /up to date/);
  });

  it('creates an Admin and a token that authenticates', async () => {
    const created = await cli(
      database,
      ['create-admin', '--email', 'Ops@Example.com'],
      `${PASSWORD}\n`,
    );
    assert.equal(created.code, 0, created.stderr);
    const user = JSON.parse(created.stdout);
    assert.equal(user.email, 'ops@example.com');
    assert.equal(user.role, 'Admin');

    const tooShort = await cli(
      database,
      ['create-admin', '--email', 'short@example.com'],
      'short\n',
    );
    assert.equal(tooShort.code, 1);
    assert.match(tooShort.stderr, /^Error: password: must be/m);
    const duplicate = await cli(
      database,
      ['create-admin', '--email', 'ops@example.com'],
      `${PASSWORD}\n`,
    );
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /already exists/);

    const issued = await cli(database, ['create-token', '--email', 'ops@example.com'], PASSWORD);
    assert.equal(issued.code, 0, issued.stderr);
    const token = issued.stdout.trim();
    assert.doesNotMatch(issued.stderr, new RegExp(token));
    const db = openDatabase({ dialect: 'sqlite', file: database });
    try {
      const throttle = new LoginThrottle(db, { maxFailures: 5, lockoutMs: 60_000 });
      const principal = await new AuthService(db, 60_000, throttle).authenticate(token);
      assert.equal(principal?.id, user.id);
    } finally {
      await db.destroy();
    }

    const wrong = await cli(
      database,
      ['create-token', '--email', 'ops@example.com'],
      'not-the-password',
    );
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /email or password is incorrect/);
  });

  it('rejects redeliver without ids or --all-failed', async () => {
    const result = await cli(database, ['redeliver']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Name delivery ids or pass --all-failed/);
  });
});

describe('command-line tool on a running service', () => {
  let svc: TestService;
  let receiver: Receiver;
  let database: string;

  before(async () => {
    svc = await startService();
    receiver = await startReceiver(() => ({ status: 500 }));
    database = svc.databaseUrl;
  });
  after(async () => {
    await receiver.close();
    await svc.close();
  });

  it('lists failed deliveries and redelivers them', async () => {
    const webhook = await svc.admin.post('/api/v1/webhooks', {
      name: 'Failing',
      url: receiver.url,
      event_types: ['submission'],
    });
    assert.equal((await submitNewReport(svc.admin, 'CLI')).status, 200);
    await receiver.waitFor(3);
    const path = `/api/v1/webhooks/${webhook.body.id}/deliveries?status=failed`;
    const failed = await eventually(async () => {
      const listed = await svc.admin.get(path);
      return listed.body.data.length === 1 ? listed.body.data[0] : undefined;
    });

    const listed = await cli(database, ['list-failed', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.map((line) => line.id),
      [failed.id],
    );
    assert.equal(lines[0].attempt_count, 3);
    assert.match(listed.stderr, /^1 failed deliveries\.$/m);

    receiver.setBehaviour(() => ({ status: 204 }));
    const redelivered = await cli(database, ['redeliver', '--all-failed']);
    assert.equal(redelivered.code, 0, redelivered.stderr);
    assert.match(redelivered.stderr, new RegExp(`^\\[1/1\\] ${failed.id} queued$`, 'm'));

    await receiver.waitFor(4);
    const delivered = await eventually(async () => {
      const detail = await svc.admin.get(`/api/v1/deliveries/${failed.id}`);
      return detail.body.status === 'succeeded' ? detail.body : undefined;
    });
    assert.equal(delivered.attempts.at(-1).trigger, 'manual');

    const unknown = await cli(database, ['redeliver', 'dlv_unknown']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /\[1\/1\] dlv_unknown skipped: .*not found/);
  });
});
